"""The stored analysis and the series facts every layer reads the same way.

- The analysis record of a photo (one per photo and analyzer version, region key
  :data:`ALL_REGIONS`) holds ``Comparison.to_dict()`` (or the baseline measured on its own)
  with ``regions``, ``failed_regions``, ``reference_patches``, ``simulated``...:
  :func:`measurement`, :func:`metric_keys`, :func:`caveats_from_result`,
  :func:`stored_regions` and :func:`stored_patches` read it.
- Series facts: the regions a series is measured on (:func:`series_rois`), its baseline
  session (:func:`baseline_session`), a session's simulated change (:data:`SIMULATED_TAG`,
  :func:`simulated_note`) and its treatment line.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from analyzer.catalog import DEFAULT_REGION, METRIC_GROUPS
from analyzer.errors import UsageError

if TYPE_CHECKING:
    from analyzer.store import Store

SIMULATED_TAG = "[simulated]"

#: The store's region key for a photo's analysis: one record per photo holds every region.
ALL_REGIONS = ""


def region_to_roi(spec: Mapping[str, Any]):
    """A stored region dict → ``(name, ROI | None)``.

    ``{"kind": "named", "name": "left_cheek"}``, ``{"kind": "rect", "name": .., "x", "y", "w", "h"}``,
    ``{"kind": "polygon", "name": .., "points": [[x, y], ...]}``, ``{"kind": "face"}`` (the whole
    face area): every kind the store accepts (analyzer.store.validate.REGION_KINDS). Anything
    else raises :class:`UsageError` with one line.
    """
    from analyzer.regions import FACE_REGIONS, NamedROI, PolygonROI, RectROI

    kind = spec.get("kind", "named")
    if kind == "face":
        return spec.get("name") or DEFAULT_REGION, None
    if kind == "named":
        name = str(spec.get("name", ""))
        if name == DEFAULT_REGION:
            return name, None
        if name not in FACE_REGIONS:
            raise UsageError(f"unknown face region {name!r}; allowed: " + ", ".join(FACE_REGIONS))
        return name, NamedROI(name)
    if kind == "rect":
        x, y, w, h = (float(spec[k]) for k in ("x", "y", "w", "h"))
        if w <= 0 or h <= 0 or x < 0 or y < 0:
            raise UsageError("a rectangle needs x, y ≥ 0 and a width and height above 0")
        name = str(spec.get("name") or f"rect {x:g},{y:g} {w:g}x{h:g}")
        return name, RectROI(x, y, w, h)
    if kind == "polygon":
        try:
            points = tuple((float(x), float(y)) for x, y in spec.get("points") or ())
        except (TypeError, ValueError):
            raise UsageError("a polygon needs points [[x, y], ...]") from None
        if len(points) < 3:
            raise UsageError("a polygon needs at least 3 points [[x, y], ...]")
        if any(x < 0 or y < 0 for x, y in points):
            raise UsageError("a polygon's points need x, y ≥ 0")
        return str(spec.get("name") or "polygon"), PolygonROI(points)
    raise UsageError(f"unknown region kind {kind!r}; allowed: face, named, rect, polygon")


def series_rois(series) -> dict[str, Any]:
    """The regions a series is measured on, name → ROI (``None`` = whole face). Always has ``face``.
    A stored region that can't be measured is not here: :func:`unusable_regions` reports it."""
    rois: dict[str, Any] = {DEFAULT_REGION: None}
    for spec in series.regions or []:
        try:
            name, roi = region_to_roi(spec)
        except (UsageError, KeyError, TypeError, ValueError):
            continue
        rois[name] = roi
    return rois


def unusable_regions(series) -> dict[str, str]:
    """The series' stored regions that can't be measured, name → one-line reason (an unknown face
    region name, a malformed shape). They are reported with the analysis, never skipped silently."""
    out: dict[str, str] = {}
    for spec in series.regions or []:
        try:
            region_to_roi(spec)
        except (UsageError, KeyError, TypeError, ValueError) as exc:
            out[str(spec.get("name") or spec.get("kind") or "region")] = str(exc) or type(exc).__name__
    return out


