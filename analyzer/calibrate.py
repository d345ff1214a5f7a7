"""Colour calibration against a physical reference in the frame.

Three methods, in order of preference:

``"colorchecker"``
    A 24-patch ColorChecker (Classic, Passport or Mini layout) is detected with OpenCV's MCC
    module (``cv2.mcc``, chart type MCC24). The correction ``lin_out = (lin_in ** gamma) @ M``
    (a per-channel power, then a 3x3 matrix, in *linear* sRGB) is fitted to the chart's
    published reference values with a robust CIELAB error, leaving out patches with a clipped
    channel. It corrects exposure and white balance exactly (both are per-channel gains in linear
    light, which the power and the matrix absorb), a camera's colour cross-talk to first order,
    and a tone curve that differs from sRGB's by a power. The mean CIEDE2000 residual on the
    patches used is reported before and after correction.
``"reference-patch"``
    The user marks a neutral (or known-colour) patch; a diagonal gain in linear RGB maps its mean
    to the reference colour (default: a neutral grey at the patch's own lightness, which corrects
    white balance but not exposure; give ``reference_lab`` to correct both).
``"none"``
    Nothing to calibrate against. The photo is used as it is and the report says plainly that
    changes across sessions may be lighting.

A photo is **never** normalised by its own statistics (grey-world, histogram matching to the
baseline, percentile stretch): that would erase the change the product exists to measure.

References
----------
ColorChecker Classic reference values: X-Rite, "ColorChecker24 - After November 2014",
CIE L*a*b* D50 2°, as published by X-Rite and distributed in the ``colour-science`` dataset
``colour.CCS_COLOURCHECKERS['ColorChecker24 - After November 2014']``. Adapted to D65 with the
Bradford transform (Lindbloom, http://www.brucelindbloom.com/Eqn_ChromAdapt.html).
OpenCV MCC: Castro et al. (2019) / OpenCV ``mcc`` module documentation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from analyzer.color import _XYZ_TO_LINEAR_SRGB as _XYZ_TO_LINEAR_SRGB_
from analyzer.color import delta_e_2000, lab_d50_to_d65, linear_to_srgb, rgb_to_lab, srgb_to_linear
from analyzer.errors import UsageError
from analyzer.regions import PolygonROI, RectROI, polygon_mask, roi_polygon

__all__ = [
    "Calibration",
    "calibrate",
    "calibrate_pair",
    "apply_calibration",
    "reference_patch_lab",
    "detect_colorchecker",
    "ChartDetection",
    "COLORCHECKER24_LAB_D50",
    "COLORCHECKER24_LAB_D65",
    "COLORCHECKER24_LINEAR_SRGB",
    "NO_CALIBRATION_MESSAGE",
    "MAX_ACCEPTED_RESIDUAL",
]

CalibrationMethod = Literal["colorchecker", "reference-patch", "none"]
_METHODS = ("colorchecker", "reference-patch", "none")

#: X-Rite ColorChecker Classic, 24 patches, post-November-2014 formulation, CIELAB D50 2°,
#: patch order 1 (dark skin) ... 24 (black), row by row as printed.
COLORCHECKER24_LAB_D50 = np.array(
    [
        [37.54, 14.37, 14.92], [64.66, 19.27, 17.50], [49.32, -3.82, -22.54], [43.46, -12.74, 22.72],
        [54.94, 9.61, -24.79], [70.48, -32.26, -0.37], [62.73, 35.83, 56.50], [39.43, 10.75, -45.17],
        [50.57, 48.64, 16.67], [30.10, 22.54, -20.87], [71.77, -24.13, 58.19], [71.51, 18.24, 67.37],
        [28.37, 15.42, -49.80], [54.38, -39.72, 32.27], [42.43, 51.05, 28.62], [81.80, 2.67, 80.41],
        [50.63, 51.28, -14.12], [49.57, -29.71, -28.32], [95.19, -1.03, 2.93], [81.29, -0.57, 0.44],
        [66.89, -0.75, -0.06], [50.76, -0.13, 0.14], [35.63, -0.46, -0.48], [20.64, 0.07, -0.46],
    ]
)
COLORCHECKER24_LAB_D65, COLORCHECKER24_LINEAR_SRGB = lab_d50_to_d65(COLORCHECKER24_LAB_D50)

#: A detection whose best 3x3-matrix fit (robust CIELAB, without the tone power) still leaves a
#: mean ΔE2000 above this is rejected (a different chart layout, a wrong patch order, or a false
#: detection).
MAX_ACCEPTED_RESIDUAL = 5.5

NO_CALIBRATION_MESSAGE = (
    "No colour chart or reference patch: the photo is not colour-calibrated, "
    "so changes across sessions may be lighting, not skin."
)


@dataclass(frozen=True)
class Calibration:
    """The colour calibration of one photo.

    Attributes
    ----------
    method : {"colorchecker", "reference-patch", "none"}
    residual_delta_e : float
        Mean CIEDE2000 on the reference patches after correction (NaN for "none").
    residual_delta_e_before : float
        Mean CIEDE2000 before correction (NaN for "none").
    message : str
        Plain words for the report.
    chart_polygon : ndarray (4, 2) or None
        Where the chart was found, (x, y) pixels, for display.
    transform : ndarray (3, 3) or None
        Matrix M applied to linear sRGB row vectors: ``lin_out = lin_in ** gamma @ M``.
    n_patches : int
        Patches used for the fit (a chart's patches with a clipped channel are left out).
    gamma : ndarray (3,) or None
        Per-channel exponent applied to linear sRGB before the matrix ("colorchecker" only;
        None means 1: the matrix alone).
    patches_used : tuple of int
        Chart patches in the fit (0-23, standard order; "colorchecker" only).
    """

    method: CalibrationMethod
    residual_delta_e: float = float("nan")
    residual_delta_e_before: float = float("nan")
    message: str = NO_CALIBRATION_MESSAGE
    chart_polygon: np.ndarray | None = field(default=None, repr=False)
    transform: np.ndarray | None = field(default=None, repr=False)
    n_patches: int = 0
    gamma: np.ndarray | None = field(default=None, repr=False)
    patches_used: tuple[int, ...] = ()

    def __post_init__(self):
        if self.method not in _METHODS:
            raise ValueError(f"calibration method {self.method!r}; allowed: {', '.join(_METHODS)}")

    def to_dict(self) -> dict:
        """JSON-safe dict: method, residual ΔE2000 (null when not applicable), patches used, message,
        chart polygon, the linear-RGB matrix and the per-channel exponent applied before it."""

        def f(x):
            return float(x) if x is not None and math.isfinite(x) else None

        return {
            "method": self.method,
            "residual_delta_e2000": f(self.residual_delta_e),
            "residual_delta_e2000_before": f(self.residual_delta_e_before),
            "n_patches": int(self.n_patches),
            "message": self.message,
            "chart_polygon": None if self.chart_polygon is None else np.round(self.chart_polygon, 1).tolist(),
            "transform_linear_rgb": None if self.transform is None else np.round(self.transform, 6).tolist(),
            "gamma_linear_rgb": None if self.gamma is None else np.round(self.gamma, 6).tolist(),
            "patches_used": list(self.patches_used),
        }

    @classmethod
    def from_dict(cls, d: dict | None) -> Calibration:
        """The calibration back from :meth:`to_dict` (a stored result): enough to apply it again."""
        if not d or d.get("method", "none") == "none":
            return cls(method="none")

        def num(x):
            return float("nan") if x is None else float(x)

        t, g, poly = d.get("transform_linear_rgb"), d.get("gamma_linear_rgb"), d.get("chart_polygon")
        return cls(
            method=d["method"],
            residual_delta_e=num(d.get("residual_delta_e2000")),
            residual_delta_e_before=num(d.get("residual_delta_e2000_before")),
            message=str(d.get("message", "")),
            chart_polygon=None if poly is None else np.asarray(poly, np.float64),
            transform=None if t is None else np.asarray(t, np.float64).reshape(3, 3),
            n_patches=int(d.get("n_patches") or 0),
            gamma=None if g is None else np.asarray(g, np.float64).reshape(3),
            patches_used=tuple(int(i) for i in d.get("patches_used") or ()),
        )


NO_CALIBRATION = Calibration(method="none")


@dataclass(frozen=True)
class ChartDetection:
    """A detected 24-patch chart: patch means (sRGB [0, 1], standard order) and its outline."""

    patches_rgb: np.ndarray  # (24, 3) sRGB-encoded means
    polygon: np.ndarray  # (4, 2) xy in the image
    cost: float
    attempt: str


def _patch_means(checker) -> np.ndarray:
    # getChartsRGB(): rows = patch*3 + channel (R, G, B of the BGR image's pixels given in RGB
    # order by MCC), columns = [pixel count, mean, stddev, min, max]. Values 0..255.
    arr = np.asarray(checker.getChartsRGB(), dtype=np.float64)
    means = arr[:, 1].reshape(-1, 3) / 255.0
    return means


#: Candidate charts asked of the MCC detector per attempt: it sometimes ranks a misread grid
#: (patches sampled across patch borders) first; the candidate whose colours fit best is used.
_N_CANDIDATES = 3


def _detect_once(bgr: np.ndarray) -> list[tuple]:
    """All candidate charts MCC finds in one image: (patch means, box, cost) each."""
    det = cv2.mcc.CCheckerDetector_create()
    det.setColorChartType(cv2.mcc.MCC24)
    if not det.process(bgr, _N_CANDIDATES):
        return []
    return [
        (_patch_means(chk), np.asarray(chk.getBox(), np.float64), float(chk.getCost()))
        for chk in det.getListColorChecker()
    ]


#: A patch with a channel at or beyond these sRGB levels is clipped (or nearly) and left out.
CLIP_LOW, CLIP_HIGH = 0.015, 0.985


def _usable(patches_srgb: np.ndarray) -> np.ndarray:
    """Patches with no clipped channel (a clipped patch carries no information about the gain)."""
    ok = ((patches_srgb > CLIP_LOW) & (patches_srgb < CLIP_HIGH)).all(axis=1)
    return ok if ok.sum() >= 12 else np.ones(len(patches_srgb), bool)


def _fit_matrix(measured_lin: np.ndarray, ref_lin: np.ndarray) -> np.ndarray:
    """Least-squares 3x3 M with measured_lin @ M ~= ref_lin (no offset)."""
    M, *_ = np.linalg.lstsq(measured_lin, ref_lin, rcond=None)
    return M


def _apply_model(lin: np.ndarray, gamma: np.ndarray | None, M: np.ndarray) -> np.ndarray:
    """``(lin ** gamma) @ M`` on linear RGB rows (gamma None or all 1: the plain matrix)."""
    if gamma is not None and not np.allclose(gamma, 1.0):
        lin = np.power(np.clip(lin, 0, None), np.asarray(gamma, lin.dtype))
    return lin @ np.asarray(M, lin.dtype)


def _fit_chart(
    patches_srgb: np.ndarray, *, refine: bool = True, tone: bool = True, leave: np.ndarray | None = None
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Fit the correction to the chart: ``(gamma, M, used patches)``.

    Patches with a clipped channel are left out (:func:`_usable`). ``refine=False`` gives the
    quick linear-RGB least-squares 3x3 matrix (gamma None); the full fit is :func:`_refine_lab`
    from that start, with the per-channel power (``tone=True``, the correction applied) or the
    matrix alone (``tone=False``, the test of whether the chart is a ColorChecker at all: the power
    must not make a misread chart fit). No patch is dropped by a residual threshold: a hard
    cut flips patches in and out between two sessions' photos and pulls their fits apart; the
    robust loss down-weights a patch that does not fit instead. ``leave``: patches also kept out
    (boolean mask), unless fewer than 12 would remain."""
    use = _usable(patches_srgb)
    if leave is not None and (use & ~leave).sum() >= 12:
        use = use & ~leave
    lin = srgb_to_linear(patches_srgb).astype(np.float64)
    M = _fit_matrix(lin[use], COLORCHECKER24_LINEAR_SRGB[use])
    if not refine:
        return None, M, use
    gamma, M = _refine_lab(M, lin[use], COLORCHECKER24_LAB_D65[use], tone=tone)
    return gamma, M, use


def _lab_of_linear(lin: np.ndarray) -> np.ndarray:
    """Linear sRGB (N, 3) -> CIELAB D65, analytically (no clipping, differentiable)."""
    from analyzer.color import _WP_D65, _xyz_to_lab

    srgb_to_xyz = np.linalg.inv(_XYZ_TO_LINEAR_SRGB_)
    return _xyz_to_lab(np.clip(lin, 1e-6, None) @ srgb_to_xyz.T, _WP_D65)


#: Bounds of the per-channel tone exponent (a camera's response relative to sRGB decoding).
_GAMMA_BOUNDS = (0.5, 2.0)


def _refine_lab(
    M0: np.ndarray, lin: np.ndarray, ref_lab: np.ndarray, *, tone: bool = True
) -> tuple[np.ndarray | None, np.ndarray]:
    """Fit ``lin_out = (lin ** gamma) @ M`` (a per-channel power, then a 3x3 matrix; 12
    parameters) to a robust (soft-L1) CIELAB error on the patches, from the linear-RGB
    least-squares matrix M0.

    Why the power: a processed photo's tone curve differs from the sRGB decoding (darks lifted,
    whites rolled off), which a matrix alone can't follow; its residual then depends on which
    patches are in the fit, so a patch clipped in one session and not in the other moved skin a*
    by up to 1.5 (``classic.png``). The model stays exact for the changes calibration exists to
    undo: exposure and white balance are per-channel gains in linear light, and
    ``(g * x) ** gamma = g ** gamma * x ** gamma`` is absorbed by M. Soft-L1 down-weights a patch
    that does not fit (clipped in the camera, glare, occluded) instead of letting it bend the
    correction. ``tone=False``: the matrix alone (gamma None)."""
    try:
        from scipy.optimize import least_squares
    except Exception:  # pragma: no cover - scipy comes with scikit-image
        return None, M0
    lin = np.clip(lin, 1e-6, None)
    if not tone:
        r = least_squares(
            lambda p: (_lab_of_linear(lin @ p.reshape(3, 3)) - ref_lab).ravel(),
            M0.ravel(), loss="soft_l1", f_scale=2.0, max_nfev=200,
        )
        return None, (r.x.reshape(3, 3) if r.success and np.all(np.isfinite(r.x)) else M0)
    lo, hi = np.log(_GAMMA_BOUNDS[0]), np.log(_GAMMA_BOUNDS[1])

    def resid(p):
        return (_lab_of_linear(np.power(lin, np.exp(p[:3])) @ p[3:].reshape(3, 3)) - ref_lab).ravel()

    x0 = np.r_[np.zeros(3), M0.ravel()]
    bounds = (np.r_[np.full(3, lo), np.full(9, -np.inf)], np.r_[np.full(3, hi), np.full(9, np.inf)])
    r = least_squares(resid, x0, loss="soft_l1", f_scale=2.0, max_nfev=400, bounds=bounds)
    if not (r.success and np.all(np.isfinite(r.x))):
        return None, M0
    return np.exp(r.x[:3]), r.x[3:].reshape(3, 3)


def _residuals(patches_srgb: np.ndarray, M: np.ndarray | None, use: np.ndarray | None = None,
               gamma: np.ndarray | None = None) -> float:
    lin = srgb_to_linear(patches_srgb).astype(np.float64)
    if M is not None:
        lin = _apply_model(lin, gamma, M)
    srgb = np.clip(linear_to_srgb(np.clip(lin, 0, None)), 0, 1)
    lab = rgb_to_lab(srgb.astype(np.float32))
    de = delta_e_2000(lab, COLORCHECKER24_LAB_D65)
    return float(np.mean(de if use is None else de[use]))


def _judge(means: np.ndarray) -> float:
    """Mean ΔE2000 of a candidate's patches after the quick linear fit; after the refined matrix
    (no tone power) when the quick one is close to the limit."""
    _, M, use = _fit_chart(means, refine=False)
    res = _residuals(means, M, use)
    if MAX_ACCEPTED_RESIDUAL <= res < 2 * MAX_ACCEPTED_RESIDUAL:
        _, M, use = _fit_chart(means, tone=False)
        res = _residuals(means, M, use)
    return res


def _search(rgb: np.ndarray, max_side: int) -> tuple[float, ChartDetection] | None:
    """(residual, detection) of the first acceptable chart over the attempts, else the best one."""
    rows, cols = rgb.shape[:2]
    base = min(1.0, max_side / max(rows, cols))
    img = np.asarray(rgb, np.float32)
    if base < 1.0:  # reduce first (a 12 MP photo): the detector works on the reduced copy
        img = cv2.resize(img, (max(1, round(cols * base)), max(1, round(rows * base))), interpolation=cv2.INTER_AREA)
    u8 = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    bgr0 = cv2.cvtColor(u8, cv2.COLOR_RGB2BGR)
    scales = [1.0]
    for k in (2.0, 4.0):
        if max(rows, cols) * base * k <= max(max_side, 1700):
            scales.append(k)
    best = None
    for s in scales:
        img = bgr0 if s == 1.0 else cv2.resize(
            bgr0, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
        )
        pads = (0, 40) if max(rows, cols) <= 1000 else (0,)  # a margin only helps tight crops
        for pad in pads:
            im = img if pad == 0 else cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(255, 255, 255))
            found = None
            for means, box, cost in _detect_once(im):
                if means.shape != (24, 3):
                    continue
                res = _judge(means)
                if found is None or res < found[0]:
                    det = ChartDetection(means, (box - pad) / (s * base), cost, f"scale={s * base:.2f},margin={pad}")
                    found = (res, det)
            if found is None:
                continue
            if best is None or found[0] < best[0]:
                best = found
            if found[0] < MAX_ACCEPTED_RESIDUAL:
                return found
    return best


