"""Analysis use cases: compare each photo with the baseline session's photo of the same view,
for every region of the series, and store the results (keyed by analyzer version; a stored
result is never recomputed). Also the colour reference patch marked on a photo, what is stored
for each photo (:func:`series_status`) and what still needs analysing (:func:`pending_photos`).

Every warning that makes a number less trustworthy is returned in plain words with its remedy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from analyzer import ANALYZER_VERSION
from analyzer.catalog import DEFAULT_REGION, region_label
from analyzer.errors import UsageError
from analyzer.stored import (
    ALL_REGIONS,
    Caveat,
    baseline_session,
    caveats_from_result,
    series_rois,
    simulated_note,
    stored_patches,
    stored_regions,
    unusable_regions,
)

if TYPE_CHECKING:
    from analyzer.store import Store

#: Progress callback: fraction done in [0, 1] and a short text.
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class PhotoAnalysis:
    """The outcome of analysing one photo (all regions of its series)."""

    photo_id: int
    session_id: int
    view: str
    filename: str
    baseline_photo_id: int | None
    regions: tuple[str, ...]
    aligned: bool | None  # None: the photo is the baseline itself or had no baseline
    caveats: tuple[Caveat, ...] = ()
    computed: bool = True  # False: everything came from the store
    #: How this photo's colours were calibrated: "colorchecker", "reference-patch", "none";
    #: None when not measured (not analysed yet, or the alignment was refused).
    calibration: str | None = None

    @property
    def ok(self) -> bool:
        return self.baseline_photo_id is not None and self.aligned is not False


def _transform_list(alignment) -> list | None:
    m = getattr(alignment, "matrix", None)
    if m is None:
        return None
    return np.asarray(m, dtype=float).round(8).tolist()


def _strip_regions(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "regions"}


class _PhotoCache:
    """Loaded photos and detected faces within one analysis run (baselines are reused)."""

    def __init__(self, store: Store):
        self.store = store
        self.photos: dict[int, Any] = {}
        self.faces: dict[int, Any] = {}

    def photo(self, pid: int):
        if pid not in self.photos:
            self.photos[pid] = self.store.load_photo(pid)
        return self.photos[pid]

    def face(self, pid: int):
        if pid not in self.faces:
            from analyzer.face import detect_face

            self.faces[pid] = detect_face(self.photo(pid).rgb)
        return self.faces[pid]


def _baseline_self_result(results: Mapping[str, Any], photo, *, failed: Mapping[str, str]) -> dict:
    """The stored result for a baseline photo measured on its own (it is its own reference).

    Shaped like ``Comparison.to_dict()`` (``regions`` per name; the photo's metrics are its
    ``baseline`` side) so that the export and the charts read both kinds the same way.
    """
    regions = {}
    for name, pm in results.items():
        metrics = {k: v for k, v in pm.to_dict().items() if k not in ("image", "region", "analyzer_version")}
        regions[name] = {
            "region": name,
            "polygon": None if pm.polygon is None else np.asarray(pm.polygon, float).round(2).tolist(),
            "baseline": metrics, "followup": None, "change": None, "reason": None,
        }
    main = next(iter(regions.values()), None)
    return {
        "image": {"baseline": photo.size, "followup": photo.size},
        "alignment": {"ok": True, "method": "identity (the baseline photo itself)", "confidence": 1.0,
                      "reason": None},
        "region": main["region"] if main else DEFAULT_REGION,
        "baseline": main["baseline"] if main else None,
        "followup": None,
        "change": None,
        "reason": None,
        "regions": regions,
        "failed_regions": dict(failed),
        "is_baseline": True,
        "analyzer_version": ANALYZER_VERSION,
    }


def measured_concerns(concerns: Iterable[str]) -> list[str]:
    """The series' concerns that have a measure of their own (analyzer.concerns.CONCERNS), in order."""
    from analyzer.concerns import CONCERNS, normalize_concern

    out = []
    for c in concerns or ():
        try:
            n = normalize_concern(c)
        except UsageError:
            continue
        if n in CONCERNS and n not in out:
            out.append(n)
    return out


