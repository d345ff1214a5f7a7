"""Pictures for people: change heat maps and region outlines, as float RGB arrays.

Scales are fixed per map kind, never stretched to the image's own range, so the same colour
means the same change in every session.
"""

from __future__ import annotations

import math

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


def draw_rectangle(
    rgb: np.ndarray,
    rect_xywh: tuple[float, float, float, float] | None,
    *,
    photo_size: tuple[int, int] | None = None,
    max_side: int = 640,
    colour=(1.0, 0.1, 0.8),
    thickness: int | None = None,
) -> np.ndarray:
    """A reduced copy of ``rgb`` with a rectangle outlined (e.g. a marked colour reference patch).

    Parameters
    ----------
    rgb : ndarray (rows, cols, 3) float RGB in [0, 1]
        The photo, or a smaller copy of it (a display derivative).
    rect_xywh : (x, y, w, h) or None
        The rectangle in the pixels of the photo of size ``photo_size`` (top-left corner,
        width, height); None draws nothing.
    photo_size : (width, height), optional
        The full photo's size when ``rgb`` is a reduced copy of it; default ``rgb``'s own size.
    max_side : int
        Longest side of the returned picture (never enlarged).

    Returns
    -------
    ndarray (rows', cols', 3) float32 in [0, 1]
        ``rgb`` reduced so that its longest side is at most ``max_side``, with the outline.
        The outline is drawn just outside the rectangle so the patch itself stays visible.
    """
    img = np.asarray(rgb, np.float32)
    h, w = img.shape[:2]
    pw, ph = photo_size if photo_size is not None else (w, h)
    s = min(1.0, max_side / max(h, w))
    if s < 1.0:
        img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    out = np.ascontiguousarray(np.clip(img, 0, 1).copy())
    if rect_xywh is None:
        return out
    f = (img.shape[1] / pw, img.shape[0] / ph)  # photo pixels -> picture pixels
    x, y, rw, rh = (float(v) for v in rect_xywh)
    t = thickness or max(2, round(max(out.shape[:2]) / 250))
    x0, y0 = int(np.floor(x * f[0])) - 1, int(np.floor(y * f[1])) - 1
    x1, y1 = int(np.ceil((x + rw) * f[0])), int(np.ceil((y + rh) * f[1]))
    cv2.rectangle(out, (x0 - t // 2, y0 - t // 2), (x1 + t // 2, y1 + t // 2),
                  tuple(float(c) for c in colour), t, lineType=cv2.LINE_8)
    return out


#: The colour of a practitioner's marks (annotations): never a colour the analysis draws with.
ANNOTATION_COLOUR = (1.0, 0.85, 0.0)


def draw_annotations(rgb: np.ndarray, marks, *, scale: float = 1.0, matrix: np.ndarray | None = None) -> np.ndarray:
    """A copy of ``rgb`` with a photo's annotations drawn (arrows, text, freehand outlines).

    Parameters
    ----------
    rgb : ndarray (rows, cols, 3), float RGB in [0, 1] or uint8
    marks : iterable of mappings or records with ``kind`` and ``data`` (``points`` in the
        annotated photo's pixels, ``text``)
    scale : float
        Picture pixels per photo pixel (a reduced copy).
    matrix : (3, 3) array, optional
        Maps the annotated photo's pixels into ``rgb``'s frame (a follow-up shown aligned to
        its baseline), applied before ``scale``.

    The marks are drawn on a copy for people to see; the analysis never reads them.
    """
    from PIL import Image, ImageDraw, ImageFont

    u8 = rgb.dtype == np.uint8
    img = Image.fromarray(np.ascontiguousarray(rgb if u8 else np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)))
    dr = ImageDraw.Draw(img)
    col = tuple(int(c * 255) for c in ANNOTATION_COLOUR)
    t = max(2, round(max(img.size) / 300))
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", max(12, round(max(img.size) / 45)))
    except OSError:
        font = ImageFont.load_default(size=max(12, round(max(img.size) / 45)))
    for mk in marks:
        kind = mk["kind"] if isinstance(mk, dict) else mk.kind
        data = mk["data"] if isinstance(mk, dict) else mk.data
        pts = np.asarray(data.get("points") or [], np.float64).reshape(-1, 2)
        if matrix is not None and len(pts):
            h = np.c_[pts, np.ones(len(pts))] @ np.asarray(matrix, np.float64).T
            pts = h[:, :2] / h[:, 2:3]
        pts = pts * scale
        xy = [tuple(map(float, p)) for p in pts]
        text = str(data.get("text") or "")
        if kind == "arrow" and len(xy) == 2:
            (x0, y0), (x1, y1) = xy
            dr.line(xy, fill=col, width=t)
            ang = math.atan2(y1 - y0, x1 - x0)
            head = 4 * t + 6
            left = (x1 - head * math.cos(ang - 0.45), y1 - head * math.sin(ang - 0.45))
            right = (x1 - head * math.cos(ang + 0.45), y1 - head * math.sin(ang + 0.45))
            dr.polygon([(x1, y1), left, right], fill=col)
            anchor = (x0, y0)
        elif kind == "outline" and len(xy) >= 3:
            dr.line(xy + [xy[0]], fill=col, width=t, joint="curve")
            anchor = xy[0]
        elif kind == "text" and xy:
            anchor = xy[0]
        else:
            continue
        if text:
            x0, y0, x1, y1 = dr.textbbox(anchor, text, font=font)
            dr.rectangle((x0 - 3, y0 - 2, x1 + 3, y1 + 2), fill=(0, 0, 0))
            dr.text(anchor, text, font=font, fill=col)
    out = np.asarray(img)
    return out if u8 else out.astype(np.float32) / 255.0