def detect_colorchecker(rgb: np.ndarray, *, max_side: int = 1600) -> ChartDetection | None:
    """Find a 24-patch ColorChecker.

    OpenCV's MCC detector misses small or tightly cropped charts, so a few attempts are made:
    the photo as it is (reduced to ``max_side``), with a white margin, and upscaled x2 / x4 when
    the photo is small. Each attempt asks for up to three candidates. The first detection whose
    patch colours fit the reference with a mean ΔE2000 below :data:`MAX_ACCEPTED_RESIDUAL` after
    the 3x3 fit is kept; else the best one found, else None.

    When the chart fills less than half of the photo, it is then detected again in a crop around
    where it was found (15 % margin): MCC places the patch grid more precisely when the chart
    fills the frame, so patch means are not mixed with the black borders between patches. The
    crop's detection replaces the first one when it is acceptable or fits better.

    Returns
    -------
    ChartDetection or None
        Patch means are sRGB [0, 1] in the standard patch order; the polygon is in the input's
        pixel coordinates.
    """
    found = _search(rgb, max_side)
    if found is None:
        return None
    res, det = found
    rows, cols = rgb.shape[:2]
    (x0, y0), (x1, y1) = det.polygon.min(axis=0), det.polygon.max(axis=0)
    mx, my = 0.15 * (x1 - x0), 0.15 * (y1 - y0)
    c0, r0 = int(max(0, x0 - mx)), int(max(0, y0 - my))
    c1, r1 = int(min(cols, x1 + mx + 1)), int(min(rows, y1 + my + 1))
    plausible = res < 2 * MAX_ACCEPTED_RESIDUAL  # far off: not a chart (a face's pattern), no second look
    if plausible and (c1 - c0) * (r1 - r0) < 0.5 * rows * cols and min(c1 - c0, r1 - r0) >= 32:
        zoom = _search(np.ascontiguousarray(rgb[r0:r1, c0:c1]), max_side)
        if zoom is not None and (zoom[0] < MAX_ACCEPTED_RESIDUAL or zoom[0] < res):
            z = zoom[1]
            det = ChartDetection(z.patches_rgb, z.polygon + np.array([c0, r0], np.float64), z.cost, f"crop,{z.attempt}")
    return det


