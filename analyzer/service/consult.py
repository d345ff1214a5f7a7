"""Consultation and sharing use cases (issue 20): the findings on one session's photo, the
photo's annotations, marketing consent, before/after pictures for the clinic's own use and the
practitioner's report.

Findings are rebuilt from the stored analysis with the same inputs the stored numbers had
(the photo, or the follow-up warped with its stored transform, the same skin mask, the
photo's stored calibration, the baseline face's scale), by the measures themselves: the
counts shown are the stored counts, and :attr:`PhotoFindings.stored` says so per key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from analyzer import ANALYZER_VERSION
from analyzer.catalog import DEFAULT_REGION
from analyzer.consent import require_consent, require_marketing_consent
from analyzer.errors import UsageError
from analyzer.stored import ALL_REGIONS, date_text, ordered_sessions, simulated_note

if TYPE_CHECKING:
    from analyzer.store import Store


# ---------------------------------------------------------------------------------------------
# Findings on one photo
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PhotoFindings:
    """What the measures counted on one photo's region, and its redness and pigment maps."""

    photo_id: int
    region: str
    side: str  # "baseline" (the photo measured on its own) or "followup" (aligned to the baseline)
    findings: dict = field(repr=False)  # kind -> analyzer.concerns.findings.Finding
    maps: dict = field(repr=False)  # "haemoglobin" / "melanin" -> IndexMap (cropped to the region)
    map_background: np.ndarray | None = field(repr=False)  # the region's box of the photo (calibrated)
    stored: dict[str, float | None] = field(default_factory=dict)  # "group.key" -> the stored value
    series_concerns: tuple[str, ...] = ()
    simulated: str | None = None  # the session's simulated change, if any

    @property
    def exact(self) -> bool:
        """True when the counts are the stored numbers to the pixel (a photo measured on its own).
        A follow-up is re-warped with its stored (rounded) transform: a pixel at an edge may fall
        the other way, so its counts are a recount, shown beside the stored numbers."""
        return self.side == "baseline"

    def stored_value(self, key: str) -> float | None:
        return self.stored.get(key)


def _flat(side: Mapping[str, Any] | None) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for g, d in (side or {}).items():
        if isinstance(d, Mapping) and g not in ("meta", "calibration", "quality", "scale", "reference"):
            for k, v in d.items():
                if isinstance(v, int | float) and not isinstance(v, bool):
                    out[f"{g}.{k}"] = float(v) if math.isfinite(float(v)) else None
                elif v is None:
                    out[f"{g}.{k}"] = None
    return out


def photo_findings(store: Store, photo_id: int, *, region: str = DEFAULT_REGION,
                   analyzer_version: str = ANALYZER_VERSION) -> PhotoFindings:
    """The findings of a stored photo's region (raises ``LookupError`` when not analysed)."""
    from analyzer.align import warp_to_baseline
    from analyzer.calibrate import apply_calibration
    from analyzer.concerns import Scale
    from analyzer.concerns.findings import concern_findings, index_maps
    from analyzer.face import detect_face
    from analyzer.regions import mask_bbox, polygon_mask, skin_mask
    from analyzer.stored import calibration_of

    a = store.get_analysis(photo_id, analyzer_version=analyzer_version, region=ALL_REGIONS)
    if a is None:
        raise LookupError(f"photo {photo_id} has not been analysed yet")
    res = a.result or {}
    rr = (res.get("regions") or {}).get(region)
    if not rr:
        raise LookupError(f"the region {region!r} was not measured on this photo")
    bpid = a.baseline_photo_id or photo_id
    base = store.load_photo(bpid)
    shape = base.rgb.shape[:2]
    poly = rr.get("polygon")
    reg = polygon_mask(np.asarray(poly, float), shape) if poly is not None else np.ones(shape, bool)
    face = detect_face(base.rgb)
    scale = Scale.from_face(face) if face is not None else None
    if bpid == photo_id or res.get("is_baseline"):
        side = "baseline"
        rgb_raw = base.rgb
        mask = reg & skin_mask(base.rgb, region=reg)
    else:
        side = "followup"
        if not (res.get("alignment") or {}).get("ok") or a.transform is None:
            raise LookupError("this photo could not be aligned to the baseline: there is nothing measured to show")
        fu = store.load_photo(photo_id)
        al = SimpleNamespace(ok=True, matrix=np.asarray(a.transform, float), reason=None)
        rgb_raw, valid = warp_to_baseline(fu.rgb, al, shape)
        mask = reg & skin_mask(base.rgb, region=reg) & skin_mask(rgb_raw, region=reg & valid) & valid
    rgb = apply_calibration(rgb_raw, calibration_of(rr.get(side)))
    sess = store.get_session(store.get_photo(photo_id).session_id)
    series = store.get_series(sess.series_id)
    found = concern_findings(rgb, mask, scale=scale, face=face, region=region)
    r0, r1, c0, c1 = mask_bbox(reg)
    maps = {k: m for k, m in index_maps(rgb[r0:r1, c0:c1], mask[r0:r1, c0:c1]).items()}
    return PhotoFindings(photo_id, region, side, found, maps, np.ascontiguousarray(rgb[r0:r1, c0:c1]),
                         _flat(rr.get(side)), tuple(series.concerns or ()), simulated_note(sess))


