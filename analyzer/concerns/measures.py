"""The concern measures, one function per concern (arrays in, measurements out); see
:mod:`analyzer.concerns` for the references and :mod:`analyzer.concerns.catalog` for the table."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from analyzer import __version__
from analyzer.color import rgb_to_lab, srgb_to_linear
from analyzer.concerns.catalog import (
    ANALYSIS_PX_PER_MM,
    CONCERN_LABELS,
    CONCERN_MEASURES,
    MAX_UPSAMPLE,
    MIN_NATIVE_PX_PER_MM,
)
from analyzer.concerns.scale import Scale
from analyzer.errors import UsageError
from analyzer.face import Face
from analyzer.results import Measurement, nan_measurement

# --- acne scars (analysis px at 4 px/mm) --------------------------------------------------------
SCAR_SMOOTH_MM = 0.5
SCAR_BACKGROUND_MM = 5.0
SCAR_DELTA_L = -3.0  # shading: at least 3 L* darker than the skin around it
SCAR_MIN_AREA_MM2 = 1.0
SCAR_MAX_AREA_MM2 = 60.0
SCAR_MIN_AXIS_RATIO = 0.3  # minor/major axis: lines and wrinkles are excluded
SCAR_MAX_DELTA_B = 0.5  # shading dims chroma (Δb* < 0); brown pigment keeps or raises b*
# --- pores (8 px/mm) ---------------------------------------------------------------------------
PORE_SIGMA_MM = 0.2
PORE_SURROUND_MM = 0.8
PORE_LOG_CONTRAST = math.log(0.85)  # at least 15 % less light than the skin around it
PORE_MIN_AREA_MM2 = 0.03
PORE_MAX_AREA_MM2 = 1.5
PORE_MIN_AXIS_RATIO = 0.4
# --- fine lines (8 px/mm) ----------------------------------------------------------------------
LINE_SIGMA_MM = 0.35
LINE_STRENGTH = 1.25  # scale-normalised principal curvature of L*, L* units
LINE_MIN_LENGTH_MM = 3.0
LINE_BACKGROUND_MM = 1.5
# --- stretch marks (4 px/mm) -------------------------------------------------------------------
STRIAE_SMOOTH_MM = 0.5
STRIAE_BACKGROUND_MM = 10.0
STRIAE_DELTA = 3.0  # |ΔL*| or Δa* vs surrounding skin
STRIAE_MIN_LENGTH_MM = 10.0
STRIAE_MIN_ELONGATION = 3.0
STRIAE_CLOSE_MM = 0.75
# --- hair (8 px/mm) ----------------------------------------------------------------------------
HAIR_SIGMA_MM = 0.15
HAIR_STRENGTH = 3.0
HAIR_MIN_LENGTH_MM = 1.0
HAIR_MIN_SEPARATION_L = 10.0  # scalp and hair classes must differ by this much in L*


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Prepared:
    """The region resampled to the analysis scale."""

    rgb: np.ndarray  # float32 crop at the analysis scale
    mask: np.ndarray  # bool, same rows/cols
    px_per_mm: float | None  # analysis px per mm (None: scale unknown, native pixels)
    factor: float  # resampling factor applied
    native_px_per_mm: float | None
    note: str | None  # e.g. the upsampling cap was hit
    box: tuple[int, int, int, int] = (0, 0, 0, 0)  # r0, r1, c0, c1 of the crop in the photo

    def carry(self, full_mask: np.ndarray) -> np.ndarray:
        """Another full-photo mask cropped and resampled exactly like this region."""
        r0, r1, c0, c1 = self.box
        s = np.asarray(full_mask, bool)[r0:r1, c0:c1].astype(np.uint8)
        if s.shape != self.mask.shape:
            s = cv2.resize(s, (self.mask.shape[1], self.mask.shape[0]), interpolation=cv2.INTER_NEAREST)
        return s.astype(bool)


def _check_inputs(rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise UsageError(f"expected an RGB image (rows, cols, 3), got shape {rgb.shape}")
    if rgb.dtype != np.float32:
        rgb = rgb.astype(np.float32)
    m = np.asarray(mask, bool)
    if m.shape != rgb.shape[:2]:
        raise UsageError(f"mask shape {m.shape} does not match the photo {rgb.shape[:2]}")
    return rgb, m


def _prepare(rgb: np.ndarray, mask: np.ndarray, scale: Scale | None, concern: str, pad_mm: float) -> _Prepared:
    rgb, mask = _check_inputs(rgb, mask)
    target = ANALYSIS_PX_PER_MM[concern]
    if scale is None:
        factor, ppm, native, note = 1.0, None, None, None
        pad = int(math.ceil(pad_mm * target)) + 2
    else:
        native = float(scale.px_per_mm)
        factor = target / native
        note = None
        if factor > MAX_UPSAMPLE:
            factor = MAX_UPSAMPLE
            note = (f"photo resolution {native:.1f} px/mm is below the analysis scale {target:g} px/mm; "
                    f"upsampled only {MAX_UPSAMPLE:g}x")
        ppm = native * factor
        pad = int(math.ceil(pad_mm * native)) + 2
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return _Prepared(rgb[:0, :0], mask[:0, :0], ppm, factor, native, note)
    r0, r1 = max(0, ys.min() - pad), min(rgb.shape[0], ys.max() + 1 + pad)
    c0, c1 = max(0, xs.min() - pad), min(rgb.shape[1], xs.max() + 1 + pad)
    crop = np.ascontiguousarray(rgb[r0:r1, c0:c1])
    mcrop = mask[r0:r1, c0:c1]
    if abs(factor - 1.0) > 1e-3:
        h, w = crop.shape[:2]
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)
        crop = np.clip(crop, 0, 1)
        mcrop = cv2.resize(mcrop.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    return _Prepared(crop, mcrop, ppm, factor, native, note, (int(r0), int(r1), int(c0), int(c1)))


def _px(prep: _Prepared, mm: float, concern: str) -> float:
    """A length in mm as analysis pixels (native pixels are taken as the analysis scale when the
    scale is unknown)."""
    return mm * (prep.px_per_mm if prep.px_per_mm else ANALYSIS_PX_PER_MM[concern])


def _masked_gauss(img: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    m = mask.astype(np.float32)
    num = cv2.GaussianBlur(img * m, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    den = cv2.GaussianBlur(m, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return num / np.maximum(den, 1e-6)


def _local_contrast(channel: np.ndarray, skin: np.ndarray, smooth: float, background: float) -> np.ndarray:
    """A Lab channel smoothed at ``smooth`` px minus the surrounding skin's level at ``background``
    px (a skin-masked Gaussian): local departure from the skin around, in the channel's units."""
    x = cv2.GaussianBlur(np.ascontiguousarray(channel), (0, 0), smooth)
    return x - _masked_gauss(x, skin, background)