def _patch_mean(rgb: np.ndarray, patch_roi: RectROI | PolygonROI) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(polygon, mean linear RGB, Lab of that mean) of a marked patch; UsageError when unusable."""
    poly = roi_polygon(patch_roi, face=None, shape=rgb.shape[:2])
    m = polygon_mask(poly, rgb.shape[:2])
    if m.sum() < 9:
        raise UsageError("the reference patch covers fewer than 9 pixels")
    patch = rgb[m]
    if (patch >= 0.99).any(axis=1).mean() > 0.05 or (patch <= 0.01).all(axis=1).mean() > 0.05:
        raise UsageError("the reference patch is clipped (too bright or too dark) and can't be used")
    mean_lin = srgb_to_linear(patch).astype(np.float64).mean(axis=0)
    mean_srgb = linear_to_srgb(mean_lin)
    meas_lab = rgb_to_lab(mean_srgb.reshape(1, 1, 3).astype(np.float32)).reshape(3)
    return poly, mean_lin, meas_lab


def reference_patch_lab(rgb: np.ndarray, patch_roi: RectROI | PolygonROI) -> tuple[float, float, float]:
    """CIELAB (D65) of a marked patch's mean colour, as photographed (before any correction)."""
    return tuple(float(v) for v in _patch_mean(rgb, patch_roi)[2])