def _merge_metrics(side: dict | None, extra: Mapping[str, Any]) -> None:
    """Merge ``analyzer.concerns.to_metrics_dict`` output into a stored metrics dict, group by
    group (the ``redness`` concern adds ``cheeks_nose.*`` keys next to the general redness keys)."""
    if side is None:
        return
    for g, d in extra.items():
        cur = side.get(g)
        if not isinstance(cur, dict):
            cur = side[g] = {}
        cur.update(d)


def _with_grade(measures: dict, grade: int | None) -> dict:
    """The baseline side of a comparison carries the *baseline* session's scar grade."""
    key = "acne_scars.clinician_grade"
    m = measures.get(key)
    if m is None or grade is None:
        return measures
    import dataclasses

    return {**measures, key: dataclasses.replace(m, value=float(grade), reason=None)}


def _concerns_of_comparison(res: dict, comp, concerns: list[str], *, face, scar_grade, base_grade) -> None:
    """Concern measures of a follow-up and its baseline over the same skin, into ``res``."""
    from analyzer.concerns import measure_comparison, to_metrics_dict

    cm = measure_comparison(comp, concerns, face=face, scar_grade=scar_grade)
    for name, part in (res.get("regions") or {}).items():
        got = cm.get(name)
        if not got:
            continue
        _merge_metrics(part.get("baseline"), to_metrics_dict(_with_grade(got["baseline"], base_grade)))
        if got.get("followup") is not None:
            _merge_metrics(part.get("followup"), to_metrics_dict(got["followup"]))


def _concerns_of_baseline(res: dict, results: Mapping[str, Any], photo, concerns: list[str], *, face,
                          scar_grade) -> None:
    """Concern measures of a baseline photo measured on its own (same masks and scale as in a
    comparison: region polygon & skin, eye-distance scale of the face, its own calibration)."""
    from analyzer.calibrate import apply_calibration
    from analyzer.concerns import Scale, measure_concerns, to_metrics_dict
    from analyzer.regions import polygon_mask, skin_mask

    shape = photo.rgb.shape[:2]
    sc = Scale.from_face(face) if face is not None else None
    for name, pm in results.items():
        part = (res.get("regions") or {}).get(name)
        if part is None:
            continue
        reg = polygon_mask(pm.polygon, shape) if pm.polygon is not None else np.ones(shape, bool)
        mask = reg & skin_mask(photo.rgb, region=reg)
        rgb = apply_calibration(photo.rgb, pm.metrics.calibration)
        m = measure_concerns(concerns, rgb, mask=mask, scale=sc, face=face, scar_grade=scar_grade, region=name)
        _merge_metrics(part.get("baseline"), to_metrics_dict(m))


def reference_roi(patch: Mapping[str, Any] | None):
    """A stored reference patch ``{"x", "y", "w", "h"}`` → :class:`analyzer.regions.RectROI` (None → None)."""
    if not patch:
        return None
    from analyzer.regions import RectROI

    return RectROI(*(float(patch[k]) for k in ("x", "y", "w", "h")))


def _patch_dict(roi) -> dict | None:
    """A RectROI, an (x, y, w, h) tuple or a dict → the stored form; None stays None."""
    if roi is None:
        return None
    if isinstance(roi, Mapping):
        return dict(roi)
    if all(hasattr(roi, k) for k in ("x", "y", "w", "h")):
        return {k: getattr(roi, k) for k in ("x", "y", "w", "h")}
    if isinstance(roi, tuple | list) and len(roi) == 4:
        return dict(zip(("x", "y", "w", "h"), roi, strict=True))
    raise UsageError("a reference patch is a rectangle x, y, w, h in photo pixels (RectROI)")


def _patches_of(bphoto, photo) -> tuple[dict | None, dict | None]:
    """(baseline's, this photo's) reference patch as stored; the baseline measured on its own
    uses only its own."""
    if bphoto.id == photo.id:
        return photo.reference_patch, None
    return bphoto.reference_patch, photo.reference_patch