def region_to_roi_name(spec: Mapping[str, Any]) -> str:
    try:
        return region_to_roi(spec)[0]
    except (UsageError, KeyError, TypeError, ValueError):
        return str(spec.get("name", ""))


def simulated_note(session) -> str | None:
    """The simulated change recorded on a session (demo data), or None for real photos."""
    notes = session.notes or ""
    i = notes.find(SIMULATED_TAG)
    if i < 0:
        return None
    return notes[i + len(SIMULATED_TAG):].strip(" :\n") or "simulated change"


def treatment_text(session) -> str:
    """One line with the session's treatment parameters (empty for a baseline visit with none)."""
    parts = []
    if session.device:
        parts.append(session.device)
    if session.needle_depth_mm is not None:
        parts.append(f"{session.needle_depth_mm:g} mm")
    if session.passes is not None:
        parts.append(f"{session.passes} passes")
    if session.topical:
        parts.append(session.topical)
    if session.practitioner:
        parts.append(f"by {session.practitioner}")
    return ", ".join(parts)


def session_label(session, index: int | None = None, *, baseline_id: int | None = None) -> str:
    """``Session 2 · 2026-02-01 · treatment`` (+ ``baseline`` / ``simulated``)."""
    bits = [f"Session {index}" if index is not None else "Session", session.date.isoformat(), session.kind]
    if baseline_id is not None and session.id == baseline_id:
        bits.append("baseline")
    if simulated_note(session):
        bits.append("simulated")
    return " · ".join(bits)


def baseline_session(store: Store, series_id: int):
    """The series' baseline session: the one marked, else the earliest; None when there is none."""
    b = store.baseline_session(series_id)
    if b is not None:
        return b
    sessions = store.list_sessions(series_id)
    return min(sessions, key=lambda s: (s.date, s.id)) if sessions else None


Remedy = Literal["retake", "mark_reference", "upload_baseline", "check_patient", "none"]


@dataclass(frozen=True)
class Caveat:
    """Something that makes a photo's numbers less trustworthy, in plain words."""

    kind: str  # alignment, blur, highlights, lighting, calibration, face, baseline, other
    message: str
    remedy: Remedy = "retake"

    @property
    def remedy_text(self) -> str:
        return {
            "retake": "Retake the photo: same pose, distance and light as the baseline.",
            "mark_reference": "Retake with the colour chart in frame, or mark a neutral reference patch "
                              "(grey card, white headband) on the photo.",
            "upload_baseline": "Upload a photo of this view to the baseline session.",
            "check_patient": "This looks like another person: check the patient. If the photo belongs to "
                             "someone else, delete it here and upload it to the right patient.",
            "none": "",
        }[self.remedy]


def _classify(msg: str) -> tuple[str, Remedy]:
    m = msg.lower()
    if "chart" in m or "calibrat" in m or "reference patch" in m:
        return "calibration", "mark_reference"
    if "blur" in m or "sharp" in m or "focus" in m:
        return "blur", "retake"
    if "underexpos" in m or "shadow" in m:
        return "shadows", "retake"
    if "clip" in m or "highlight" in m or "overexpos" in m or "saturat" in m:
        return "highlights", "retake"
    if "light" in m or "exposure" in m or "white balance" in m or "illumin" in m:
        return "lighting", "retake"
    if "face" in m:
        return "face", "retake"
    return "other", "retake"


def caveats_from_result(result: Mapping[str, Any] | None) -> list[Caveat]:
    """The plain-words caveats of one stored analysis result (the follow-up side)."""
    if not result:
        return []
    out: list[Caveat] = []
    al = result.get("alignment") or {}
    if al and al.get("ok") is False:
        reason = al.get("reason") or result.get("reason") or "the photos could not be matched"
        if "different person" in str(reason).lower():  # align.py's identity check
            out.append(Caveat("identity", "This looks like another person than in the baseline photo. "
                              "This photo is left out of the charts.", "check_patient"))
        else:
            out.append(Caveat("alignment", f"Alignment refused: {reason}. This photo is left out of the charts.",
                              "retake"))
    side = result.get("followup") or result.get("baseline") or {}
    q = side.get("quality") or {}
    for w in q.get("warnings") or []:
        kind, remedy = _classify(str(w))
        out.append(Caveat(kind, str(w)[:1].upper() + str(w)[1:], remedy))
    if q.get("lighting_differs") and not any(c.kind == "lighting" for c in out):
        out.append(Caveat("lighting", "The lighting differs from the baseline photo.", "retake"))
    cal = side.get("calibration") or {}
    if isinstance(cal, Mapping) and cal and not any(c.kind == "calibration" for c in out):
        if calibration_of(side).method == "none":
            out.append(Caveat("calibration",
                              "No colour chart found: colours are compared without calibration.",
                              "mark_reference"))
    seen, uniq = set(), []
    for c in out:
        if c.message not in seen:
            seen.add(c.message)
            uniq.append(c)
    return uniq