def _chart_calibration(det: ChartDetection, leave_out=()) -> Calibration | str:
    """The "colorchecker" calibration from a detection, or the rejection note when a 3x3 matrix
    can't fit its colours. ``leave_out``: patch indices kept out of the fit (besides clipped ones)."""
    p = det.patches_rgb
    leave = np.zeros(len(p), bool)
    leave[[int(i) for i in leave_out]] = True
    usable = _usable(p)
    # Is it a ColorChecker at all? Judged first on the matrix alone; the tone fit (the slower
    # one) only for a chart that is accepted.
    _, M3, use = _fit_chart(p, tone=False, leave=leave)
    matrix_only = _residuals(p, M3, use)
    if matrix_only >= MAX_ACCEPTED_RESIDUAL:
        return (
            f" A chart-like target was found but its colours don't match a ColorChecker 24 "
            f"(ΔE2000 {matrix_only:.1f} after fitting a 3x3 matrix), so it was not used."
        )
    gamma, M, use = _fit_chart(p, leave=leave)
    before = _residuals(p, None, use)
    after = _residuals(p, M, use, gamma)
    n_clipped = int((~usable).sum()) if usable.sum() < len(p) else 0
    n_other = int((usable & ~use).sum())  # left out to match the other photo
    notes = ""
    if n_clipped:
        notes += (
            f" {n_clipped} patch(es) were clipped and left out: expose so that the white patch is "
            "not clipped, or calibrated colours may differ slightly between sessions."
        )
    if n_other:
        notes += f" {n_other} more patch(es) left out to match the other photo's calibration."
    return Calibration(
        method="colorchecker",
        residual_delta_e=after,
        residual_delta_e_before=before,
        message=(
            f"Colour corrected to a 24-patch ColorChecker found in the photo: mean ΔE2000 on "
            f"the {int(use.sum())} patches used {before:.1f} before, {after:.1f} after correction." + notes
        ),
        chart_polygon=det.polygon,
        transform=M,
        gamma=gamma,
        n_patches=int(use.sum()),
        patches_used=tuple(int(i) for i in np.flatnonzero(use)),
    )