def _usable_reference(photo, patch, side: str, errors: dict[str, str]):
    """The photo's marked patch as an ROI, or None (with the one-line reason in ``errors[side]``)
    when it can't be used (clipped, too small): the photo is then measured without it."""
    roi = reference_roi(patch)
    if roi is None:
        return None
    from analyzer.calibrate import reference_patch_lab

    try:
        reference_patch_lab(photo.rgb, roi)
    except UsageError as exc:
        errors[side] = str(exc)
        return None
    return roi


def set_reference_patch(store: Store, photo_id: int, roi, *, user=None, analyze: bool = True,
                        progress: Progress | None = None) -> list[PhotoAnalysis]:
    """Mark (or, with ``roi=None``, clear) a neutral reference patch on a photo, then re-analyse.

    Parameters
    ----------
    store : analyzer.store.Store
    photo_id : int
    roi : RectROI, dict ``{"x", "y", "w", "h"}``, (x, y, w, h) or None
        A grey card, a white headband, a white-balance card: something neutral in the same
        light as the skin, in the photo's own upright full-resolution pixels. ``None`` clears.
    user : analyzer.auth.Principal, optional
        Who does it. When given, a patient is refused (:class:`analyzer.auth.AccessDenied`),
        a practitioner or the demo (demo patients only) must be allowed to see the patient
        (:func:`analyzer.auth.authorize`), and the change is written to the audit log as
        ``photo.reference_patch``.
    analyze : bool
        Re-analyse the photos whose numbers depend on it (this photo, and when it is a
        baseline photo, the follow-ups of its view) right away.

    Returns
    -------
    list of PhotoAnalysis
        The re-analysed photos, this photo first (empty with ``analyze=False``). When no
        ColorChecker is found, this photo's ``calibration`` is now ``"reference-patch"``.

    Raises
    ------
    UsageError or analyzer.store.InvalidInput
        One line, nothing stored: a patch outside the photo, of no size, too small (fewer
        than 9 pixels) or clipped (too bright or too dark to tell its colour).
    """
    from analyzer.store import InvalidInput

    patch = _patch_dict(roi)
    rec = store.get_photo(photo_id)
    sess = store.get_session(rec.session_id)
    series = store.get_series(sess.series_id)
    if user is not None:
        from analyzer import auth

        if not (user.is_practitioner or user.is_demo):
            raise auth.AccessDenied("only a practitioner can mark a reference patch")
        auth.authorize(user, series.patient_id, store)
    if patch is not None:
        from analyzer.store.validate import reference_patch as check_patch

        patch = check_patch(patch, width=rec.width, height=rec.height)  # one line, before loading pixels
        unusable: dict[str, str] = {}
        if _usable_reference(store.load_photo(photo_id), patch, "patch", unusable) is None:
            raise InvalidInput(unusable["patch"])
    before = rec.reference_patch
    rec = store.set_reference_patch(photo_id, patch)
    if user is not None and before != rec.reference_patch:
        from analyzer import auth

        what = "cleared" if patch is None else "x {x:g}, y {y:g}, {w:g} x {h:g}".format(**patch)
        auth.record_audit(store, user, "photo.reference_patch", series.patient_id,
                          detail=f"photo {photo_id}: {what}")
    if not analyze:
        return []
    ids = [photo_id]
    base = baseline_session(store, series.id)
    if base is not None and base.id == sess.id:  # a baseline photo: its follow-ups use it too
        for s in sorted(store.list_sessions(series.id), key=lambda s: (s.date, s.id)):
            ids.extend(p.id for p in store.list_photos(s.id) if p.view == rec.view and p.id != photo_id)
    return _analyze_photos(store, ids, progress=progress, force=False, version=ANALYZER_VERSION)


@dataclass(frozen=True)
class ComputedAnalysis:
    """One photo's analysis, computed and not yet stored (what a re-analysis worker returns:
    plain JSON-able values, so it travels between processes)."""

    photo_id: int
    baseline_photo_id: int
    transform: list | None
    result: dict
    version: str