def _erode(mask: np.ndarray, px: int) -> np.ndarray:
    if px <= 0:
        return mask
    k = np.ones((2 * px + 1, 2 * px + 1), np.uint8)
    return cv2.erode(mask.astype(np.uint8), k, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)


def _axis_ratio(comp: np.ndarray) -> float:
    """minor/major axis of a component from its second moments (1 = round, → 0 = a line)."""
    ys, xs = np.nonzero(comp)
    if len(ys) < 3:
        return 1.0
    c = np.cov(np.vstack([xs, ys]).astype(np.float64))
    ev = np.linalg.eigvalsh(c)
    return float(math.sqrt(max(ev[0], 1e-9) / max(ev[1], 1e-9)))


def _components(binary: np.ndarray):
    n, lbl, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    return n, lbl, stats


def _units(prep: _Prepared) -> dict[str, str]:
    if prep.px_per_mm:
        return {"length": "mm", "area": "mm^2", "density": "per cm^2", "length_density": "mm per cm^2"}
    return {
        "length": "px (scale unknown)",
        "area": "px^2 (scale unknown)",
        "density": "per 10^4 px^2 (scale unknown)",
        "length_density": "px per 10^4 px^2 (scale unknown)",
    }


def _len(prep: _Prepared, px: float) -> float:
    return px / prep.px_per_mm if prep.px_per_mm else px


def _area(prep: _Prepared, px2: float) -> float:
    return px2 / prep.px_per_mm**2 if prep.px_per_mm else px2


def _per_area(prep: _Prepared, count: float, area_px: float) -> float:
    """count per cm² (scale known) or per 10^4 px² (unknown)."""
    if area_px <= 0:
        return float("nan")
    if prep.px_per_mm:
        return count / (area_px / prep.px_per_mm**2 / 100.0)
    return count / (area_px / 1e4)


class _Out:
    """Collects the Measurements of one concern."""

    def __init__(self, concern: str, region: str, scale: Scale | None, prep: _Prepared | None):
        self.concern, self.region, self.d = concern, region, {}
        notes = []
        if scale is not None:
            notes.append(f"scale: {scale.note}")
        else:
            notes.append("scale unknown: sizes in photo pixels")
        if prep is not None and prep.note:
            notes.append(prep.note)
        self.suffix = "; ".join(notes)

    def add(self, key: str, value: float, unit: str, method: str, reason: str | None = None) -> None:
        name = f"{self.concern}.{key}"
        meth = f"{method} [{self.suffix}]"
        v = float(value) if value is not None else float("nan")
        if not math.isfinite(v):
            self.d[name] = nan_measurement(name, unit, meth, reason or "could not be computed",
                                           group=self.concern, region=self.region)
        else:
            self.d[name] = Measurement(name=name, value=v, unit=unit, method=meth, group=self.concern,
                                       region=self.region, version=__version__)

    def all_nan(self, keys: Iterable[str], units: Mapping[str, str], reason: str) -> dict[str, Measurement]:
        for k in keys:
            self.add(k, float("nan"), units.get(k, ""), "not computed", reason)
        return self.d


def _too_small(prep: _Prepared, min_px: int) -> str | None:
    n = int(prep.mask.sum())
    if n == 0:
        return "empty region (no skin pixels to measure)"
    if n < min_px:
        return f"region too small at the analysis scale ({n} < {min_px} skin px)"
    return None


def _low_res(scale: Scale | None, concern: str) -> str | None:
    lim = MIN_NATIVE_PX_PER_MM.get(concern)
    if scale is not None and lim and scale.px_per_mm < lim:
        return (f"photo resolution {scale.px_per_mm:.1f} px/mm is too low to see {CONCERN_LABELS[concern].lower()} "
                f"(needs >= {lim:g} px/mm: move closer)")
    return None


def _log_luminance(rgb: np.ndarray) -> np.ndarray:
    """Natural log of linear-light luminance Y (Rec. 709 weights): a reflectance change by a
    factor k shifts it by ln k whatever the skin tone or exposure."""
    lin = srgb_to_linear(rgb)
    y = 0.2126 * lin[..., 0] + 0.7152 * lin[..., 1] + 0.0722 * lin[..., 2]
    return np.ascontiguousarray(np.log(np.maximum(y, 1e-4)), dtype=np.float32)