# ---------------------------------------------------------------------------------------------
# Annotations
# ---------------------------------------------------------------------------------------------
def add_annotation(store: Store, photo_id: int, *, kind: str, points, text: str = "", by: str):
    """Store a mark on a photo (arrow, text, outline; points in its upright pixels). The
    analysis never reads it."""
    return store.add_annotation(photo_id, kind=kind, points=points, text=text, by=by)


def photo_annotations(store: Store, photo_id: int) -> list:
    return store.list_annotations(photo_id)


# ---------------------------------------------------------------------------------------------
# Marketing consent
# ---------------------------------------------------------------------------------------------
def give_marketing_consent(store: Store, patient_id: int, *, by, note: str = ""):
    """Record the patient's marketing consent (dated now) and audit it."""
    from analyzer.auth import record_audit

    c = store.give_marketing_consent(patient_id, by=_actor(by), note=note)
    record_audit(store, by, "consent.marketing.give", patient_id, detail=f"consent {c.id}")
    return c


def withdraw_marketing_consent(store: Store, patient_id: int, *, by):
    """Date the withdrawal (no later export will include the patient) and audit it."""
    from analyzer.auth import record_audit

    c = store.withdraw_marketing_consent(patient_id, by=_actor(by))
    if c is not None:
        record_audit(store, by, "consent.marketing.withdraw", patient_id, detail=f"consent {c.id}")
    return c


def _actor(by) -> str:
    return str(getattr(by, "actor", None) or by or "unknown")[:100]


# ---------------------------------------------------------------------------------------------
# Before/after for the clinic's own use
# ---------------------------------------------------------------------------------------------
EXPORT_KINDS = {"side_by_side": "png", "slider": "png", "animation": "gif"}


@dataclass(frozen=True)
class ExportFile:
    """A before/after picture ready to download."""

    data: bytes = field(repr=False)
    mime: str
    filename: str
    kind: str
    dates: tuple[str, ...]
    deidentify: str
    simulated: bool


def _aligned_series(store: Store, series_id: int, view: str, analyzer_version: str):
    """[(session, photo record, rgb in the baseline frame)] for the view: the baseline photo and
    every follow-up whose alignment was accepted, in session order."""
    from analyzer.align import warp_to_baseline

    sessions = ordered_sessions(store, series_id)
    out = []
    base_rgb = None
    for s in sessions:
        ph = next((p for p in store.list_photos(s.id) if p.view == view), None)
        if ph is None:
            continue
        if base_rgb is None:
            base_rgb = store.load_photo(ph.id).rgb
            out.append((s, ph, base_rgb))
            continue
        a = store.get_analysis(ph.id, analyzer_version=analyzer_version, region=ALL_REGIONS)
        if a is None or a.transform is None or not ((a.result or {}).get("alignment") or {}).get("ok"):
            continue
        al = SimpleNamespace(ok=True, matrix=np.asarray(a.transform, float), reason=None)
        warped, _ = warp_to_baseline(store.load_photo(ph.id).rgb, al, base_rgb.shape[:2])
        out.append((s, ph, warped))
    return out