def calibrate(
    rgb: np.ndarray,
    *,
    reference_patch: RectROI | PolygonROI | None = None,
    reference_lab: tuple[float, float, float] | None = None,
    detect_chart: bool = True,
    leave_out: tuple[int, ...] = (),
) -> Calibration:
    """Work out the colour calibration of a photo.

    Parameters
    ----------
    rgb : ndarray (rows, cols, 3) float32 sRGB [0, 1]
    reference_patch : RectROI or PolygonROI, optional
        A patch the user marked. Used when no chart is found (or ``detect_chart`` is False).
    reference_lab : (L*, a*, b*), optional
        The patch's true colour (D65). Default: neutral grey at the patch's measured L*
        (white balance only).
    detect_chart : bool
        Look for a 24-patch ColorChecker first.
    leave_out : tuple of int
        Chart patches (0-23, standard order) to keep out of the fit besides this photo's clipped
        ones, e.g. those clipped in another session's photo (see :func:`calibrate_pair`). Ignored
        when fewer than 12 patches would remain.

    Returns
    -------
    Calibration
        ``method="none"`` with :data:`NO_CALIBRATION_MESSAGE` when there is nothing to use. A chart
        that is found but whose colours a 3x3 matrix can't fit below
        :data:`MAX_ACCEPTED_RESIDUAL` is not used, and the message says so.
    """
    bad = [i for i in leave_out if not (isinstance(i, (int, np.integer)) and 0 <= i < 24)]
    if bad:
        raise ValueError(f"leave_out {bad!r}: allowed patch indices are 0-23")
    rejected = ""
    if detect_chart:
        det = detect_colorchecker(rgb)
        if det is not None:
            cal = _chart_calibration(det, leave_out)
            if isinstance(cal, Calibration):
                return cal
            rejected = cal
    if reference_patch is not None:
        poly, mean_lin, meas_lab = _patch_mean(rgb, reference_patch)
        ref = np.array(reference_lab if reference_lab is not None else (float(meas_lab[0]), 0.0, 0.0), np.float64)
        from analyzer.color import lab_to_rgb

        ref_lin = srgb_to_linear(lab_to_rgb(ref.reshape(1, 1, 3))).reshape(3).astype(np.float64)
        gains = ref_lin / np.maximum(mean_lin, 1e-6)
        M = np.diag(gains)
        before = float(delta_e_2000(meas_lab, ref))
        corr = np.clip(linear_to_srgb(mean_lin @ M), 0, 1).reshape(1, 1, 3).astype(np.float32)
        after = float(delta_e_2000(rgb_to_lab(corr).reshape(3), ref))
        what = "its reference colour" if reference_lab is not None else "neutral grey (white balance only)"
        return Calibration(
            method="reference-patch",
            residual_delta_e=after,
            residual_delta_e_before=before,
            message=(
                f"Colour corrected to a user-marked reference patch set to {what}: ΔE2000 {before:.1f} "
                f"before, {after:.1f} after. A single patch corrects white balance"
                + (" and exposure" if reference_lab is not None else "")
                + ", not the camera's colour rendering." + rejected
            ),
            chart_polygon=poly,
            transform=M,
            n_patches=1,
        )
    return _uncalibrated(rejected)


