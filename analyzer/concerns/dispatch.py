"""Running the concern measures: by name, over a photo's regions, or over a comparison
(the follow-up and its baseline on the same skin); their order and stored form."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from analyzer.concerns.catalog import (
    _GENERAL_ORDER,
    CONCERN_ALIASES,
    CONCERN_GENERAL_METRICS,
    CONCERN_MEASURES,
    CONCERNS,
)
from analyzer.concerns.measures import (
    LINE_REGIONS,
    _poly_mask,
    acne_scars,
    enlarged_pores,
    fine_lines,
    hair_loss,
    hyperpigmentation,
    line_region_polygons,
    redness,
    stretch_marks,
)
from analyzer.concerns.scale import Scale
from analyzer.errors import UsageError
from analyzer.face import Face
from analyzer.results import Measurement


# ---------------------------------------------------------------------------------------------
# Dispatch, regions and ordering
# ---------------------------------------------------------------------------------------------
def normalize_concern(name: str) -> str:
    """A concern name as stored (lower_snake_case), with aliases resolved (``pigmentation`` ->
    ``hyperpigmentation``). Names without a measure of their own are returned as they are."""
    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"a concern must be a name, got {name!r}")
    k = name.strip().lower().replace("-", "_").replace(" ", "_")
    return CONCERN_ALIASES.get(k, k)


def measure_concern(
    concern: str,
    rgb: np.ndarray,
    *,
    mask: np.ndarray,
    scale: Scale | None = None,
    face: Face | None = None,
    scar_grade: int | None = None,
    region: str = "roi",
) -> dict[str, Measurement]:
    """The measures of one concern over ``mask`` of ``rgb``.

    Parameters
    ----------
    concern : str
        One of :data:`CONCERNS` (or an alias in :data:`CONCERN_ALIASES`).
    rgb : ndarray (rows, cols, 3) float32 sRGB [0, 1]
        The photo; for a follow-up, the photo warped into the baseline frame.
    mask : bool ndarray (rows, cols)
        Skin to measure; the same mask for baseline and follow-up.
    scale : Scale, optional
        px/mm of ``rgb`` (the baseline's). None: sizes in pixels, densities per 10^4 px².
    face : Face, optional
        The baseline face: gives ``fine_lines`` per-region values and the cheeks + nose of
        ``redness``.
    scar_grade : int 1-4, optional
        The clinician's Goodman & Baron grade, recorded with ``acne_scars``.

    Returns
    -------
    dict
        ``{"<concern>.<key>": Measurement}`` in display order; NaN with a reason when a value
        can't be computed.

    Raises
    ------
    ValueError
        An unknown concern (the message names the allowed ones).
    """
    c = normalize_concern(concern)
    if c not in CONCERNS:
        raise ValueError(f"unknown concern {concern!r}; allowed: {', '.join(CONCERNS)}")
    if c == "acne_scars":
        return acne_scars(rgb, mask, scale=scale, clinician_grade=scar_grade, region=region)
    if c in ("fine_lines", "redness"):
        return (fine_lines if c == "fine_lines" else redness)(rgb, mask, scale=scale, face=face, region=region)
    fn = {"enlarged_pores": enlarged_pores, "hyperpigmentation": hyperpigmentation,
          "stretch_marks": stretch_marks, "hair_loss": hair_loss}[c]
    return fn(rgb, mask, scale=scale, region=region)


def measure_concerns(
    concerns: Iterable[str],
    rgb: np.ndarray,
    *,
    mask: np.ndarray,
    scale: Scale | None = None,
    face: Face | None = None,
    scar_grade: int | None = None,
    region: str = "roi",
) -> dict[str, Measurement]:
    """The measures of every concern of a series that has one (others are skipped), merged in
    the series' order. Same parameters as :func:`measure_concern`."""
    out: dict[str, Measurement] = {}
    for name in concerns:
        c = normalize_concern(name)
        if c not in CONCERNS:
            continue
        out.update(measure_concern(c, rgb, mask=mask, scale=scale, face=face, scar_grade=scar_grade, region=region))
    return out


def to_metrics_dict(measures: Mapping[str, Measurement]) -> dict:
    """Measures in the stored result shape of :meth:`analyzer.metrics.MetricSet.to_dict`:
    ``{group: {key: value or None}, "meta": {"group.key": {"unit", "method", "reason"}}}``
    (group = concern; ``fine_lines.forehead.line_length`` -> group ``fine_lines``, key
    ``forehead.line_length``). Merge it into a region's ``baseline`` / ``followup`` dict."""
    out: dict = {"meta": {}}
    for full, m in measures.items():
        g, k = full.split(".", 1)
        out.setdefault(g, {})[k] = m.json_value()
        out["meta"][full] = {"unit": m.unit, "method": m.method, "reason": m.reason}
    return out


def concern_regions(face: Face, rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Skin masks per concern from a face: ``redness`` = cheeks + nose, ``fine_lines`` = forehead
    + crow's feet + nasolabial, the others the whole face area. Each is skin only
    (:func:`analyzer.regions.skin_mask`)."""
    from analyzer.regions import face_area_polygon, face_region_polygons, polygon_mask, skin_mask

    shape = rgb.shape[:2]
    fr = face_region_polygons(face)
    cheeks_nose = polygon_mask(fr["left_cheek"], shape) | polygon_mask(fr["right_cheek"], shape) | polygon_mask(fr["nose"], shape)
    lp = line_region_polygons(face)
    lines = _poly_mask([p for n in LINE_REGIONS for p in lp[n]], shape)
    area = polygon_mask(face_area_polygon(face), shape)
    out = {}
    for c, reg in (("redness", cheeks_nose), ("fine_lines", lines)):
        out[c] = skin_mask(rgb, region=reg)
    face_skin = skin_mask(rgb, region=area)
    for c in CONCERNS:
        out.setdefault(c, face_skin)
    return out


def concern_order(concerns: Iterable[str], metric_keys: Iterable[str] | None = None) -> list[str]:
    """Metric keys in the order a progress page shows them: the series' concerns lead.

    For each concern, in the series' order: its own measures (``"acne_scars.scar_count"``...),
    then its related general metrics (``"texture.roughness"``...); then every other general
    metric in the usual order. With ``metric_keys`` (e.g. the keys present in the rows), the
    result is restricted to those, and keys not known here are appended in their given order.

    Examples
    --------
    >>> concern_order(["acne_scars"])[:3]
    ['acne_scars.scar_count', 'acne_scars.scar_area', 'acne_scars.scar_area_fraction']
    """
    out: list[str] = []

    def push(k: str) -> None:
        if k not in out:
            out.append(k)

    for name in concerns or ():
        c = normalize_concern(name)
        if c in CONCERN_MEASURES:
            for k in CONCERN_MEASURES[c]:
                push(f"{c}.{k}")
            if c == "fine_lines":
                for r in LINE_REGIONS:
                    push(f"fine_lines.{r}.line_length")
                    push(f"fine_lines.{r}.line_depth")
        for k in CONCERN_GENERAL_METRICS.get(c, ()):
            push(k)
    for k in _GENERAL_ORDER:
        push(k)
    if metric_keys is None:
        return out
    present = list(dict.fromkeys(metric_keys))
    ps = set(present)
    return [k for k in out if k in ps] + [k for k in present if k not in set(out)]


def measure_comparison(
    comparison,
    concerns: Iterable[str],
    *,
    face: Face | None = None,
    scale: Scale | None = None,
    scar_grade: int | None = None,
) -> dict[str, dict[str, dict[str, Measurement] | None | str]]:
    """Concern measures of a baseline and its aligned follow-up, over the same pixels.

    Parameters
    ----------
    comparison : analyzer.pipeline.Comparison
        From ``compare(baseline, followup, keep_aligned=True)``.
    concerns : iterable of str
        The series' concerns (those without a measure are skipped).
    face : Face, optional
        The **baseline** face: gives the eye-distance scale (when ``scale`` is None), the cheeks +
        nose mask for redness and the fine-line regions, all in the baseline frame.
    scale : Scale, optional
        A better scale than the eye distance (ruler, chart), in baseline pixels.
    scar_grade : int 1-4, optional
        The clinician's grade of the *follow-up* session.

    Returns
    -------
    dict
        ``{region: {"baseline": {key: Measurement}, "followup": {key: Measurement} | None,
        "reason": str | None}}``. The follow-up is None (with the reason) when the alignment was
        refused or the aligned image was not kept. Each photo is colour-corrected with its own
        calibration from the comparison before measuring.
    """
    from analyzer.calibrate import apply_calibration
    from analyzer.regions import polygon_mask, skin_mask

    base_rgb = comparison.baseline_rgb
    if base_rgb is None:
        raise UsageError("the comparison did not keep its images: call compare(..., keep_aligned=True)")
    sc = scale if scale is not None else (Scale.from_face(face) if face is not None else None)
    shape = base_rgb.shape[:2]
    ok = bool(comparison.alignment.ok) and comparison.aligned_rgb is not None
    out: dict[str, dict] = {}
    for name, rr in comparison.regions.items():
        reg = polygon_mask(rr.polygon, shape)
        common = reg & skin_mask(base_rgb, region=reg)
        if ok:
            valid = comparison.valid_mask if comparison.valid_mask is not None else np.ones(shape, bool)
            common &= skin_mask(comparison.aligned_rgb, region=reg & valid) & valid
        b_rgb = apply_calibration(base_rgb, rr.baseline.calibration)
        b = measure_concerns(concerns, b_rgb, mask=common, scale=sc, face=face, region=name)
        f = None
        reason = rr.reason
        if ok and rr.followup is not None:
            f_rgb = apply_calibration(comparison.aligned_rgb, rr.followup.calibration)
            f = measure_concerns(concerns, f_rgb, mask=common, scale=sc, face=face, scar_grade=scar_grade,
                                 region=name)
        elif reason is None:
            reason = "the aligned follow-up was not kept" if comparison.alignment.ok else "alignment refused"
        out[name] = {"baseline": b, "followup": f, "reason": reason}
    return out
