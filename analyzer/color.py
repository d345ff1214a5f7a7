"""Colour helpers: sRGB <-> linear RGB, CIELAB (D65), ΔE2000.

All functions take RGB arrays in the project convention (float32 in [0, 1], sRGB, shape
(..., 3)). CIELAB is computed with OpenCV (``cv2.COLOR_RGB2Lab`` on float32), which applies
the sRGB transfer function and uses the D65 white point: L* in 0..100, a*/b* in real units.
It agrees with ``skimage.color.rgb2lab`` (D65, 2°) to about 0.2 units (tested).

References
----------
IEC 61966-2-1:1999, sRGB.  CIE 15:2004, Colorimetry (CIELAB).
Sharma, Wu, Dalal (2005), The CIEDE2000 colour-difference formula.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "srgb_to_linear",
    "linear_to_srgb",
    "rgb_to_lab",
    "lab_to_rgb",
    "delta_e_2000",
    "lab_d50_to_d65",
]


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] -> linear-light RGB (IEC 61966-2-1), float32."""
    x = np.asarray(rgb, dtype=np.float32)
    return np.where(x <= 0.04045, x / 12.92, ((np.maximum(x, 0) + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    """Linear-light RGB -> sRGB-encoded, float32 (not clipped: caller clips)."""
    x = np.asarray(lin, dtype=np.float32)
    return np.where(
        x <= 0.0031308, x * 12.92, 1.055 * np.power(np.maximum(x, 0), 1 / 2.4) - 0.055
    ).astype(np.float32)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB float [0, 1] (..., 3) -> CIELAB D65 float32 (L* 0..100)."""
    a = np.ascontiguousarray(rgb, dtype=np.float32)
    shape = a.shape
    if a.ndim != 3:
        a = a.reshape(-1, 1, 3)
    return cv2.cvtColor(a, cv2.COLOR_RGB2Lab).reshape(shape)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """CIELAB D65 -> sRGB float32 (clipped to [0, 1])."""
    a = np.ascontiguousarray(lab, dtype=np.float32)
    shape = a.shape
    if a.ndim != 3:
        a = a.reshape(-1, 1, 3)
    return np.clip(cv2.cvtColor(a, cv2.COLOR_Lab2RGB), 0, 1).reshape(shape)


def delta_e_2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference between two Lab arrays (skimage implementation)."""
    from skimage.color import deltaE_ciede2000

    return deltaE_ciede2000(np.asarray(lab1, np.float64), np.asarray(lab2, np.float64))


# D50 and D65 white points (CIE 1931 2°) and the Bradford cone-response matrix.
_WP_D50 = np.array([0.96422, 1.0, 0.82521])
_WP_D65 = np.array([0.95047, 1.0, 1.08883])
_BRADFORD = np.array(
    [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]]
)
_XYZ_TO_LINEAR_SRGB = np.array(
    [[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560], [0.0556434, -0.2040259, 1.0572252]]
)


def _lab_to_xyz(lab: np.ndarray, wp: np.ndarray) -> np.ndarray:
    lab = np.asarray(lab, np.float64)
    fy = (lab[..., 0] + 16) / 116
    fx = fy + lab[..., 1] / 500
    fz = fy - lab[..., 2] / 200
    eps, kappa = 216 / 24389, 24389 / 27

    def finv(f):
        f3 = f**3
        return np.where(f3 > eps, f3, (116 * f - 16) / kappa)

    return np.stack([finv(fx), finv(fy), finv(fz)], axis=-1) * wp


def _xyz_to_lab(xyz: np.ndarray, wp: np.ndarray) -> np.ndarray:
    r = np.asarray(xyz, np.float64) / wp
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.where(r > eps, np.cbrt(r), (kappa * r + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def _bradford(src_wp: np.ndarray, dst_wp: np.ndarray) -> np.ndarray:
    s = _BRADFORD @ src_wp
    d = _BRADFORD @ dst_wp
    return np.linalg.inv(_BRADFORD) @ np.diag(d / s) @ _BRADFORD


def lab_d50_to_d65(lab_d50: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chart reference Lab (D50) -> (Lab D65, linear sRGB) with a Bradford adaptation."""
    xyz50 = _lab_to_xyz(lab_d50, _WP_D50)
    xyz65 = xyz50 @ _bradford(_WP_D50, _WP_D65).T
    lab65 = _xyz_to_lab(xyz65, _WP_D65)
    lin = xyz65 @ _XYZ_TO_LINEAR_SRGB.T
    return lab65, lin