def _uncalibrated(rejected: str | None = None) -> Calibration:
    """``method="none"``, its message saying why (and why a chart-like target was not used)."""
    return Calibration(method="none", message=NO_CALIBRATION_MESSAGE + (rejected or ""))


def calibrate_pair(rgb_a: np.ndarray, rgb_b: np.ndarray) -> tuple[Calibration, Calibration]:
    """Calibrate two photos of a series (baseline and follow-up) on the same chart patches.

    Each photo is calibrated by :func:`calibrate`. When both have a ColorChecker and a patch is
    clipped in one photo but not in the other, both corrections are fitted again on the patches
    usable in both: a patch in one fit and not in the other pulls the two corrections apart where
    the model does not fit the chart exactly (up to 2 a* / 7 L* on skin, simulated, when a
    brighter session clips the chart's light patches). Otherwise the two calibrations are
    returned as they are.

    Returns
    -------
    (Calibration, Calibration)
        For ``rgb_a`` and ``rgb_b``; ``patches_used`` is the same in both when paired.
    """
    det_a, det_b = detect_colorchecker(rgb_a), detect_colorchecker(rgb_b)
    cal_a = _chart_calibration(det_a) if det_a is not None else None
    cal_b = _chart_calibration(det_b) if det_b is not None else None
    if not isinstance(cal_a, Calibration) or not isinstance(cal_b, Calibration):
        # What calibrate() gives each photo, from the searches already made (a chart search
        # is the slowest step of a comparison).
        return tuple(c if isinstance(c, Calibration) else _uncalibrated(c) for c in (cal_a, cal_b))
    if cal_a.patches_used == cal_b.patches_used:
        return cal_a, cal_b
    common = set(cal_a.patches_used) & set(cal_b.patches_used)
    if len(common) < 12:
        return cal_a, cal_b
    leave = tuple(i for i in range(24) if i not in common)
    pa, pb = _chart_calibration(det_a, leave), _chart_calibration(det_b, leave)
    if isinstance(pa, Calibration) and isinstance(pb, Calibration):
        return pa, pb
    return cal_a, cal_b


def apply_calibration(rgb: np.ndarray, calibration: Calibration | None) -> np.ndarray:
    """Apply a calibration: sRGB -> linear -> ``** gamma`` -> ``@ transform`` -> sRGB, clipped to [0, 1].

    Identity (the same array, not a copy) for ``None`` or ``method="none"``.
    """
    if calibration is None or calibration.method == "none" or calibration.transform is None:
        return rgb
    lin = srgb_to_linear(rgb)
    shape = lin.shape
    out = _apply_model(lin.reshape(-1, 3), calibration.gamma, calibration.transform.astype(np.float32))
    return np.clip(linear_to_srgb(out.reshape(shape)), 0, 1).astype(np.float32)