def stored_regions(a) -> set[str]:
    if a is None:
        return set()
    res = a.result or {}
    return set((res.get("regions") or {}).keys()) | set((res.get("failed_regions") or {}).keys())


def stored_patches(stored) -> tuple[dict | None, dict | None]:
    """The reference patches a stored analysis was computed with (None, None before they existed)."""
    rp = (stored.result or {}).get("reference_patches") or {}
    return rp.get("baseline"), rp.get("followup")


def measurement(side: Mapping[str, Any] | None, key: str) -> tuple[float | None, str, str | None]:
    """(value or None, unit, reason) of ``group.name`` in a metrics dict.

    Accepts both shapes: ``{"redness": {"a_star_mean": 12.3}, "meta": {"redness.a_star_mean":
    {"unit", "reason"}}}`` and ``{"redness": {"a_star_mean": {"value", "unit", "reason"}}}``.
    """
    if not side:
        return None, "", "not measured"
    group, name = key.split(".", 1)
    g = side.get(group)
    if not isinstance(g, Mapping) or name not in g:
        return None, "", "not measured"
    m = g.get(name)
    meta = (side.get("meta") or {}).get(key) or {}
    unit = meta.get("unit") or ""
    reason = meta.get("reason")
    if isinstance(m, Mapping):
        v = m.get("value")
        unit = m.get("unit") or unit
        reason = m.get("reason") or reason
    else:
        v = m
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        return None, unit, reason or "could not be computed"
    return float(v), unit, None


def metric_keys(side: Mapping[str, Any] | None) -> list[str]:
    """``group.key`` of every metric in a stored side: the general groups, then the concern groups
    (analyzer.concerns.CONCERNS; the ``redness`` concern's keys sit in the ``redness`` group)."""
    from analyzer.concerns import CONCERNS

    keys = []
    for group in dict.fromkeys((*METRIC_GROUPS, *CONCERNS)):
        g = (side or {}).get(group)
        if isinstance(g, Mapping):
            keys.extend(f"{group}.{k}" for k in g)
    return keys


def num(x: Any) -> float | None:
    """A finite float, or None (NaN, inf, None, non-numbers)."""
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def date_text(d: Any) -> str:
    if d is None:
        return ""
    if hasattr(d, "isoformat"):
        return d.isoformat()[:10] if not isinstance(d, dt.datetime) else d.date().isoformat()
    return str(d)


def ordered_sessions(store: Store, series_id) -> list:
    """The series' sessions, baseline first (:func:`baseline_session`: the one marked, else the
    earliest), then by date."""
    sessions = sorted(store.list_sessions(series_id), key=lambda s: (date_text(s.date), s.id))
    base = baseline_session(store, series_id)
    if base is not None:
        sessions = [s for s in sessions if s.id == base.id] + [s for s in sessions if s.id != base.id]
    return sessions


def calibration_of(side: Mapping[str, Any] | None):
    """The :class:`analyzer.calibrate.Calibration` a stored metrics side was measured with, read
    by the calibration's own reader (``Calibration.from_dict``); ``none`` when there is none."""
    from analyzer.calibrate import Calibration

    cal = (side or {}).get("calibration")
    return Calibration.from_dict(cal if isinstance(cal, Mapping) else None)


