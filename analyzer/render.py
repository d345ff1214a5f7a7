"""Pictures for people: change heat maps and region outlines, as float RGB arrays.

Scales are fixed per map kind, never stretched to the image's own range, so the same colour
means the same change in every session.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Default symmetric limits (in the map's own units) at which the colour saturates.
DEFAULT_LIMITS = {"a_star": 5.0, "L_star": 10.0, "roughness": 3.0}


def _diverging(t: np.ndarray) -> np.ndarray:
    """t in [-1, 1] → RGB: blue (−) … white (0) … red (+)."""
    t = np.clip(t, -1.0, 1.0)[..., None]
    white = np.array([1.0, 1.0, 1.0], np.float32)
    red = np.array([0.80, 0.10, 0.10], np.float32)
    blue = np.array([0.10, 0.30, 0.85], np.float32)
    pos = white + (red - white) * np.clip(t, 0, 1)
    neg = white + (blue - white) * np.clip(-t, 0, 1)
    return np.where(t >= 0, pos, neg).astype(np.float32)


def heatmap(
    values: np.ndarray,
    *,
    background: np.ndarray | None = None,
    limit: float | None = None,
    kind: str | None = None,
    alpha: float = 0.65,
) -> np.ndarray:
    """Colour a change map over a background photo.

    Parameters
    ----------
    values : ndarray (rows, cols)
        Change per pixel; NaN where there is no measurement (the photo shows through).
    background : ndarray (rows, cols, 3), optional
        Float RGB photo underneath (greyed), default mid-grey.
    limit : float, optional
        Value at which the colour saturates; default from ``DEFAULT_LIMITS[kind]`` or 1.
    kind : str, optional
        Map name (``a_star``, ``L_star``, ``roughness``) to pick the default limit.

    Returns
    -------
    ndarray (rows, cols, 3) float32 in [0, 1]
    """
    lim = limit if limit is not None else DEFAULT_LIMITS.get(kind or "", 1.0)
    v = np.asarray(values, dtype=np.float32)
    if background is None:
        bg = np.full(v.shape + (3,), 0.5, np.float32)
    else:
        grey = cv2.cvtColor(np.asarray(background, np.float32), cv2.COLOR_RGB2GRAY)
        bg = np.repeat(grey[..., None], 3, axis=2)
    colour = _diverging(np.nan_to_num(v / lim))
    have = np.isfinite(v)[..., None]
    out = np.where(have, (1 - alpha) * bg + alpha * colour, bg)
    return np.clip(out, 0, 1).astype(np.float32)


def draw_polygon(rgb: np.ndarray, polygon_xy: np.ndarray, *, colour=(0.0, 1.0, 0.3), thickness: int | None = None) -> np.ndarray:
    """A copy of ``rgb`` with the region outline drawn (float RGB in, float RGB out)."""
    out = np.ascontiguousarray(rgb.copy())
    t = thickness or max(2, round(max(rgb.shape[:2]) / 400))
    pts = np.round(np.asarray(polygon_xy, np.float64)).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(out, [pts], True, tuple(float(c) for c in colour), t, lineType=cv2.LINE_AA)
    return out