def _photo_context(store: Store, photo_id: int, version: str):
    """The photo, its session, series, baseline session, regions, the baseline photo of its
    view (or None) and its stored analysis of ``version`` (or None)."""
    p = store.get_photo(photo_id)
    sess = store.get_session(p.session_id)
    series = store.get_series(sess.series_id)
    base = baseline_session(store, series.id)
    rois = series_rois(series)
    bphoto = None
    if base is not None:
        same_view = [bp for bp in store.list_photos(base.id) if bp.view == p.view]
        bphoto = same_view[0] if same_view else None
    stored = None if bphoto is None else store.get_analysis(p.id, analyzer_version=version, region=ALL_REGIONS)
    return p, sess, series, base, rois, bphoto, stored


def _is_current(stored, bphoto, p, rois) -> bool:
    """Is the stored analysis the one these inputs give (same baseline, regions, patches)?"""
    return (stored is not None and stored.baseline_photo_id == bphoto.id and set(rois) <= stored_regions(stored)
            and stored_patches(stored) == _patches_of(bphoto, p))


def compute_analysis(store: Store, photo_id: int, *, force: bool = False, version: str = ANALYZER_VERSION,
                     _cache: _PhotoCache | None = None) -> ComputedAnalysis | None:
    """Compute one photo's analysis without storing it (the first half of :func:`analyze_photo`;
    :func:`save_computed` is the second). ``None`` when the photo has no baseline photo to
    compare with, or its stored analysis of ``version`` is current (unless ``force``)."""
    cache = _cache or _PhotoCache(store)
    p, sess, series, base, rois, bphoto, stored = _photo_context(store, photo_id, version)
    if bphoto is None or (not force and _is_current(stored, bphoto, p, rois)):
        return None
    return _compute(store, cache, p, sess, series, base, rois, bphoto, version)


def save_computed(store: Store, c: ComputedAnalysis, *, overwrite: bool = False) -> bool:
    """Store a :func:`compute_analysis` result. Idempotent: when a current analysis of that
    version is stored already (another worker, the app), nothing is written and False is
    returned; the store's unique key (photo, version, region) keeps one row in any case."""
    if not overwrite:
        p, _sess, _series, _base, rois, bphoto, stored = _photo_context(store, c.photo_id, c.version)
        if bphoto is None or bphoto.id != c.baseline_photo_id or _is_current(stored, bphoto, p, rois):
            return False
    store.save_analysis(c.photo_id, baseline_photo_id=c.baseline_photo_id, transform=c.transform,
                        result=c.result, analyzer_version=c.version, region=ALL_REGIONS)
    return True


def analyze_photo(store: Store, photo_id: int, *, force: bool = False, _cache: _PhotoCache | None = None,
                  version: str = ANALYZER_VERSION) -> PhotoAnalysis:
    """Analyse one photo against the baseline session's photo of the same view, for all regions.

    One analysis record per photo and analyzer version holds every region of the series. It
    is reused, never recomputed, unless a region was added since (or ``force``). A region that
    can't be placed on this photo (a named region with no face found) is reported as a caveat
    and the other regions are still measured. The baseline photo is measured on its own.
    """
    cache = _cache or _PhotoCache(store)
    p, sess, series, base, rois, bphoto, stored = _photo_context(store, photo_id, version)
    if bphoto is None:
        return PhotoAnalysis(p.id, sess.id, p.view, p.filename, None, (), None,
                             (Caveat("baseline", f"No baseline photo of the {p.view} view to compare with.",
                                     "upload_baseline"),), computed=False)
    computed = False
    if force or not _is_current(stored, bphoto, p, rois):
        computed = True
        save_computed(store, _compute(store, cache, p, sess, series, base, rois, bphoto, version), overwrite=True)
        stored = store.get_analysis(p.id, analyzer_version=version, region=ALL_REGIONS)
    return _photo_analysis(p, sess.id, bphoto.id, stored, computed)