def before_after_export(store: Store, patient_id: int, series_id: int, *, by, kind: str = "side_by_side",
                        view: str = "front", region: str = DEFAULT_REGION, deidentify: str = "none",
                        max_side: int = 1200, analyzer_version: str = ANALYZER_VERSION,
                        data_dir=None) -> ExportFile:
    """A before/after picture of the series for the clinic's own use: the baseline and the latest
    aligned photo (or every aligned session, as a GIF), cropped to the region, optionally
    de-identified, with the clinic's name or logo and the dates.

    Refused with one plain line unless the patient's marketing consent is in force. Every
    export is written to the audit log (who, which patient, what was made; no name).
    """
    from analyzer import showcase as sc
    from analyzer.auth import record_audit
    from analyzer.config import clinic_branding
    from analyzer.face import detect_face

    if kind not in EXPORT_KINDS:
        raise UsageError(f"export kind {kind!r}; allowed: {', '.join(EXPORT_KINDS)}")
    if deidentify not in sc.DEIDENTIFY:
        raise UsageError(f"de-identification {deidentify!r}; allowed: {', '.join(sc.DEIDENTIFY)}")
    series = store.get_series(series_id)
    if series.patient_id != patient_id:
        raise UsageError("that series belongs to another patient")
    require_marketing_consent(store, patient_id)
    items = _aligned_series(store, series_id, view, analyzer_version)
    if len(items) < 2:
        raise UsageError(f"the {view} view has no follow-up photo aligned to the baseline yet: nothing to compare")
    if kind != "animation":
        items = [items[0], items[-1]]
    base_rgb = items[0][2]
    a0 = store.get_analysis(items[-1][1].id, analyzer_version=analyzer_version, region=ALL_REGIONS)
    rr = ((a0.result or {}).get("regions") or {}).get(region) if a0 else None
    if not rr:
        raise UsageError(f"the region {region!r} was not measured on these photos")
    poly = np.asarray(rr["polygon"], float) if rr.get("polygon") is not None else None
    face = detect_face(base_rgb) if deidentify != "none" else None
    box = sc.deidentify_box(sc.region_box(poly, base_rgb.shape[:2]), face, deidentify)
    r0, r1, c0, c1 = box
    crops = []
    for _, _, rgb in items:
        im = sc.mask_eyes(rgb, face) if deidentify == "mask_eyes" else rgb
        crops.append(sc.fit(np.ascontiguousarray(im[r0:r1, c0:c1]), max_side))
    brand = clinic_branding(data_dir if data_dir is not None else store.data_dir)
    dates = tuple(date_text(s.date) for s, _, _ in items)
    sims = [bool(simulated_note(s)) for s, _, _ in items]
    labels = [("Before " if i == 0 else "After ") + d for i, d in enumerate(dates)]
    kw = dict(clinic_name=brand.name, logo=brand.logo)
    if kind == "side_by_side":
        data = sc.encode_png(sc.side_by_side(crops[0], crops[-1], before_label=labels[0], after_label=labels[-1],
                                             simulated=any(sims), **kw))
    elif kind == "slider":
        data = sc.encode_png(sc.split_view(crops[0], crops[-1], before_label=labels[0], after_label=labels[-1],
                                           simulated=any(sims), **kw))
    else:
        labels = [f"{'Before' if i == 0 else 'Session'} {d}" for i, d in enumerate(dates)]
        data = sc.encode_gif(sc.frames(crops, labels, simulated=sims, **kw))
    ext = EXPORT_KINDS[kind]
    patient = store.get_patient(patient_id)
    record_audit(store, by, "export.before_after", patient_id,
                 detail=f"series {series_id}, {kind}, view {view}, region {region}, de-identified: {deidentify}, "
                        f"sessions {', '.join(dates)}")
    return ExportFile(data, "image/gif" if ext == "gif" else "image/png",
                      f"{patient.code}-before-after-{kind}.{ext}", kind, dates, deidentify, any(sims))


# ---------------------------------------------------------------------------------------------
# The practitioner's report
# ---------------------------------------------------------------------------------------------
def practitioner_report_pdf(store: Store, patient_id: int, series_id: int, *, by,
                            analyzer_version: str = ANALYZER_VERSION) -> bytes:
    """The patient's PDF plus the clinician-only details (treatment parameters per session,
    alignment and calibration details, caveats, screening flags), with the clinic's branding.
    Needs the patient's report consent; audited."""
    from analyzer.auth import record_audit
    from analyzer.report import practitioner_report_from_store

    series = store.get_series(series_id)
    if series.patient_id != patient_id:
        raise UsageError("that series belongs to another patient")
    require_consent(store, patient_id, "reports")
    pdf = practitioner_report_from_store(store, patient_id, series_id, analyzer_version=analyzer_version)
    record_audit(store, by, "export.report_practitioner", patient_id, detail=f"series {series_id}")
    return pdf
