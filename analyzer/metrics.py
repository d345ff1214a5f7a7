"""Skin metrics: redness, pigmentation, texture, with calibration, skin fraction and quality.

Every number is absolute: no per-image normalisation (no "top 20 % of a* is red", no percentile
stretch). Thresholds are fixed constants in this module and documented in ``docs/metrics.md``,
so a value means the same in every session.

Order of work in :func:`measure`: apply the colour calibration (if any) to the region's bounding
box -> CIELAB D65 (``cv2``) -> colour means over the skin mask -> resample the crop to the
texture scale -> spots, roughness, pores, wrinkles, GLCM -> quality.

``measure`` applies the calibration itself: pass the *uncalibrated* photo and the
:class:`~analyzer.calibrate.Calibration` of that photo.

Texture scale: spatial metrics (spots, tone unevenness and texture) are computed after resampling
the crop by ``texture_scale``. :func:`measure_photo` sets it from the face so that the eye-centre
distance becomes :data:`CANONICAL_EYE_DISTANCE_PX` (about :data:`CANONICAL_PX_PER_MM` px/mm with a
population-average eye distance of :data:`EYE_DISTANCE_MM` mm). In a comparison the follow-up is
warped into the baseline frame, so both photos must be measured with the *same* factor (1.0, or
the baseline's face-size factor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from analyzer import __version__
from analyzer.calibrate import NO_CALIBRATION, Calibration, apply_calibration, calibrate
from analyzer.color import delta_e_2000, rgb_to_lab, srgb_to_linear
from analyzer.face import Face, detect_face
from analyzer.metric_defs import (  # noqa: F401 - the definitions, re-exported
    _CALIBRATED_BASIS,
    _CALIBRATED_COLOUR_BANDS,
    _CANONICAL_SKIN_LAB,
    _REPEAT_BASIS,
    ABSOLUTE_COLOUR_KEYS,
    DEFAULT_REFERENCE_REGION,
    GROUPS,
    MAX_RESOLUTION_RATIO,
    METRIC_KEYS,
    NOISE_BANDS,
    NOISE_BANDS_ACROSS,
    NOISE_BANDS_WITHIN,
    PERCENT_UNDEFINED_KEYS,
    RELATIVE_COLOUR_KEYS,
    SPOT_SCALE_KEYS,
    TEXTURE_KEYS,
    noise_band,
    noise_band_basis,
)
from analyzer.regions import ROI, mask_bbox, polygon_mask, roi_label, roi_polygon, skin_mask
from analyzer.results import Measurement, finite_or_none, nan_measurement

__all__ = [
    "MetricSet",
    "measure",
    "measure_photo",
    "change_maps",
    "noise_band",
    "noise_band_basis",
    "reference_region_for",
    "texture_scale_for",
    "METRIC_KEYS",
    "NOISE_BANDS",
    "A_STAR_RED_THRESHOLD",
    "SPOT_DELTA_L",
    "CANONICAL_EYE_DISTANCE_PX",
    "CANONICAL_PX_PER_MM",
    "EYE_DISTANCE_MM",
]

# ---------------------------------------------------------------------------------------------
# Fixed constants (the contract: change one and the numbers change meaning -> new version).
# ---------------------------------------------------------------------------------------------
#: Absolute a* (CIELAB D65) above which a skin pixel counts as red.
A_STAR_RED_THRESHOLD = 15.0
#: A spot is skin at least this much darker (ΔL*) than the skin around it.
SPOT_DELTA_L = -5.0
#: Population-average distance between the eye centres, mm (adult interpupillary distance ~63 mm).
EYE_DISTANCE_MM = 63.0
#: Texture analysis scale: px per mm after resampling (texture band 0.5-2 mm). Chosen so that
#: every usual face photo is *reduced* to it (eye distance >= 126 px): upsampling a distant photo
#: cannot create detail, and at 4 px/mm roughness varied 32 % across camera distances
#: (shared/photos/faces/zoom, 15-60 cm) against 16 % at 2 px/mm.
CANONICAL_PX_PER_MM = 2.0
#: Spots and tone unevenness are analysed at this multiple of the texture scale (4 px/mm on a face):
#: freckles and lentigines of 1-5 mm need the finer grid.
SPOT_SCALE_FACTOR = 2.0
#: Eye-centre distance, px, that a face is resampled to for texture metrics (63 mm at 2 px/mm = 126 px).
CANONICAL_EYE_DISTANCE_PX = EYE_DISTANCE_MM * CANONICAL_PX_PER_MM
#: Colour statistics are computed on at most this many pixels of the crop (area-averaged).
COLOUR_MAX_PIXELS = 1_500_000
#: Upper bound on the texture resampling factor (never invent > 3x detail).
MAX_TEXTURE_UPSAMPLE = 3.0

# Spatial parameters, in analysis pixels: spot/tone parameters at the spot scale (1 px = 0.25 mm
# on a face), texture parameters at the texture scale (1 px = 0.5 mm on a face).
_SPOT_SMOOTH_SIGMA = 1.0  # denoise before spot detection (0.25 mm)
_BACKGROUND_SIGMA = 16.0  # surrounding skin (4 mm)
_SPOT_MIN_AREA_PX = 12  # 0.75 mm^2 (about 1 mm across): smaller dark specks are pores and noise
_SPOT_MAX_AREA_PX = 400  # 25 mm^2 (about 5.6 mm across): bigger dark areas are shading, not spots
_SPOT_MAX_ELONGATION = 4.0  # (longest bounding-box side)^2 / area: folds and lines are not spots
_SPOT_EXTENT = 0.75  # a spot's extent: skin darker than 0.75 x SPOT_DELTA_L (hysteresis)
_SPOT_MIN_FILL = 0.5  # area / bounding box: a disc fills 0.79, ragged shading far less
_SPOT_MAX_EDGE_SHARE = 0.5  # share of a spot within 2 px (0.5 mm) of non-skin: above it, no skin around it
_ROUGH_SIGMAS = (1.0, 4.0)  # DoG band at the texture scale: 0.5 mm .. 2 mm
_PORE_SIGMA = 1.5  # DoG blob scale: 0.75 mm (enlarged pores, pore clusters)
_PORE_DEPTH = 2.0  # L* units darker than surroundings at that scale
_WRINKLE_SIGMA = 1.5  # Hessian scale: 0.75 mm (fine lines and wrinkles ~1-2 mm wide)
_WRINKLE_STRENGTH = 1.5  # principal curvature, L* per px^2 * sigma^2 (scale-normalised)
_WRINKLE_MIN_LENGTH_PX = 8  # 4 mm
_GLCM_DIST = 2  # 1 mm
_GLCM_HP_SIGMA = 8.0  # high-pass before the GLCM: 4 mm
_GLCM_LEVELS = 32  # 1 L* per level of high-passed L*, centred
_BLUR_THRESHOLD = 0.15  # variance of Laplacian of L* at analysis scale below this: blurred


_UNITS_METHODS: dict[str, tuple[str, str]] = {
    "a_star_mean": ("CIELAB a* (D65)", "mean a* over skin pixels, cv2 RGB->Lab on float sRGB"),
    "erythema_index_mean": (
        "EI units",
        "mean of 100*(log10(1/G) - log10(1/R)) on linearised sRGB R, G over skin (Dawson 1980, Diffey 1984)",
    ),
    "red_area_fraction": ("fraction of skin", f"share of skin pixels with a* > {A_STAR_RED_THRESHOLD:g} (fixed)"),
    "L_star_mean": ("CIELAB L* (D65)", "mean L* over skin pixels"),
    "ita_deg_mean": ("degrees", "ITA = atan2(L* - 50, b*)*180/pi of the mean L*, b* of skin (Chardon 1991, Del Bino 2006)"),
    "melanin_index_mean": ("MI units", "mean of 100*log10(1/R) on linearised sRGB R over skin (Dawson 1980)"),
    "spot_area_fraction": (
        "fraction of skin",
        f"skin with L* (smoothed sigma 1 px) <= {SPOT_DELTA_L:g} below the surrounding skin (masked Gaussian, "
        f"sigma 16 px), in spots: components of skin <= {_SPOT_EXTENT * SPOT_DELTA_L:g} holding such pixels, "
        f"{_SPOT_MIN_AREA_PX}-{_SPOT_MAX_AREA_PX} px, roundish, compact, with skin around them; "
        "px of the analysis scale {scale}",
    ),
    "spot_count": ("count", "number of spots (8-connected components, as for spot_area_fraction)"),
    "tone_unevenness": ("CIELAB L*", "std over skin of L* smoothed (sigma 1 px) minus surrounding skin (sigma 16 px); {scale}"),
    "roughness": ("CIELAB L* (RMS)", "RMS over eroded skin of DoG(L*), sigma 1 px minus sigma 4 px; {scale}"),
    "pore_density": ("per cm^2", "dark blobs (DoG sigma 1.5 px / 4.5 px, depth >= 2 L*) per area of skin; {scale}"),
    "wrinkle_density": (
        "fraction of skin",
        "share of skin on dark ridges (Hessian, sigma 1.5 px, scale-normalised curvature >= 1.5), length >= 8 px; {scale}",
    ),
    "glcm_contrast": ("GLCM contrast (levels^2)", "Haralick contrast of high-passed L* (minus Gaussian sigma 8 px; 1 L*/level, 32 levels), d=2 px, 4 angles; {scale}"),
    "glcm_homogeneity": ("GLCM homogeneity (0-1)", "Haralick homogeneity (inverse difference moment), same GLCM; {scale}"),
    "a_star_vs_reference": ("CIELAB a* difference", "mean a* over the region's skin minus mean a* over the "
                            "reference skin region {ref} in the same photo"),
    "a_star_reference_balanced": ("CIELAB a* (reference-balanced)", "a* of the region's mean linear RGB divided "
                                  "channel by channel by the reference skin's {ref} mean linear RGB, times a "
                                  "canonical skin colour (Lab 65, 12, 16): von Kries white balance on the reference skin"),
    "erythema_index_vs_reference": ("EI units", "mean EI = 100*log10(R/G) (linearised sRGB) over the region's skin "
                                    "minus the same over the reference skin region {ref}"),
    "L_star_vs_reference": ("CIELAB L* difference", "mean L* over the region's skin minus mean L* over the "
                            "reference skin region {ref}"),
    "melanin_index_vs_reference": ("MI units", "mean MI = 100*log10(1/R) (linearised sRGB) over the region's skin "
                                   "minus the same over the reference skin region {ref}"),
}


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricSet:
    """All metrics of one region of one photo."""

    groups: dict[str, dict[str, Measurement]]
    calibration: Calibration
    skin_fraction: float
    quality: dict
    scale: dict
    region: str
    maps: dict = field(default_factory=dict, repr=False, compare=False)
    #: The reference skin of the relative colour measures: region name, its skin pixels and
    #: colour means (``None`` values and a ``reason`` when there was none).
    reference: dict = field(default_factory=dict)

    def value(self, key: str) -> float:
        """Value of ``"group.key"`` or ``"key"`` (NaN when absent)."""
        if "." in key:
            g, k = key.split(".", 1)
            m = self.groups.get(g, {}).get(k)
        else:
            m = next((d[key] for d in self.groups.values() if key in d), None)
        return float("nan") if m is None else float(m.value)

    def to_dict(self) -> dict:
        out: dict = {}
        meta: dict = {}
        for g in GROUPS:
            out[g] = {}
            for k, m in self.groups.get(g, {}).items():
                out[g][k] = m.json_value()
                meta[f"{g}.{k}"] = {"unit": m.unit, "method": m.method, "reason": m.reason}
                if k in RELATIVE_COLOUR_KEYS:
                    meta[f"{g}.{k}"]["reference_region"] = (self.reference or {}).get("region")
        out["calibration"] = self.calibration.to_dict()
        out["skin_fraction"] = finite_or_none(self.skin_fraction)
        out["quality"] = self.quality
        out["scale"] = self.scale
        out["region"] = self.region
        out["reference"] = dict(self.reference) if self.reference else _reference_record(None, None, None)
        out["meta"] = meta
        out["analyzer_version"] = __version__
        return out


def _scale_text(px_per_mm: float | None, texture_scale: float) -> str:
    if px_per_mm:
        return f"analysis scale {px_per_mm:g} px/mm (1 px = {1 / px_per_mm:.3g} mm)"
    return f"analysis scale = photo pixels x {texture_scale:.3g} (mm scale unknown)"


def _m(group: str, key: str, value: float, region: str, reason: str | None = None, unit: str | None = None,
       scale_text: str = "", ref_text: str = "") -> Measurement:
    u, meth = _UNITS_METHODS[key]
    meth = meth.replace("{scale}", scale_text or "scale as reported").replace("{ref}", ref_text or "(none)")
    if unit is not None:
        u = unit
    v = float(value) if value is not None else float("nan")
    if not math.isfinite(v):
        return nan_measurement(key, u, meth, reason or "could not be computed", group=group, region=region)
    return Measurement(name=key, value=v, unit=u, method=meth, group=group, region=region)


def _colour_means(crop: np.ndarray, mask: np.ndarray) -> dict:
    """Mean linear RGB, L*, a*, EI and MI over the mask's pixels of a calibrated crop
    (area-averaged to :data:`COLOUR_MAX_PIXELS`, as the region's colour statistics are)."""
    h, w = crop.shape[:2]
    cs = min(1.0, math.sqrt(COLOUR_MAX_PIXELS / max(h * w, 1)))
    if cs < 1.0:
        size = (max(1, round(w * cs)), max(1, round(h * cs)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.999
    px = crop[mask]
    if len(px) < 50:
        return {}
    lab = rgb_to_lab(px.reshape(-1, 1, 3)).reshape(-1, 3)
    lin = np.clip(srgb_to_linear(px), 1e-4, 1)
    return {
        "n": int(len(px)),
        "linear_rgb": [float(x) for x in lin.mean(axis=0)],
        "L_star": float(lab[:, 0].mean()),
        "a_star": float(lab[:, 1].mean()),
        "ei": float(np.mean(100 * np.log10(lin[:, 0] / lin[:, 1]))),
        "mi": float(np.mean(100 * np.log10(1.0 / lin[:, 0]))),
    }


def _canonical_skin_linear() -> np.ndarray:
    from analyzer.color import lab_to_rgb

    lab = np.array([[_CANONICAL_SKIN_LAB]], np.float32)
    return srgb_to_linear(lab_to_rgb(lab)).reshape(3).astype(np.float64)


def _balanced_a_star(region_lin, reference_lin) -> float:
    """a* of the region's mean linear RGB white-balanced on the reference skin (von Kries)."""
    from analyzer.color import linear_to_srgb

    x = np.asarray(region_lin, np.float64) / np.maximum(np.asarray(reference_lin, np.float64), 1e-6)
    x = np.clip(x * _canonical_skin_linear(), 0, 1)
    srgb = linear_to_srgb(x.astype(np.float32)).reshape(1, 1, 3)
    return float(rgb_to_lab(srgb.astype(np.float32)).reshape(3)[1])


def reference_region_for(region: str, reference: str | None = None) -> str:
    """The reference skin region of ``region``: ``reference`` when the series names one (and it is
    not the region itself), else :data:`DEFAULT_REFERENCE_REGION`, or the chin for the forehead."""
    if reference and reference != region:
        return reference
    return "chin" if region == DEFAULT_REFERENCE_REGION else DEFAULT_REFERENCE_REGION


def _masked_gauss(img: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian mean of img over mask pixels only (normalised convolution)."""
    m = mask.astype(np.float32)
    num = cv2.GaussianBlur(img * m, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    den = cv2.GaussianBlur(m, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return num / np.maximum(den, 1e-6)


def _lighting_estimate(rgb: np.ndarray, valid: np.ndarray | None = None,
                       calibration: Calibration | None = None) -> dict:
    """A coarse, photo-wide lighting estimate (not a normalisation): overall mean L*, and the Lab
    of the brightest low-chroma pixels (a white-point proxy from background/clothes).

    ``valid`` limits it to the given pixels: the scene around the person (skin changes under
    treatment, so it must not move the lighting estimate) where there is image content (a
    follow-up warped into the baseline frame is empty outside the warp). The estimate is made
    on the photo's calibrated colours (``calibration``): a lighting change that a chart or a
    reference patch has corrected is no longer a difference."""
    k = lighting_stride(rgb.shape)
    return lighting_from_strided(rgb[::k, ::k], None if valid is None else valid[::k, ::k], calibration)


def lighting_stride(shape: tuple[int, ...]) -> int:
    """The pixel stride of the lighting estimate (a full-size area resize of 12 MP is slow)."""
    return max(1, max(int(shape[0]), int(shape[1])) // 1024)


def lighting_from_strided(sub: np.ndarray, valid: np.ndarray | None = None,
                          calibration: Calibration | None = None) -> dict:
    """:func:`_lighting_estimate` of a photo given as every :func:`lighting_stride`-th pixel
    (``rgb[::k, ::k]``, and ``valid[::k, ::k]``): a follow-up warped at that stride gives the
    estimate of its full warp without warping the whole frame."""
    sub = np.ascontiguousarray(sub, dtype=np.float32)
    h, w = sub.shape[:2]
    s = min(1.0, 256 / max(h, w))
    size = (max(1, round(w * s)), max(1, round(h * s)))
    small = apply_calibration(cv2.resize(sub, size, interpolation=cv2.INTER_AREA), calibration)
    lab = rgb_to_lab(small).reshape(-1, 3)
    if valid is not None:
        v = cv2.resize(np.ascontiguousarray(valid, dtype=np.float32), size, interpolation=cv2.INTER_AREA)
        lab = lab[v.reshape(-1) > 0.999]  # wholly inside: no blend with the empty border
        if len(lab) == 0:
            return {"image_mean_L": float("nan"), "white_point_lab": None}
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    neutral = lab[(chroma < 8) & (lab[:, 0] < 99)]
    wp = None
    if len(neutral) >= 20:
        top = neutral[neutral[:, 0] >= np.percentile(neutral[:, 0], 90)]
        wp = [float(x) for x in top.mean(axis=0)]
    return {"image_mean_L": float(lab[:, 0].mean()), "white_point_lab": wp}


_BELOW_HI = np.nextafter(np.float32(0.99), np.float32(0))  # the largest value not clipped high
_ABOVE_LO = np.nextafter(np.float32(0.01), np.float32(1))  # the smallest value not clipped low


def _quality(rgb_crop, region_crop, L_tex, skin_tex, light: dict, baseline_quality,
             calibration: Calibration | None = None) -> dict:
    reg = np.ascontiguousarray(region_crop, dtype=bool).view(np.uint8)
    nreg = int(np.count_nonzero(reg))
    n = max(nreg, 1)
    # Clipped: some channel >= 0.99 (highlights) or <= 0.01 (shadows). Counted as the region
    # minus the pixels with every channel strictly inside (one OpenCV pass, no max/min planes).
    crop = np.ascontiguousarray(rgb_crop, dtype=np.float32)
    inside_hi = cv2.inRange(crop, (-np.inf,) * 3, (float(_BELOW_HI),) * 3)
    inside_lo = cv2.inRange(crop, (float(_ABOVE_LO),) * 3, (np.inf,) * 3)
    hi = float((nreg - cv2.countNonZero(cv2.bitwise_and(inside_hi, inside_hi, mask=reg))) / n)
    lo = float((nreg - cv2.countNonZero(cv2.bitwise_and(inside_lo, inside_lo, mask=reg))) / n)
    blur = float("nan")
    if skin_tex.sum() > 50:
        lap = cv2.Laplacian(cv2.GaussianBlur(L_tex, (0, 0), 0.5), cv2.CV_32F)
        inner = cv2.erode(skin_tex.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        if inner.sum() > 20:
            blur = float(lap[inner].var())
    warnings: list[str] = []
    if math.isfinite(blur) and blur < _BLUR_THRESHOLD:
        warnings.append("The photo looks blurred in this region: texture numbers will read low.")
    if hi > 0.01:
        warnings.append(f"{hi:.0%} of the region is overexposed (clipped highlights).")
    if lo > 0.01:
        warnings.append(f"{lo:.0%} of the region is underexposed (clipped shadows).")
    differs = None
    if baseline_quality is not None:
        differs = False
        bl = baseline_quality.get("lighting", {}) or {}
        dL = light["image_mean_L"] - float(bl.get("image_mean_L", light["image_mean_L"]))
        dwp = float("nan")
        if light["white_point_lab"] is not None and bl.get("white_point_lab") is not None:
            dwp = float(delta_e_2000(np.array(light["white_point_lab"]), np.array(bl["white_point_lab"])))
        if abs(dL) > 5 or (math.isfinite(dwp) and dwp > 3):
            differs = True
            warnings.append(
                "The lighting differs from the baseline's "
                f"(overall lightness {dL:+.1f} L*"
                + (f", white point ΔE2000 {dwp:.1f}" if math.isfinite(dwp) else "")
                + (", after colour calibration" if calibration is not None and calibration.method != "none" else "")
                + "): changes may be lighting, not skin."
            )
    return {
        "blur_laplacian_var": finite_or_none(blur),
        "blur_threshold": _BLUR_THRESHOLD,
        "blurred": bool(math.isfinite(blur) and blur < _BLUR_THRESHOLD),
        "clipped_highlights_fraction": hi,
        "clipped_shadows_fraction": lo,
        "lighting": light,
        "lighting_differs": differs,
        "warnings": warnings,
    }


def _spot_stats(L: np.ndarray, skin: np.ndarray) -> tuple[float, int, float, np.ndarray]:
    """Spot area fraction, spot count, tone unevenness and the spot mask.

    1. ΔL* = L* (smoothed) minus the surrounding skin (masked Gaussian, skin pixels only).
    2. A spot is a component of skin darker than ``_SPOT_EXTENT * SPOT_DELTA_L`` (its extent)
       that holds pixels darker than ``SPOT_DELTA_L`` (its core). Judging the extent, not the
       core, joins the fragments of a shadow line or a crease into one component that the shape
       rules then reject as a whole (hysteresis).
    3. Kept: extent of ``_SPOT_MIN_AREA_PX``..``_SPOT_MAX_AREA_PX``, elongation <=
       ``_SPOT_MAX_ELONGATION``, filling >= ``_SPOT_MIN_FILL`` of its bounding box (a spot is
       compact; a patch of uneven shading is ragged), and with skin around it: a component of
       which more than ``_SPOT_MAX_EDGE_SHARE`` lies next to non-skin (hair, an eyebrow, a deep
       fold, the region's edge) has no surrounding skin on that side to be darker than.
    The area is that of the cores (skin at least ``SPOT_DELTA_L`` darker), as documented.
    """
    Ls = cv2.GaussianBlur(L, (0, 0), _SPOT_SMOOTH_SIGMA)
    dL = Ls - _masked_gauss(Ls, skin, _BACKGROUND_SIGMA)
    core = (dL <= SPOT_DELTA_L) & skin
    ext = (dL <= _SPOT_EXTENT * SPOT_DELTA_L) & skin
    n, lbl, stats, _ = cv2.connectedComponentsWithStats(ext.astype(np.uint8), connectivity=8)
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    has_core = np.bincount(lbl[core], minlength=n) > 0
    elong = np.maximum(w, h).astype(np.float64) ** 2 / np.maximum(area, 1)
    fill = area / np.maximum(w * h, 1)
    near = cv2.dilate((~skin).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    edge_share = np.bincount(lbl[near], minlength=n) / np.maximum(area, 1)
    keep = (
        has_core
        & (area >= _SPOT_MIN_AREA_PX)
        & (area <= _SPOT_MAX_AREA_PX)
        & (elong <= _SPOT_MAX_ELONGATION)
        & (fill >= _SPOT_MIN_FILL)
        & (edge_share <= _SPOT_MAX_EDGE_SHARE)
    )
    keep[0] = False
    spots = keep[lbl] & core
    nskin = max(int(skin.sum()), 1)
    uneven = float(np.std(dL[skin])) if skin.any() else float("nan")
    return float(spots.sum() / nskin), int(keep.sum()), uneven, spots


def _glcm(L: np.ndarray, skin: np.ndarray) -> tuple[float, float]:
    hp = L - cv2.GaussianBlur(L, (0, 0), _GLCM_HP_SIGMA)
    q = np.clip(np.round(hp) + _GLCM_LEVELS // 2, 0, _GLCM_LEVELS - 1).astype(np.int32)
    lv = _GLCM_LEVELS
    P = np.zeros((lv, lv), np.float64)
    d = _GLCM_DIST
    for dy, dx in ((0, d), (-d, d), (-d, 0), (-d, -d)):  # 0, 45, 90, 135 degrees
        h, w = q.shape
        y0, y1 = max(0, -dy), min(h, h - dy)
        x0, x1 = max(0, -dx), min(w, w - dx)
        a = q[y0:y1, x0:x1]
        b = q[y0 + dy : y1 + dy, x0 + dx : x1 + dx]
        ok = skin[y0:y1, x0:x1] & skin[y0 + dy : y1 + dy, x0 + dx : x1 + dx]
        if ok.any():
            idx = a[ok] * lv + b[ok]
            c = np.bincount(idx, minlength=lv * lv).reshape(lv, lv).astype(np.float64)
            P += c + c.T  # symmetric
    tot = P.sum()
    if tot <= 0:
        return float("nan"), float("nan")
    P /= tot
    i, j = np.indices(P.shape)
    diff2 = (i - j) ** 2
    return float((P * diff2).sum()), float((P / (1.0 + diff2)).sum())


def _wrinkles(L: np.ndarray, skin: np.ndarray) -> np.ndarray:
    s = _WRINKLE_SIGMA
    g = cv2.GaussianBlur(L, (0, 0), s)
    dxx = cv2.Sobel(g, cv2.CV_32F, 2, 0, ksize=3)
    dyy = cv2.Sobel(g, cv2.CV_32F, 0, 2, ksize=3)
    dxy = cv2.Sobel(g, cv2.CV_32F, 1, 1, ksize=3)
    tmp = np.sqrt((dxx - dyy) ** 2 + 4 * dxy**2)
    lam1 = 0.5 * (dxx + dyy + tmp)  # larger eigenvalue: > 0 across a dark valley
    lam2 = 0.5 * (dxx + dyy - tmp)
    ridge = (lam1 * s * s >= _WRINKLE_STRENGTH) & (np.abs(lam2) < 0.5 * lam1) & skin
    n, lbl, stats, _ = cv2.connectedComponentsWithStats(ridge.astype(np.uint8), connectivity=8)
    ext = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    keep = np.zeros(n, bool)
    keep[1:] = ext[1:] >= _WRINKLE_MIN_LENGTH_PX
    return keep[lbl]


def _pores(L: np.ndarray, skin: np.ndarray) -> int:
    s = _PORE_SIGMA
    dog = cv2.GaussianBlur(L, (0, 0), s) - cv2.GaussianBlur(L, (0, 0), 3 * s)
    mn = cv2.erode(dog, np.ones((5, 5), np.uint8))
    peaks = (dog <= mn) & (dog <= -_PORE_DEPTH) & skin
    n, *_ = cv2.connectedComponentsWithStats(peaks.astype(np.uint8), connectivity=8)
    return max(n - 1, 0)


def measure(
    rgb: np.ndarray,
    *,
    mask: np.ndarray,
    calibration: Calibration | None = None,
    texture_scale: float = 1.0,
    baseline_quality: dict | None = None,
    region: str = "roi",
    px_per_mm: float | None = None,
    region_mask: np.ndarray | None = None,
    keep_maps: bool = False,
    lighting_mask: np.ndarray | None = None,
    lighting: dict | None = None,
    reference_mask: np.ndarray | None = None,
    reference_region: str | None = None,
) -> MetricSet:
    """Measure every metric over the skin pixels ``mask`` of a photo.

    Parameters
    ----------
    rgb : ndarray (rows, cols, 3) float32 sRGB [0, 1]
        The photo, *not* calibrated yet: the calibration is applied here.
    mask : bool ndarray (rows, cols)
        Skin pixels to measure (from :func:`analyzer.regions.skin_mask`).
    calibration : Calibration, optional
        The photo's calibration (``None`` = ``method="none"``).
    texture_scale : float
        Resampling factor to the analysis scale for spatial metrics (1.0 = pixels as they are).
    baseline_quality : dict, optional
        The baseline's ``quality`` dict: enables the ``lighting_differs`` warning.
    region : str
        Label of the region, stored with every number.
    px_per_mm : float, optional
        Pixels per mm *after* resampling; pore density is then per cm^2, else per 10^4 px^2.
    region_mask : bool ndarray, optional
        The whole region (skin and not), for skin_fraction and clipping; defaults to ``mask``.
    keep_maps : bool
        Keep intermediate maps (spots, ΔL*) in ``MetricSet.maps`` (for display).
    lighting_mask : bool ndarray, optional
        Pixels the photo-wide lighting estimate may use: scene, not skin (skin is what changes
        under treatment), and only where there is image content (a warped follow-up is empty
        outside the warp). Give the baseline the same mask so both are judged on the same part
        of the scene.
    lighting : dict, optional
        The photo-wide lighting estimate already made (:func:`lighting_from_strided`): when the
        photo given is a window of a larger frame (a region's box), the estimate is of the frame.
    reference_mask : bool ndarray, optional
        Skin of the reference region in the same photo (same frame as ``mask``): the relative
        colour measures (``*_vs_reference``, ``a_star_reference_balanced``) are the region's
        colour against it. Without it they are NaN with a reason.
    reference_region : str, optional
        The reference region's name, recorded in the methods and in ``reference``.

    Returns
    -------
    MetricSet
        Every key of :data:`METRIC_KEYS`; a value that can't be computed is NaN with a reason.
    """
    cal = calibration if calibration is not None else NO_CALIBRATION
    mask = np.asarray(mask, bool)
    if mask.shape != rgb.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match the photo {rgb.shape[:2]}")
    if not (texture_scale > 0 and math.isfinite(texture_scale)):
        raise ValueError("texture_scale must be a positive number")
    regm = mask if region_mask is None else np.asarray(region_mask, bool)
    b0, b1, b2, b3 = mask_bbox(regm if region_mask is not None else mask)
    if region_mask is not None:
        m0, m1, m2, m3 = mask_bbox(mask)
        if m1 > m0:  # skin outside the region's box (unusual): take the union of both boxes
            b0, b1, b2, b3 = min(b0, m0), max(b1, m1), min(b2, m2), max(b3, m3)
    nreg = int(np.count_nonzero(regm[b0:b1, b2:b3]))
    nskin = int(np.count_nonzero(mask[b0:b1, b2:b3]))
    skin_fraction = nskin / nreg if nreg else float("nan")
    scale = {
        "texture_scale": float(texture_scale),
        "px_per_mm": finite_or_none(px_per_mm),
        "canonical_px_per_mm": CANONICAL_PX_PER_MM,
    }
    groups: dict[str, dict[str, Measurement]] = {g: {} for g in GROUPS}
    if nskin < 50:
        reason = "too few skin pixels in the region (< 50)" if nreg else "empty region"
        for g in GROUPS:
            for k in METRIC_KEYS[g]:
                groups[g][k] = _m(g, k, float("nan"), region, reason, scale_text=_scale_text(px_per_mm, texture_scale))
        q = {
            "blur_laplacian_var": None,
            "blur_threshold": _BLUR_THRESHOLD,
            "blurred": None,
            "clipped_highlights_fraction": None,
            "clipped_shadows_fraction": None,
            "lighting": _lighting_estimate(rgb, lighting_mask, cal) if lighting is None else lighting,
            "lighting_differs": None,
            "warnings": [reason],
        }
        return MetricSet(groups, cal, skin_fraction, q, scale, region,
                         reference=_reference_record(reference_region, None, reason))

    pad = measure_padding(texture_scale)
    r0, r1 = max(0, b0 - pad), min(rgb.shape[0], b1 + pad)
    c0, c1 = max(0, b2 - pad), min(rgb.shape[1], b3 + pad)
    crop = apply_calibration(np.ascontiguousarray(rgb[r0:r1, c0:c1]), cal)
    mcrop = mask[r0:r1, c0:c1]
    rcrop = regm[r0:r1, c0:c1]

    # ---- colour statistics (area-averaged to COLOUR_MAX_PIXELS for speed) --------------------
    h, w = crop.shape[:2]
    cs = min(1.0, math.sqrt(COLOUR_MAX_PIXELS / (h * w)))
    if cs < 1.0:
        size = (max(1, round(w * cs)), max(1, round(h * cs)))
        ccrop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        cmask = cv2.resize(mcrop.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.999
    else:
        ccrop, cmask = crop, mcrop
    lab = rgb_to_lab(ccrop)
    sk = lab[cmask]
    lin = srgb_to_linear(ccrop[cmask])
    R = np.clip(lin[:, 0], 1e-4, 1)
    G = np.clip(lin[:, 1], 1e-4, 1)
    Lm, am, bm = (float(x) for x in sk.mean(axis=0))
    groups["redness"]["a_star_mean"] = _m("redness", "a_star_mean", am, region)
    groups["redness"]["erythema_index_mean"] = _m(
        "redness", "erythema_index_mean", float(np.mean(100 * np.log10(R / G))), region
    )
    groups["redness"]["red_area_fraction"] = _m(
        "redness", "red_area_fraction", float(np.mean(sk[:, 1] > A_STAR_RED_THRESHOLD)), region
    )
    groups["pigmentation"]["L_star_mean"] = _m("pigmentation", "L_star_mean", Lm, region)
    groups["pigmentation"]["ita_deg_mean"] = _m(
        "pigmentation", "ita_deg_mean", math.degrees(math.atan2(Lm - 50.0, bm)), region
    )
    groups["pigmentation"]["melanin_index_mean"] = _m(
        "pigmentation", "melanin_index_mean", float(np.mean(100 * np.log10(1.0 / R))), region
    )

    # ---- colour relative to reference skin in the same photo (no chart needed) --------------
    ref_info, ref_reason = _reference_stats(rgb, reference_mask, reference_region, cal)
    rt = f"'{reference_region}'" if reference_region else "(none)"
    rel = {k: float("nan") for k in RELATIVE_COLOUR_KEYS}
    if ref_info:
        own_lin = [float(x) for x in lin.mean(axis=0)]
        ei = float(np.mean(100 * np.log10(R / G)))
        mi = float(np.mean(100 * np.log10(1.0 / R)))
        rel = {
            "a_star_vs_reference": am - ref_info["a_star"],
            "a_star_reference_balanced": _balanced_a_star(own_lin, ref_info["linear_rgb"]),
            "erythema_index_vs_reference": ei - ref_info["ei"],
            "L_star_vs_reference": Lm - ref_info["L_star"],
            "melanin_index_vs_reference": mi - ref_info["mi"],
        }
    for k, v in rel.items():
        g = "redness" if k in METRIC_KEYS["redness"] else "pigmentation"
        groups[g][k] = _m(g, k, v, region, ref_reason, ref_text=rt)

    # ---- spatial metrics at the texture scale ----------------------------------------------
    ts = min(float(texture_scale), MAX_TEXTURE_UPSAMPLE)
    ss = min(float(texture_scale) * SPOT_SCALE_FACTOR, MAX_TEXTURE_UPSAMPLE)
    spot_ppm = px_per_mm * ss / ts if px_per_mm else None
    sc = _scale_text(px_per_mm, ts)
    ssc = _scale_text(spot_ppm, ss)

    def resample(k):
        if abs(k - 1.0) <= 1e-3:
            return crop, mcrop
        size = (max(1, round(w * k)), max(1, round(h * k)))
        img = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
        msk = cv2.resize(mcrop.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
        return img, msk

    # spots and tone: at SPOT_SCALE_FACTOR x the texture scale (4 px/mm on a face)
    scrop, smask = resample(ss)
    Lsp = np.ascontiguousarray(rgb_to_lab(scrop)[..., 0])
    tiny = int(np.count_nonzero(smask)) < 400
    reason_small = "region too small at the analysis scale (< 400 skin px)"
    frac, count, uneven, spots = _spot_stats(Lsp, smask)
    P = "pigmentation"
    groups[P]["spot_area_fraction"] = _m(P, "spot_area_fraction", float("nan") if tiny else frac, region, reason_small, scale_text=ssc)
    groups[P]["spot_count"] = _m(P, "spot_count", float("nan") if tiny else count, region, reason_small, scale_text=ssc)
    groups[P]["tone_unevenness"] = _m(P, "tone_unevenness", float("nan") if tiny else uneven, region, reason_small, scale_text=ssc)

    # texture: at the texture scale (2 px/mm on a face)
    tcrop, tmask = resample(ts)
    L = np.ascontiguousarray(rgb_to_lab(tcrop)[..., 0])
    scale["spot_scale"] = ss
    scale["spot_px_per_mm"] = finite_or_none(spot_ppm)

    T = "texture"
    inner = cv2.erode(tmask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    if inner.sum() < 200:
        for k in METRIC_KEYS[T]:
            groups[T][k] = _m(T, k, float("nan"), region, reason_small, scale_text=sc)
    else:
        dog = cv2.GaussianBlur(L, (0, 0), _ROUGH_SIGMAS[0]) - cv2.GaussianBlur(L, (0, 0), _ROUGH_SIGMAS[1])
        groups[T]["roughness"] = _m(T, "roughness", float(np.sqrt(np.mean(dog[inner] ** 2))), region, scale_text=sc)
        npores = _pores(L, inner)
        if px_per_mm and px_per_mm > 0:
            area = inner.sum() / (px_per_mm**2) / 100.0  # cm^2
            groups[T]["pore_density"] = _m(T, "pore_density", npores / area, region, scale_text=sc)
        else:
            area = inner.sum() / 1e4
            groups[T]["pore_density"] = _m(T, "pore_density", npores / area, region, unit="per 10^4 px^2 (scale unknown)", scale_text=sc)
        wr = _wrinkles(L, inner)
        groups[T]["wrinkle_density"] = _m(T, "wrinkle_density", float(wr.sum() / inner.sum()), region, scale_text=sc)
        con, hom = _glcm(L, inner)
        groups[T]["glcm_contrast"] = _m(T, "glcm_contrast", con, region, scale_text=sc)
        groups[T]["glcm_homogeneity"] = _m(T, "glcm_homogeneity", hom, region, scale_text=sc)

    if lighting is None:
        lighting = _lighting_estimate(rgb, lighting_mask, cal)
    quality = _quality(crop, rcrop, L, tmask, lighting, baseline_quality, cal)
    if cal.method == "none":
        quality["warnings"].insert(0, cal.message)
    maps = {}
    if keep_maps:
        # the pixels behind the numbers, for the findings overlays (analyzer.concerns.findings):
        # spots and their skin on the spot grid; red pixels and their skin on the colour grid
        maps = {"spots": spots, "offset": (r0, c0), "texture_scale": ss, "skin": smask, "spot_components": count,
                "red": (lab[..., 1] > A_STAR_RED_THRESHOLD) & cmask, "colour_skin": cmask, "colour_rgb": ccrop,
                "colour_scale": cs}
    groups = {g: {k: groups[g][k] for k in METRIC_KEYS[g] if k in groups[g]} for g in GROUPS}  # contract order
    return MetricSet(groups, cal, float(skin_fraction), quality, scale, region, maps,
                     _reference_record(reference_region, ref_info, ref_reason))


def _reference_record(name: str | None, info: dict | None, reason: str | None) -> dict:
    rec = {"region": name, "skin_pixels": None, "linear_rgb": None, "a_star_mean": None, "L_star_mean": None,
           "reason": reason}
    if info:
        rec.update(skin_pixels=info["n"], linear_rgb=[round(x, 6) for x in info["linear_rgb"]],
                   a_star_mean=info["a_star"], L_star_mean=info["L_star"])
    return rec


def _reference_stats(rgb, reference_mask, reference_region, cal) -> tuple[dict | None, str | None]:
    """Colour means of the reference skin (calibrated like the region), or (None, reason)."""
    if reference_mask is None:
        return None, "no reference skin region (it needs a face, or a reference region for the series)"
    ref = np.asarray(reference_mask, bool)
    if ref.shape != rgb.shape[:2]:
        raise ValueError(f"reference mask shape {ref.shape} does not match the photo {rgb.shape[:2]}")
    a0, a1, a2, a3 = mask_bbox(ref)
    info = {}
    if a1 > a0 and a3 > a2:
        sub = apply_calibration(np.ascontiguousarray(rgb[a0:a1, a2:a3]), cal)
        info = _colour_means(sub, ref[a0:a1, a2:a3])
    if not info:
        return None, f"too few skin pixels (< 50) in the reference region '{reference_region or 'reference'}'"
    return info, None


def texture_scale_for(face: Face | None) -> float:
    """The face-size factor :func:`measure_photo` uses (1.0 without a face): eye-centre distance
    -> :data:`CANONICAL_EYE_DISTANCE_PX`. In a comparison, pass the *baseline's* factor to both
    ``measure`` calls (the follow-up is in the baseline frame) to get the face-normalised scale."""
    return analysis_scale(face)[0]


def measure_padding(texture_scale: float) -> int:
    """Pixels of context :func:`measure` reads around the measured pixels' box (the surrounding
    skin of a spot, at the analysis scale): a window this much larger measures the same."""
    return int(math.ceil(3 * _BACKGROUND_SIGMA / max(texture_scale, 1e-3))) + 2


def analysis_scale(face: Face | None) -> tuple[float, float | None, dict]:
    """The texture analysis scale for a photo with this face: (texture_scale, px_per_mm, basis).

    With a face, the photo is resampled so the eye-centre distance is
    :data:`CANONICAL_EYE_DISTANCE_PX` (upsampling capped at :data:`MAX_TEXTURE_UPSAMPLE`), and
    ``px_per_mm`` follows from the assumed adult eye distance. Without a face, the photo's own
    pixels are used and the basis says that texture is then not comparable across distances.
    In a comparison, pass the *baseline's* face: the follow-up is measured in the baseline frame.
    """
    if face is None:
        return 1.0, None, {"basis": "no face: photo pixels (texture not comparable across camera distances)"}
    ts = CANONICAL_EYE_DISTANCE_PX / face.eye_distance
    if ts <= MAX_TEXTURE_UPSAMPLE:
        px_mm = CANONICAL_PX_PER_MM
    else:
        ts, px_mm = MAX_TEXTURE_UPSAMPLE, face.eye_distance * MAX_TEXTURE_UPSAMPLE / EYE_DISTANCE_MM
    basis = {"basis": "face eye distance", "eye_distance_px": face.eye_distance,
             "assumed_eye_distance_mm": EYE_DISTANCE_MM}
    return ts, px_mm, basis


def reference_skin(rgb: np.ndarray, face: Face, name: str, calibration: Calibration | None = None) -> np.ndarray:
    """Skin pixels of the named reference region of a face (full-frame mask)."""
    from analyzer.regions import face_region_polygons

    reg = polygon_mask(face_region_polygons(face)[name], rgb.shape[:2])
    out = np.zeros_like(reg)
    r0, r1, c0, c1 = mask_bbox(reg)
    if r1 > r0 and c1 > c0:
        sub = apply_calibration(np.ascontiguousarray(rgb[r0:r1, c0:c1]), calibration)
        out[r0:r1, c0:c1] = skin_mask(sub, region=reg[r0:r1, c0:c1]) & reg[r0:r1, c0:c1]
    return out


def measure_photo(
    rgb: np.ndarray,
    *,
    roi: ROI | None = None,
    face: Face | None = None,
    detect: bool = True,
    calibration: Calibration | None = None,
    reference: str | None = None,
) -> MetricSet:
    """Metrics of one photo on its own (``python -m analyzer metrics``).

    ``reference`` names the reference skin region of the relative colour measures (default
    :func:`reference_region_for` the region); it needs a face.

    Detects the face (unless given or ``detect=False``), calibrates (chart search), builds the
    region and its skin mask, and normalises texture by face size: the photo is resampled so the
    eye-centre distance is :data:`CANONICAL_EYE_DISTANCE_PX`. Without a face the texture is
    measured at the photo's own pixels and ``scale`` says so.
    """
    if face is None and detect:
        face = detect_face(rgb)
    cal = calibration if calibration is not None else calibrate(rgb)
    poly = roi_polygon(roi, face=face, shape=rgb.shape[:2])
    reg = polygon_mask(poly, rgb.shape[:2])
    r0, r1, c0, c1 = mask_bbox(reg)
    if r1 == r0:
        skin = reg
    else:
        sub = apply_calibration(np.ascontiguousarray(rgb[r0:r1, c0:c1]), cal)
        skin = np.zeros_like(reg)
        skin[r0:r1, c0:c1] = skin_mask(sub, region=reg[r0:r1, c0:c1])
    ts, px_mm, basis = analysis_scale(face)
    label = roi_label(roi) if roi is not None else ("face" if face is not None else "image")
    ref_name, ref_mask = None, None
    if face is not None:
        ref_name = reference_region_for(label, reference)
        ref_mask = reference_skin(rgb, face, ref_name, cal)
    ms = measure(rgb, mask=skin, calibration=cal, texture_scale=ts, region=label, px_per_mm=px_mm, region_mask=reg,
                 reference_mask=ref_mask, reference_region=ref_name)
    scale = dict(ms.scale)
    scale.update(basis)
    scale["region_polygon"] = np.round(poly, 1).tolist()
    return MetricSet(ms.groups, ms.calibration, ms.skin_fraction, ms.quality, scale, ms.region, ms.maps,
                     ms.reference)


def change_maps(
    baseline_rgb: np.ndarray,
    followup_warped_rgb: np.ndarray,
    mask: np.ndarray,
    *,
    smooth_sigma: float = 2.0,
    baseline_calibration: Calibration | None = None,
    followup_calibration: Calibration | None = None,
) -> dict[str, np.ndarray]:
    """Per-pixel change maps for heat maps (float32, NaN outside ``mask``).

    ``delta_a_star`` and ``delta_L_star``: follow-up minus baseline, both Gaussian-smoothed
    (``smooth_sigma`` px) to suppress pixel noise and residual misalignment.
    ``delta_roughness``: local RMS (sigma 4 px) of the DoG roughness band, follow-up minus
    baseline, L* units. Both images must be in the same (baseline) frame; each is taken in its
    calibrated colours (its calibration applied here), as the numbers are.
    """
    if baseline_rgb.shape != followup_warped_rgb.shape:
        raise ValueError("baseline and follow-up must have the same shape (warp the follow-up first)")
    lb = rgb_to_lab(apply_calibration(baseline_rgb, baseline_calibration))
    lf = rgb_to_lab(apply_calibration(followup_warped_rgb, followup_calibration))
    m = np.asarray(mask, bool)

    def sm(x):
        return _masked_gauss(np.ascontiguousarray(x), m, smooth_sigma)

    def rough(L):
        dog = cv2.GaussianBlur(L, (0, 0), _ROUGH_SIGMAS[0]) - cv2.GaussianBlur(L, (0, 0), _ROUGH_SIGMAS[1])
        return np.sqrt(np.maximum(_masked_gauss(dog * dog, m, 4.0), 0))

    out = {
        "delta_a_star": sm(lf[..., 1]) - sm(lb[..., 1]),
        "delta_L_star": sm(lf[..., 0]) - sm(lb[..., 0]),
        "delta_roughness": rough(np.ascontiguousarray(lf[..., 0])) - rough(np.ascontiguousarray(lb[..., 0])),
    }
    for k in out:
        out[k] = out[k].astype(np.float32)
        out[k][~m] = np.nan
    return out