def _compute(store: Store, cache: _PhotoCache, p, sess, series, base, rois, bphoto, version: str) -> ComputedAnalysis:
    from analyzer.pipeline import analyze_metrics, compare

    patches = _patches_of(bphoto, p)
    sim = simulated_note(sess)
    concerns = measured_concerns(series.concerns)
    failed: dict[str, str] = unusable_regions(series)  # reported, never skipped silently
    patch_errors: dict[str, str] = {}
    if bphoto.id == p.id:
        photo = cache.photo(p.id)
        face = cache.face(p.id)
        ref = _usable_reference(photo, p.reference_patch, "baseline", patch_errors)
        results = {}
        for name, roi in rois.items():
            try:
                results[name] = analyze_metrics(photo, roi=roi, face=face, reference=ref)
            except UsageError as exc:
                failed[name] = str(exc)
        res = _baseline_self_result(results, photo, failed=failed)
        if concerns:
            _concerns_of_baseline(res, results, photo, concerns, face=face, scar_grade=sess.scar_grade)
        transform = np.eye(3).tolist()
    else:
        bl, fu = cache.photo(bphoto.id), cache.photo(p.id)
        bface = cache.face(bphoto.id)
        bref = _usable_reference(bl, bphoto.reference_patch, "baseline", patch_errors)
        fref = _usable_reference(fu, p.reference_patch, "followup", patch_errors)
        ok_rois = {}
        for name, roi in rois.items():
            if roi is not None and type(roi).__name__ == "NamedROI" and bface is None:
                failed[name] = "no face found on the baseline photo, so a named region can't be placed"
                continue
            if roi is not None:
                from analyzer.regions import roi_polygon

                try:  # one region that can't be placed on this baseline is reported on that region only
                    roi_polygon(roi, face=bface, shape=bl.rgb.shape[:2])
                except UsageError:
                    h, w = bl.rgb.shape[:2]
                    failed[name] = (f"the region lies outside the baseline photo ({w}x{h} px, retaken "
                                    "smaller?): mark it again on the baseline")
                    continue
            ok_rois[name] = roi
        comp = compare(bl, fu, rois=ok_rois or {DEFAULT_REGION: None}, baseline_face=bface,
                       followup_face=cache.face(p.id), keep_aligned=bool(concerns),
                       baseline_reference=bref, followup_reference=fref)
        res = comp.to_dict(DEFAULT_REGION if DEFAULT_REGION in comp.regions else None)
        if concerns:  # the series' concern measures, over the same pixels as the metrics
            _concerns_of_comparison(res, comp, concerns, face=bface, scar_grade=sess.scar_grade,
                                    base_grade=base.scar_grade)
        res["failed_regions"] = failed
        transform = _transform_list(comp.alignment)
    res["reference_patches"] = {"baseline": patches[0], "followup": patches[1]}
    if patch_errors:
        res["reference_patch_errors"] = patch_errors
    if sim:
        res["simulated"] = True
        res["simulated_note"] = sim
    return ComputedAnalysis(p.id, bphoto.id, transform, res, version)


def _photo_analysis(p, session_id: int, bpid: int | None, stored, computed: bool) -> PhotoAnalysis:
    res = (stored.result if stored is not None else None) or {}
    caveats = caveats_from_result(res) if stored is not None else []
    own = "baseline" if bpid == p.id else "followup"
    why_patch = (res.get("reference_patch_errors") or {}).get(own)
    if why_patch:
        caveats.insert(0, Caveat("calibration", f"The marked reference patch was not used: {why_patch}.",
                                 "mark_reference"))
    for name, why in (res.get("failed_regions") or {}).items():
        caveats.append(Caveat("face", f"{region_label(name)} could not be measured: {why}.", "retake"))
    if bpid is None:
        caveats = [Caveat("baseline", f"No baseline photo of the {p.view} view to compare with.", "upload_baseline")]
    aligned = None
    if stored is not None and bpid != p.id:
        aligned = bool((res.get("alignment") or {}).get("ok", False))
    regions = tuple((res.get("regions") or {}).keys())
    cal = ((res.get(own) or {}).get("calibration") or {}) if stored is not None and bpid is not None else {}
    method = cal.get("method") if isinstance(cal, Mapping) else None
    return PhotoAnalysis(p.id, session_id, p.view, p.filename, bpid, regions, aligned, tuple(caveats), computed,
                         method if isinstance(method, str) else None)