def change_of(change: Mapping[str, Any] | None, group: str, key: str) -> dict:
    """``change, percent, noise_band`` of one metric in a stored ``change`` dict, as
    ``Comparison.to_dict()`` writes it: ``{"group": {"key": {"delta", "percent", "noise_band"}}}``
    (and the same entries flat under ``"group.key"``), with the whole ``entry`` (the verdict
    reads it). Nones when the metric has no entry."""
    entry = None
    if isinstance(change, Mapping):
        g = change.get(group)
        entry = g.get(key) if isinstance(g, Mapping) else None
        if entry is None:
            entry = change.get(f"{group}.{key}")
    if not isinstance(entry, Mapping):
        return {"change": None, "percent": None, "noise_band": None, "entry": None}
    return {"change": num(entry.get("delta")), "percent": num(entry.get("percent")),
            "noise_band": num(entry.get("noise_band")), "entry": dict(entry)}


@dataclass(frozen=True)
class MetricCell:
    """One measure of one region of one photo, read from a stored analysis: the numbers the
    progress screen, the CSV and the PDF show (:mod:`analyzer.rows` and :mod:`analyzer.export`
    both build their rows from it, so they can't disagree).

    ``value`` is None (never 0) when it could not be measured, and ``reason`` says why.
    ``change`` and ``percent`` are the follow-up minus the baseline over the same pixels (None
    on the baseline itself); ``within_noise`` is None when the change can't be told apart from
    re-photographing noise, and ``verdict_reason`` then says why in plain words.
    """

    key: str
    value: float | None
    unit: str
    method: str
    reason: str | None
    baseline_value: float | None
    change: float | None
    percent: float | None
    noise_band: float | None
    within_noise: bool | None
    verdict_reason: str | None
    noise_band_basis: str | None


def _method_of(side: Mapping[str, Any] | None, key: str) -> str:
    if not side:
        return ""
    group, name = key.split(".", 1)
    m = (side.get(group) or {}).get(name) if isinstance(side.get(group), Mapping) else None
    meta = (side.get("meta") or {}).get(key) or {}
    return str((m.get("method") if isinstance(m, Mapping) else None) or meta.get("method") or "")


def metric_cell(key: str, baseline: Mapping[str, Any] | None, measured: Mapping[str, Any] | None,
                change: Mapping[str, Any] | None, *, is_baseline: bool,
                missing_reason: str | None = None) -> MetricCell:
    """The :class:`MetricCell` of ``key`` (``group.name``) in one region's stored part.

    Parameters
    ----------
    baseline, measured : dict or None
        The region's baseline side and the measured photo's side (the baseline side again for
        the baseline photo). ``measured`` None means the photo could not be measured there.
    change : dict or None
        The region's stored ``change`` (``Comparison.to_dict()``): its entry gives the change,
        the noise band it was judged against and its verdict. Measures stored without an entry
        (the concern measures) take the follow-up minus the baseline and the catalogue's band,
        and are judged by the same rules (:func:`analyzer.verdict.stored_verdict`).
    missing_reason : str, optional
        Why the measured side is unusable (a refused alignment): the value is then None with it.
    """
    from analyzer.catalog import noise_band_basis, noise_band_of
    from analyzer.metric_defs import PERCENT_UNDEFINED_KEYS
    from analyzer.verdict import stored_verdict

    bv, bunit, _ = measurement(baseline, key)
    if missing_reason is not None or not measured:
        v, unit, reason = None, bunit, missing_reason or "not measured"
    else:
        v, unit, reason = measurement(measured, key)
        unit = unit or bunit
    method = _method_of(measured, key) or _method_of(baseline, key)
    group, name = key.split(".", 1)
    ch = change_of(None if is_baseline else change, group, name)
    band = ch["noise_band"] if ch["noise_band"] is not None else noise_band_of(key)
    entry = ch["entry"]
    basis = (entry or {}).get("noise_band_basis") or (noise_band_basis(key) if band is not None else None)
    if is_baseline:
        return MetricCell(key, v, unit, method, reason, bv, None, None, band, None, None, basis)
    delta, pct = ch["change"], ch["percent"]
    if delta is None and v is not None and bv is not None:
        delta = v - bv
        pct = None if name in PERCENT_UNDEFINED_KEYS or bv == 0 else 100.0 * delta / abs(bv)
    within, why = stored_verdict(key, entry, delta, band, baseline, measured)
    if delta is None and v is None:
        within, why = None, reason
    return MetricCell(key, v, unit, method, reason, bv, delta, pct, band, within, why, basis)