def _lab(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_lab(np.ascontiguousarray(rgb, np.float32))


def _hessian(L: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigenvalues (lam1 >= lam2) of the Hessian of L smoothed at ``sigma``, scale-normalised
    (x sigma²), and the orientation (radians) of the direction *along* the ridge."""
    g = cv2.GaussianBlur(L, (0, 0), sigma)
    dxx = cv2.Sobel(g, cv2.CV_32F, 2, 0, ksize=3)
    dyy = cv2.Sobel(g, cv2.CV_32F, 0, 2, ksize=3)
    dxy = cv2.Sobel(g, cv2.CV_32F, 1, 1, ksize=3)
    # a 3x3 Sobel second derivative is 4x the derivative (its [1, 2, 1] smoothing sums to 4)
    dxx, dyy, dxy = dxx / 4.0, dyy / 4.0, dxy / 4.0
    tmp = np.sqrt((dxx - dyy) ** 2 + 4 * dxy**2)
    lam1 = 0.5 * (dxx + dyy + tmp) * sigma * sigma
    lam2 = 0.5 * (dxx + dyy - tmp) * sigma * sigma
    across = 0.5 * np.arctan2(2 * dxy, dxx - dyy)  # direction of the largest curvature
    return lam1, lam2, across + np.pi / 2


def _skeleton_length(skel: np.ndarray, along: np.ndarray) -> float:
    """Length in px of an 8-connected skeleton: each pixel counts 1/max(|cos θ|, |sin θ|) with θ
    the local line direction (a rasterised line at angle θ has that many px per unit length)."""
    th = along[skel]
    return float(np.sum(1.0 / np.maximum(np.abs(np.cos(th)), np.abs(np.sin(th)))))


def _skeletonize(binary: np.ndarray) -> np.ndarray:
    from skimage.morphology import skeletonize

    return skeletonize(binary.astype(bool))


# ---------------------------------------------------------------------------------------------
# The concerns
# ---------------------------------------------------------------------------------------------
def acne_scars(
    rgb: np.ndarray,
    mask: np.ndarray,
    *,
    scale: Scale | None = None,
    clinician_grade: int | None = None,
    region: str = "roi",
    _keep: dict | None = None,
) -> dict[str, Measurement]:
    """Atrophic acne scars: count and area of local depressions seen as shading.

    A depression under directional (raking) light shows as a shadow on the wall that faces away
    from the light. At 4 px/mm: L* smoothed 0.5 mm, minus the surrounding skin (masked Gaussian
    5 mm); pixels at least 3 L* darker form candidates; a component counts as a scar if its area
    is 1-60 mm², it is not a line (minor/major axis >= 0.3), and it is *not brown*: its mean Δb*
    against the surrounding skin is <= +0.5 (dimming lowers chroma, melanin does not), which
    separates shading from a pigmented spot.

    Parameters
    ----------
    rgb : ndarray (rows, cols, 3) float32 sRGB [0, 1]
    mask : bool ndarray (rows, cols)
        Skin to measure (region ∩ skin ∩ valid warp).
    scale : Scale, optional
        Without it sizes are in photo pixels.
    clinician_grade : int 1-4, optional
        Goodman & Baron qualitative global grade given by a clinician; recorded beside the photo
        measure (``acne_scars.clinician_grade``), never computed.

    Returns
    -------
    dict
        ``acne_scars.scar_count`` (count), ``acne_scars.scar_area`` (mm² or px²: the *shadowed*
        part of the scars), ``acne_scars.scar_area_fraction`` (of the skin measured),
        ``acne_scars.clinician_grade``.

    Notes
    -----
    A photo under flat frontal light (ring light, on-camera flash) shows little shading and
    under-counts scars: take scar photos with light from one side, the same way every session.
    """
    c = "acne_scars"
    prep = _prepare(rgb, mask, scale, c, pad_mm=3 * SCAR_BACKGROUND_MM)
    out = _Out(c, region, scale, prep)
    u = _units(prep)
    _grade(out, clinician_grade)
    units = {"scar_count": "count", "scar_area": u["area"], "scar_area_fraction": "fraction of skin"}
    why = _too_small(prep, 400)
    if why:
        out.all_nan(units, units, why)
        return _reorder(out.d, c)
    lab = _lab(prep.rgb)
    skin = prep.mask
    s_sm, s_bg = _px(prep, SCAR_SMOOTH_MM, c), _px(prep, SCAR_BACKGROUND_MM, c)
    dL = _local_contrast(lab[..., 0], skin, s_sm, s_bg)
    db = _local_contrast(lab[..., 2], skin, s_sm, s_bg)
    inner = _erode(skin, max(1, round(s_sm)))
    cand = (dL <= SCAR_DELTA_L) & inner
    n, lbl, stats = _components(cand)
    amin = SCAR_MIN_AREA_MM2 * _px(prep, 1.0, c) ** 2
    amax = SCAR_MAX_AREA_MM2 * _px(prep, 1.0, c) ** 2
    count, area = 0, 0
    kept = np.zeros(n, bool)
    for i in range(1, n):
        a = int(stats[i, cv2.CC_STAT_AREA])
        if not amin <= a <= amax:
            continue
        x, y, w, h = (int(stats[i, k]) for k in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT))
        comp = lbl[y : y + h, x : x + w] == i
        if _axis_ratio(comp) < SCAR_MIN_AXIS_RATIO:
            continue
        if float(db[y : y + h, x : x + w][comp].mean()) > SCAR_MAX_DELTA_B:
            continue
        count += 1
        area += a
        kept[i] = True
    nskin = int(inner.sum())
    _kept(_keep, prep, inner, scars=kept[lbl])
    out.add("scar_count", count, "count",
            f"shaded depressions: L* (0.5 mm) <= {SCAR_DELTA_L:g} below surrounding skin (5 mm), "
            f"{SCAR_MIN_AREA_MM2:g}-{SCAR_MAX_AREA_MM2:g} mm^2, axis ratio >= {SCAR_MIN_AXIS_RATIO:g}, "
            f"mean Δb* <= {SCAR_MAX_DELTA_B:g} (not brown)")
    out.add("scar_area", _area(prep, area), u["area"], "summed area of the counted scars' shadowed parts")
    out.add("scar_area_fraction", area / nskin if nskin else float("nan"), "fraction of skin",
            "scar area / skin area measured", None if nskin else "no skin")
    return _reorder(out.d, c)


def _kept(keep: dict | None, prep: _Prepared, skin: np.ndarray, **masks: np.ndarray) -> None:
    """Hand the pixels a measure counted (bool masks on the analysis crop ``prep.rgb``) to a
    caller that asked for them (:func:`analyzer.concerns.findings.concern_findings`): the very
    masks the numbers were computed from, not a second detection."""
    if keep is None:
        return
    keep["prep"] = prep
    keep["skin"] = skin
    keep.setdefault("masks", {}).update(masks)


def _grade(out: _Out, grade: int | None) -> None:
    unit = "Goodman & Baron qualitative grade (1-4)"
    method = "clinician's grade, recorded as given (Goodman & Baron 2006)"
    if grade is None:
        out.add("clinician_grade", float("nan"), unit, method, "no clinician grade recorded for this session")
        return
    if isinstance(grade, bool) or not isinstance(grade, int | np.integer) or not 1 <= int(grade) <= 4:
        raise UsageError(f"scar grade must be a whole number 1-4 (Goodman & Baron), got {grade!r}")
    out.add("clinician_grade", float(grade), unit, method)


def _reorder(d: dict[str, Measurement], concern: str) -> dict[str, Measurement]:
    keys = [f"{concern}.{k}" for k in CONCERN_MEASURES[concern]]
    return {k: d[k] for k in keys if k in d} | {k: v for k, v in d.items() if k not in keys}


def enlarged_pores(
    rgb: np.ndarray, mask: np.ndarray, *, scale: Scale | None = None, region: str = "roi",
    _keep: dict | None = None,
) -> dict[str, Measurement]:
    """Visible pores: count per cm² (scale known) and mean pore area.

    At 8 px/mm: difference of Gaussians of L* (sigma 0.2 mm minus 0.6 mm); pixels at least
    2.5 L* darker than that surround form candidates; a component is a pore when its area is
    0.03-1.5 mm² (about 0.2-1.4 mm across) and it is roundish (minor/major axis >= 0.4).

    Returns
    -------
    dict
        ``enlarged_pores.pore_density`` (per cm², or per 10^4 px² without a scale),
        ``enlarged_pores.pore_count``, ``enlarged_pores.mean_pore_area`` (mm² or px²).
    """
    c = "enlarged_pores"
    prep = _prepare(rgb, mask, scale, c, pad_mm=2.0)
    out = _Out(c, region, scale, prep)
    u = _units(prep)
    units = {"pore_density": u["density"], "pore_count": "count", "mean_pore_area": u["area"]}
    why = _low_res(scale, c) or _too_small(prep, 400)
    if why:
        out.all_nan(units, units, why)
        return _reorder(out.d, c)
    L = _log_luminance(prep.rgb)
    s = _px(prep, PORE_SIGMA_MM, c)
    dog = cv2.GaussianBlur(L, (0, 0), s) - _masked_gauss(L, prep.mask, _px(prep, PORE_SURROUND_MM, c))
    inner = _erode(prep.mask, max(1, round(2 * s)))
    # hysteresis: seeds at the full contrast, extent down to half of it (the pore's half-depth
    # outline, so the area does not shrink with the threshold)
    from skimage.filters import apply_hysteresis_threshold

    cand = apply_hysteresis_threshold(-dog * inner, -0.5 * PORE_LOG_CONTRAST, -PORE_LOG_CONTRAST)
    n, lbl, stats = _components(cand)
    ppx = _px(prep, 1.0, c) ** 2
    amin, amax = PORE_MIN_AREA_MM2 * ppx, PORE_MAX_AREA_MM2 * ppx
    areas = []
    kept = np.zeros(n, bool)
    for i in range(1, n):
        a = int(stats[i, cv2.CC_STAT_AREA])
        if not amin <= a <= amax:
            continue
        x, y, w, h = (int(stats[i, k]) for k in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT))
        if _axis_ratio(lbl[y : y + h, x : x + w] == i) < PORE_MIN_AXIS_RATIO:
            continue
        areas.append(a)
        kept[i] = True
    nskin = int(inner.sum())
    _kept(_keep, prep, inner, pores=kept[lbl])
    method = (f"dark blobs: luminance (sigma {PORE_SIGMA_MM:g} mm) >= {1 - math.exp(PORE_LOG_CONTRAST):.0%} below "
              f"the skin around (masked Gaussian {PORE_SURROUND_MM:g} mm), outline at half that contrast, "
              f"{PORE_MIN_AREA_MM2:g}-{PORE_MAX_AREA_MM2:g} mm^2, axis ratio >= {PORE_MIN_AXIS_RATIO:g}")
    out.add("pore_density", _per_area(prep, len(areas), nskin), u["density"], method + "; count / skin area")
    out.add("pore_count", len(areas), "count", method)
    out.add("mean_pore_area", _area(prep, float(np.mean(areas))) if areas else float("nan"), u["area"],
            "mean area of the counted pores", "no pores found")
    return _reorder(out.d, c)


# Line regions in the face frame (u along the eye line in eye distances, v down; "n" = nose depth).
LINE_REGIONS: tuple[str, ...] = ("forehead", "crows_feet", "nasolabial")
_LINE_SHAPES: dict[str, list[list[tuple[float, float | str]]]] = {
    "forehead": [[(-0.55, -0.95), (0.55, -0.95), (0.55, -0.45), (-0.55, -0.45)]],
    "crows_feet": [
        [(-1.02, -0.22), (-0.74, -0.22), (-0.74, 0.30), (-1.0, 0.36)],
        [(0.74, -0.22), (1.02, -0.22), (1.0, 0.36), (0.74, 0.30)],
    ],
    "nasolabial": [
        [(-0.40, "n-0.10"), (-0.18, "n-0.10"), (-0.24, "n+0.35"), (-0.50, "n+0.35")],
        [(0.18, "n-0.10"), (0.40, "n-0.10"), (0.50, "n+0.35"), (0.24, "n+0.35")],
    ],
}


def line_region_polygons(face: Face) -> dict[str, list[np.ndarray]]:
    """Polygons ((N, 2) x, y) of the fine-line regions: forehead, crow's feet (both sides),
    nasolabial folds (both sides), placed from the face's 5 landmarks (scaled by the eye
    distance, rotated with the eye line)."""
    le, re = np.asarray(face.left_eye, float), np.asarray(face.right_eye, float)
    mid = (le + re) / 2
    d = float(np.linalg.norm(re - le))
    if not math.isfinite(d) or d < 4:
        raise UsageError("face landmarks are degenerate (eyes closer than 4 px)")
    ux = (re - le) / d
    vy = np.array([-ux[1], ux[0]])
    nv = float(np.dot(np.asarray(face.nose, float) - mid, vy)) / d
    if not 0.35 <= nv <= 1.1:
        nv = 0.65
    out: dict[str, list[np.ndarray]] = {}
    for name, polys in _LINE_SHAPES.items():
        out[name] = []
        for poly in polys:
            pts = []
            for a, b in poly:
                bb = nv + float(b[1:]) if isinstance(b, str) else float(b)
                pts.append(mid + d * (a * ux + bb * vy))
            out[name].append(np.array(pts))
    return out


def _poly_mask(polys: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    for p in polys:
        cv2.fillPoly(m, [np.round(p * 16).astype(np.int32).reshape(-1, 1, 2)], 1, lineType=cv2.LINE_8, shift=4)
    return m.astype(bool)


def fine_lines(
    rgb: np.ndarray,
    mask: np.ndarray,
    *,
    scale: Scale | None = None,
    face: Face | None = None,
    region: str = "roi",
    _keep: dict | None = None,
) -> dict[str, Measurement]:
    """Fine lines and wrinkles: total line length and a depth proxy, per region.

    At 8 px/mm: Hessian of L* at sigma 0.35 mm; a pixel is on a line where the larger principal
    curvature (scale-normalised, L* units) is >= 2 and at least twice the other (a valley, not a
    blob); line components are thinned to one-pixel skeletons and kept when >= 3 mm long.
    Length sums the skeleton with each pixel weighted 1/max(|cos θ|, |sin θ|) (θ: the local line
    direction), which is exact for straight rasterised lines at any angle. Depth proxy: mean of
    (surrounding skin L*, Gaussian 1.5 mm) minus line L* along the skeleton, in L*: how dark the
    line is, which grows with depth under the same light; not a depth in mm.

    With a ``face`` the measures are also given per line region (forehead, crow's feet,
    nasolabial: :func:`line_region_polygons`), each intersected with ``mask``:
    ``fine_lines.<region>.line_length`` / ``.line_depth``.
    """
    c = "fine_lines"
    prep = _prepare(rgb, mask, scale, c, pad_mm=3.0)
    out = _Out(c, region, scale, prep)
    u = _units(prep)
    sub_regions: dict[str, np.ndarray] = {}
    if face is not None:
        _, mask_a = _check_inputs(rgb, mask)
        polys = line_region_polygons(face)
        for name in LINE_REGIONS:
            sub_regions[name] = _poly_mask(polys[name], mask_a.shape) & mask_a
    why = _low_res(scale, c) or _too_small(prep, 400)
    keys = ["line_length", "line_depth"] + [f"{r}.{k}" for r in sub_regions for k in ("line_length", "line_depth")]
    units = {k: (u["length"] if k.endswith("length") else "L* (line darker than skin around it)") for k in keys}
    if why:
        out.all_nan(keys, units, why)
        return out.d
    L = np.ascontiguousarray(_lab(prep.rgb)[..., 0])
    s = _px(prep, LINE_SIGMA_MM, c)
    lam1, lam2, along = _hessian(L, s)
    inner = _erode(prep.mask, max(1, round(s)))
    ridge = (lam1 >= LINE_STRENGTH) & (np.abs(lam2) < 0.5 * lam1) & inner
    skel = _skeletonize(ridge)
    n, lbl, _ = _components(skel)
    keep = np.zeros(n, bool)
    if n > 1:
        w = 1.0 / np.maximum(np.abs(np.cos(along)), np.abs(np.sin(along)))
        lengths = np.bincount(lbl.ravel(), weights=(w * skel).ravel(), minlength=n)
        keep[1:] = lengths[1:] >= _px(prep, LINE_MIN_LENGTH_MM, c)
    lines = keep[lbl] & skel
    _kept(_keep, prep, inner, lines=lines)
    if _keep is not None:
        _keep["line_along"] = along
        _keep["sub_regions"] = {name: prep.carry(sm) & inner for name, sm in sub_regions.items()}
    bg = _masked_gauss(L, prep.mask, _px(prep, LINE_BACKGROUND_MM, c))
    depth_map = bg - cv2.GaussianBlur(L, (0, 0), 0.5 * s)
    method_l = (f"Hessian valleys of L* (sigma {LINE_SIGMA_MM:g} mm, curvature >= {LINE_STRENGTH:g}), skeleton "
                f"components >= {LINE_MIN_LENGTH_MM:g} mm, orientation-corrected length")
    method_d = "mean (surrounding skin L*, 1.5 mm) - line L* along the line skeleton"

    def emit(prefix: str, sel: np.ndarray) -> None:
        if not sel.any():
            out.add(prefix + "line_length", float("nan"), u["length"], method_l, "no skin in this region")
            out.add(prefix + "line_depth", float("nan"), units["line_depth"], method_d, "no skin in this region")
            return
        ln = lines & sel
        out.add(prefix + "line_length", _len(prep, _skeleton_length(ln, along)), u["length"], method_l)
        out.add(prefix + "line_depth", float(depth_map[ln].mean()) if ln.any() else float("nan"),
                units["line_depth"], method_d, "no line found")

    emit("", inner)
    for name, sm in sub_regions.items():
        emit(f"{name}.", prep.carry(sm) & inner)
    return out.d


def hyperpigmentation(
    rgb: np.ndarray, mask: np.ndarray, *, scale: Scale | None = None, region: str = "roi",
    _keep: dict | None = None,
) -> dict[str, Measurement]:
    """Dark spots: area, count and contrast, and evenness of tone.

    Uses the general pigmentation metrics of :func:`analyzer.metrics.measure` (spot mask:
    L* smoothed 0.25 mm at least 5 L* below the surrounding skin, sigma 4 mm, components
    >= 0.25 mm²; tone unevenness: std of that ΔL*), run on the region resampled to 4 px/mm.
    Adds the spot area in mm² and the spot contrast: mean ΔL* (surrounding skin minus spot) over
    the spot pixels, L* units.
    """
    from analyzer import metrics as M

    c = "hyperpigmentation"
    prep = _prepare(rgb, mask, scale, c, pad_mm=3 * 4.0)
    out = _Out(c, region, scale, prep)
    u = _units(prep)
    units = {"spot_area": u["area"], "spot_area_fraction": "fraction of skin", "spot_count": "count",
             "spot_contrast": "L* (surrounding skin minus spot)", "tone_unevenness": "CIELAB L*"}
    why = _too_small(prep, 400)
    if why:
        out.all_nan(units, units, why)
        return _reorder(out.d, c)
    # metrics analyses spots at texture_scale x SPOT_SCALE_FACTOR: ask for our 4 px/mm grid as it is
    k = 1.0 / float(getattr(M, "SPOT_SCALE_FACTOR", 1.0))
    ms = M.measure(prep.rgb, mask=prep.mask, texture_scale=k,
                   px_per_mm=prep.px_per_mm * k if prep.px_per_mm else None, region=region, keep_maps=True)
    pig = ms.groups["pigmentation"]
    frac = pig["spot_area_fraction"]
    out.add("spot_area_fraction", frac.value, "fraction of skin", "= pigmentation.spot_area_fraction: " + frac.method,
            frac.reason)
    nskin = int(prep.mask.sum())
    out.add("spot_area", _area(prep, frac.value * nskin), u["area"], "spot_area_fraction x skin area", frac.reason)
    cnt = pig["spot_count"]
    out.add("spot_count", cnt.value, "count", "= pigmentation.spot_count: " + cnt.method, cnt.reason)
    tu = pig["tone_unevenness"]
    out.add("tone_unevenness", tu.value, "CIELAB L*", "= pigmentation.tone_unevenness: " + tu.method, tu.reason)
    contrast, reason = float("nan"), "no spots found"
    spots = ms.maps.get("spots") if ms.maps else None
    if _keep is not None and spots is not None:
        # the spot map of the metrics run, placed on this crop (1 analysis px = 1 crop px here)
        r0, c0 = ms.maps["offset"]
        placed = np.zeros(prep.mask.shape, bool)
        sh = spots
        if abs(float(ms.maps.get("texture_scale", 1.0)) - 1.0) > 1e-6:
            raise UsageError("spot map is not on the analysis grid")  # pragma: no cover - k is chosen so
        placed[r0 : r0 + sh.shape[0], c0 : c0 + sh.shape[1]] = sh
        skin_on = np.zeros(prep.mask.shape, bool)
        skin_on[r0 : r0 + sh.shape[0], c0 : c0 + sh.shape[1]] = ms.maps["skin"]
        _kept(_keep, prep, skin_on, spots=placed)
        _keep["spot_components"] = ms.maps["spot_components"]
    if spots is not None and spots.any():
        r0, c0 = ms.maps["offset"]
        ss = float(ms.maps.get("texture_scale", 1.0))
        h, w = round(spots.shape[0] / ss), round(spots.shape[1] / ss)
        sub = prep.rgb[r0 : r0 + h, c0 : c0 + w]
        sk = prep.mask[r0 : r0 + h, c0 : c0 + w]
        if spots.shape != sk.shape:
            spots = cv2.resize(spots.astype(np.uint8), (sk.shape[1], sk.shape[0]),
                               interpolation=cv2.INTER_NEAREST).astype(bool)
        L = np.ascontiguousarray(_lab(sub)[..., 0])
        Ls = cv2.GaussianBlur(L, (0, 0), 1.0)
        bg = _masked_gauss(Ls, sk, 16.0)
        contrast = float((bg - Ls)[spots].mean())
    elif spots is None:
        reason = "the metrics module did not return its spot map"
    out.add("spot_contrast", contrast, units["spot_contrast"],
            "mean over spot pixels of surrounding-skin L* (sigma 4 mm) minus spot L* (0.25 mm)", reason)
    return _reorder(out.d, c)


def stretch_marks(
    rgb: np.ndarray, mask: np.ndarray, *, scale: Scale | None = None, region: str = "roi",
    _keep: dict | None = None,
) -> dict[str, Measurement]:
    """Stretch marks (striae) in a body-area photo: area and mean width.

    At 4 px/mm: L* and a* smoothed 0.5 mm minus the surrounding skin (masked Gaussian 10 mm);
    a pixel is striae where it is at least 3 L* lighter (striae alba) or darker, or at least
    3 a* redder (striae rubra). A component counts when its skeleton is >= 10 mm long and it is
    elongated (length / mean width >= 3). Mean width = total area / total skeleton length.

    Returns
    -------
    dict
        ``stretch_marks.striae_area`` (mm² or px²), ``.striae_area_fraction`` (of skin),
        ``.striae_mean_width`` (mm or px), ``.striae_count``.
    """
    c = "stretch_marks"
    prep = _prepare(rgb, mask, scale, c, pad_mm=2 * STRIAE_BACKGROUND_MM)
    out = _Out(c, region, scale, prep)
    u = _units(prep)
    units = {"striae_area": u["area"], "striae_area_fraction": "fraction of skin",
             "striae_mean_width": u["length"], "striae_count": "count"}
    why = _too_small(prep, 1000)
    if why:
        out.all_nan(units, units, why)
        return _reorder(out.d, c)
    lab = _lab(prep.rgb)
    skin = prep.mask
    s_sm, s_bg = _px(prep, STRIAE_SMOOTH_MM, c), _px(prep, STRIAE_BACKGROUND_MM, c)
    dL = _local_contrast(lab[..., 0], skin, s_sm, s_bg)
    da = _local_contrast(lab[..., 1], skin, s_sm, s_bg)
    inner = _erode(skin, max(1, round(s_sm)))
    cand = ((np.abs(dL) >= STRIAE_DELTA) | (da >= STRIAE_DELTA)) & inner
    # close small gaps along a band (skin texture breaks a faint band into pieces), drop specks
    kc = max(1, round(_px(prep, STRIAE_CLOSE_MM, c)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * kc + 1, 2 * kc + 1))
    cand = cv2.morphologyEx(cand.astype(np.uint8), cv2.MORPH_CLOSE, disc)
    cand = cv2.morphologyEx(cand, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool) & inner
    n, lbl, stats = _components(cand)
    total_area = total_len = 0.0
    count = 0
    kept = np.zeros(n, bool)
    min_len = _px(prep, STRIAE_MIN_LENGTH_MM, c)
    for i in range(1, n):
        x, y, w, h = (int(stats[i, k]) for k in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT))
        comp = lbl[y : y + h, x : x + w] == i
        ys, xs = np.nonzero(comp)
        if len(ys) < 10:
            continue
        pts = np.vstack([xs, ys]).astype(np.float64)
        pts -= pts.mean(axis=1, keepdims=True)
        _, evec = np.linalg.eigh(np.cov(pts))
        proj = evec[:, 1] @ pts  # along the principal axis
        length = float(proj.max() - proj.min() + 1.0)
        area = float(len(ys))
        if length < min_len or length * length / area < STRIAE_MIN_ELONGATION:
            continue
        count += 1
        total_area += area
        total_len += length
        kept[i] = True
    nskin = int(inner.sum())
    _kept(_keep, prep, inner, striae=kept[lbl])
    method = (f"bands >= {STRIAE_DELTA:g} L* lighter/darker or a* redder than skin around (10 mm), "
              f"closed {STRIAE_CLOSE_MM:g} mm, length along the principal axis >= {STRIAE_MIN_LENGTH_MM:g} mm, "
              f"length/width >= {STRIAE_MIN_ELONGATION:g}")
    out.add("striae_area", _area(prep, total_area), u["area"], method)
    out.add("striae_area_fraction", total_area / nskin if nskin else float("nan"), "fraction of skin", method)
    out.add("striae_mean_width", _len(prep, total_area / total_len) if total_len > 0 else float("nan"), u["length"],
            "total striae area / total striae length (principal-axis extent)", "no stretch marks found")
    out.add("striae_count", count, "count", method)
    return _reorder(out.d, c)


def redness(
    rgb: np.ndarray,
    mask: np.ndarray,
    *,
    scale: Scale | None = None,
    face: Face | None = None,
    region: str = "roi",
    _keep: dict | None = None,
) -> dict[str, Measurement]:
    """Redness and rosacea: red-area fraction and mean a* on the cheeks and nose.

    The general redness metrics of :func:`analyzer.metrics.measure` (mean CIELAB a*, D65, and
    the share of skin with a* > :data:`analyzer.metrics.A_STAR_RED_THRESHOLD`, fixed, absolute)
    over ``mask`` ∩ (left cheek ∪ right cheek ∪ nose) of the ``face``:
    ``redness.cheeks_nose.red_area_fraction`` and ``redness.cheeks_nose.a_star_mean``.
    Without a face there are no cheeks to find: the keys are then ``redness.red_area_fraction``
    and ``redness.a_star_mean`` over ``mask``, the same numbers as the general metrics of that
    region. Colour only: ``scale`` is not used.
    """
    from analyzer import metrics as M
    from analyzer.regions import face_region_polygons, polygon_mask

    c = "redness"
    rgb, mask = _check_inputs(rgb, mask)
    prefix = ""
    if face is not None:
        fr = face_region_polygons(face)
        part = np.zeros(mask.shape, bool)
        for n in ("left_cheek", "right_cheek", "nose"):
            part |= polygon_mask(fr[n], mask.shape)
        mask = mask & part
        prefix = "cheeks_nose."
    out = _Out(c, region, scale, None)
    units = {prefix + "red_area_fraction": "fraction of skin", prefix + "a_star_mean": "CIELAB a* (D65)"}
    if int(mask.sum()) < 50:
        out.all_nan(units, units, "too few skin pixels (< 50)" + (" on the cheeks and nose" if prefix else ""))
        return _reorder(out.d, c)
    ys, xs = np.nonzero(mask)
    r0, r1, c0, c1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    ms = M.measure(np.ascontiguousarray(rgb[r0:r1, c0:c1]), mask=mask[r0:r1, c0:c1], region=region,
                   keep_maps=_keep is not None)
    if _keep is not None:
        _keep["red_maps"] = ms.maps
        _keep["red_box"] = (int(r0), int(r1), int(c0), int(c1))
    red = ms.groups["redness"]
    where = " over the cheeks and nose (5-point landmark regions)" if prefix else ""
    for k in ("red_area_fraction", "a_star_mean"):
        m = red[k]
        out.add(prefix + k, m.value, m.unit, f"= redness.{k}{where}: {m.method}", m.reason)
    return _reorder(out.d, c)


def hair_loss(
    rgb: np.ndarray, mask: np.ndarray, *, scale: Scale | None = None, region: str = "scalp"
) -> dict[str, Measurement]:
    """Hair loss, scalp microneedling: fraction of scalp showing and a hair density proxy.

    For a top-down photo of the scalp. At 8 px/mm (resolution permitting):

    * ``hair_loss.scalp_fraction``: share of the region lighter than the split between the dark
      (hair) and light (scalp) classes (Otsu's threshold on *linear* luminance, so a pixel half
      covered by hair sits on the split; NaN when the two classes' mean L* differ by less than
      10: light or grey hair on light scalp can't be separated by lightness).
    * ``hair_loss.hair_strand_density``: total length of visible dark strands (Hessian valleys of
      L*, sigma 0.15 mm, skeleton pieces >= 1 mm) per cm² of region, mm/cm². A *proxy* for
      hairs/cm²: a photo can't count hairs that overlap; thinner and fewer strands both lower it.

    Trichoscopy counts hairs per cm² at 20-70x; this measure is for following one patient's
    scalp between sessions in the same framing, not a trichogram.
    """
    c = "hair_loss"
    prep = _prepare(rgb, mask, scale, c, pad_mm=1.0)
    out = _Out(c, region, scale, prep)
    u = _units(prep)
    units = {"scalp_fraction": "fraction of region", "hair_strand_density": u["length_density"]}
    why = _low_res(scale, c) or _too_small(prep, 1000)
    if why:
        out.all_nan(units, units, why)
        return _reorder(out.d, c)
    L = np.ascontiguousarray(_lab(prep.rgb)[..., 0])
    Y = np.exp(_log_luminance(prep.rgb))
    vals = Y[prep.mask]
    from skimage.filters import threshold_otsu

    # split in *linear* luminance: a pixel half covered by hair then falls on the split
    t = float(threshold_otsu(vals))
    lo, hi = vals <= t, vals > t
    sep = float(L[prep.mask][hi].mean() - L[prep.mask][lo].mean()) if lo.any() and hi.any() else 0.0
    if sep < HAIR_MIN_SEPARATION_L:
        out.add("scalp_fraction", float("nan"), units["scalp_fraction"], "Otsu split of linear luminance",
                f"hair and scalp differ by only {sep:.1f} L* (< {HAIR_MIN_SEPARATION_L:g}): can't tell them apart")
    else:
        out.add("scalp_fraction", float(np.mean(hi)), units["scalp_fraction"],
                "share of region lighter than the hair/scalp split (Otsu on linear luminance)")
    s = _px(prep, HAIR_SIGMA_MM, c)
    lam1, lam2, along = _hessian(L, max(s, 0.8))
    inner = _erode(prep.mask, 1)
    ridge = (lam1 >= HAIR_STRENGTH) & (np.abs(lam2) < 0.5 * lam1) & inner
    skel = _skeletonize(ridge)
    n, lbl, _ = _components(skel)
    total = 0.0
    if n > 1:
        w = 1.0 / np.maximum(np.abs(np.cos(along)), np.abs(np.sin(along)))
        lengths = np.bincount(lbl.ravel(), weights=(w * skel).ravel(), minlength=n)
        keep = lengths[1:] >= _px(prep, HAIR_MIN_LENGTH_MM, c)
        total = float(lengths[1:][keep].sum())
    nreg = int(inner.sum())
    dens = _per_area(prep, _len(prep, total), nreg)
    out.add("hair_strand_density", dens, u["length_density"],
            f"length of dark strands (Hessian valleys of L*, sigma {HAIR_SIGMA_MM:g} mm, >= {HAIR_MIN_LENGTH_MM:g} mm) "
            "per area of region")
    return _reorder(out.d, c)