def _session_order(store: Store, session_id: int) -> list[int]:
    """The session's photo ids, baseline session's photos first when it is the baseline."""
    return [p.id for p in store.list_photos(session_id)]


def analyze_session(store: Store, session_id: int, *, progress: Progress | None = None, force: bool = False,
                    version: str = ANALYZER_VERSION) -> list[PhotoAnalysis]:
    """Analyse every photo of a session against the baseline session (see :func:`analyze_photo`).

    ``progress(fraction, text)`` is called before each photo and once at the end.
    """
    return _analyze_photos(store, _session_order(store, session_id), progress=progress, force=force,
                           version=version)


def analyze_series(store: Store, series_id: int, *, progress: Progress | None = None, force: bool = False,
                   version: str = ANALYZER_VERSION) -> list[PhotoAnalysis]:
    """Analyse every photo of every session of a series (stored results are reused)."""
    ids: list[int] = []
    for s in sorted(store.list_sessions(series_id), key=lambda s: (s.date, s.id)):
        ids.extend(_session_order(store, s.id))
    return _analyze_photos(store, ids, progress=progress, force=force, version=version)


def _analyze_photos(store: Store, ids: list[int], *, progress, force, version) -> list[PhotoAnalysis]:
    cache = _PhotoCache(store)
    out = []
    n = max(len(ids), 1)
    for i, pid in enumerate(ids):
        if progress:
            p = store.get_photo(pid)
            progress(i / n, f"Analysing photo {i + 1} of {len(ids)} ({p.view}, {p.filename})")
        out.append(analyze_photo(store, pid, force=force, _cache=cache, version=version))
    if progress:
        progress(1.0, f"Analysed {len(ids)} photo{'s' if len(ids) != 1 else ''}")
    return out


def series_status(store: Store, series_id: int, *, version: str = ANALYZER_VERSION) -> list[PhotoAnalysis]:
    """What is stored for each photo of the series, without computing anything."""
    base = baseline_session(store, series_id)
    bviews: dict[str, int] = {}
    if base is not None:
        for bp in store.list_photos(base.id):
            bviews.setdefault(bp.view, bp.id)
    out = []
    for s in sorted(store.list_sessions(series_id), key=lambda s: (s.date, s.id)):
        for p in store.list_photos(s.id):
            stored = store.get_analysis(p.id, analyzer_version=version, region=ALL_REGIONS)
            out.append(_photo_analysis(p, s.id, bviews.get(p.view), stored, False))
    return out


def region_outlines(store: Store, series_id: int, view: str, *,
                    analyzer_version: str = ANALYZER_VERSION) -> dict[str, np.ndarray]:
    """Where each measured region lies on the baseline photo of ``view``: name → (N, 2) xy polygon.

    Read from the baseline photo's stored analysis (nothing is computed); empty when it has none.
    """
    base = baseline_session(store, series_id)
    if base is None:
        return {}
    bp = next((p for p in store.list_photos(base.id) if p.view == view), None)
    a = None if bp is None else store.get_analysis(bp.id, analyzer_version=analyzer_version, region=ALL_REGIONS)
    if a is None:
        return {}
    out = {}
    for name, part in ((a.result or {}).get("regions") or {}).items():
        poly = part.get("polygon")
        if poly:
            out[name] = np.asarray(poly, float)
    return out


def pending_photos(store: Store, series_id: int, *, version: str = ANALYZER_VERSION) -> list[int]:
    """Photos of the series that have a baseline to compare with but no up-to-date analysis."""
    want = set(series_rois(store.get_series(series_id)))
    out = []
    for a in series_status(store, series_id, version=version):
        if a.baseline_photo_id is None:
            continue
        st = store.get_analysis(a.photo_id, analyzer_version=version, region=ALL_REGIONS)
        if st is None or st.baseline_photo_id != a.baseline_photo_id or not want <= stored_regions(st):
            out.append(a.photo_id)
        elif stored_patches(st) != _patches_of(store.get_photo(a.baseline_photo_id), store.get_photo(a.photo_id)):
            out.append(a.photo_id)
    return out
