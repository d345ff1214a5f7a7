"""Regions of interest and the skin mask inside them.

A region of interest (ROI) is one of

* :class:`RectROI` -- ``x, y, w, h`` in pixels of the image it was drawn on (``--roi X,Y,W,H``);
* :class:`PolygonROI` -- a polygon of ``(x, y)`` points in pixels;
* :class:`NamedROI` -- one of :data:`FACE_REGIONS`, placed from the face's 5 landmarks.

A region chosen on the baseline is carried into every follow-up by the alignment: the follow-up
is warped into the baseline frame (``analyzer.align``), and the same baseline polygon is used.

**Left/right are image sides**: ``left_cheek`` is the cheek on the left of the image (the subject's
right cheek in a frontal photo), matching :class:`analyzer.face.Face` landmark order.

Coordinates are (x, y) = (column, row) for polygon points; masks are (rows, cols) bool arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from analyzer.errors import UsageError
from analyzer.face import Face

__all__ = [
    "FACE_REGIONS",
    "RectROI",
    "PolygonROI",
    "NamedROI",
    "ROI",
    "parse_roi",
    "face_region_polygons",
    "face_area_polygon",
    "roi_polygon",
    "roi_label",
    "polygon_mask",
    "mask_bbox",
    "skin_mask",
    "SKIN_MASK_RULES",
]

#: Named face regions (left/right = image side).
FACE_REGIONS = ("forehead", "left_cheek", "right_cheek", "nose", "chin")


@dataclass(frozen=True)
class RectROI:
    """Axis-aligned rectangle, pixels: top-left ``(x, y)``, width ``w``, height ``h``."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class PolygonROI:
    """Polygon of ``(x, y)`` pixel points (at least 3)."""

    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class NamedROI:
    """A named face region, one of :data:`FACE_REGIONS`."""

    name: str


ROI = RectROI | PolygonROI | NamedROI


def parse_roi(text: str) -> ROI:
    """Parse a ``--roi`` option.

    ``"X,Y,W,H"`` (numbers, W and H > 0) gives a :class:`RectROI`; one of :data:`FACE_REGIONS`
    gives a :class:`NamedROI`. Anything else raises :class:`UsageError` with one line.

    Examples
    --------
    >>> parse_roi("10,20,300,200")
    RectROI(x=10.0, y=20.0, w=300.0, h=200.0)
    >>> parse_roi("forehead")
    NamedROI(name='forehead')
    """
    if text is None:
        raise UsageError("--roi is empty; give X,Y,W,H or one of " + ", ".join(FACE_REGIONS))
    t = str(text).strip()
    name = t.lower().replace("-", "_").replace(" ", "_")
    if name in FACE_REGIONS:
        return NamedROI(name)
    parts = [p.strip() for p in t.split(",")]
    if len(parts) == 4:
        try:
            x, y, w, h = (float(p) for p in parts)
        except ValueError:
            raise UsageError(f"--roi {t!r}: X,Y,W,H must be four numbers") from None
        if not all(np.isfinite([x, y, w, h])):
            raise UsageError(f"--roi {t!r}: X,Y,W,H must be finite numbers")
        if w <= 0 or h <= 0:
            raise UsageError(f"--roi {t!r}: width and height must be greater than 0")
        if x < 0 or y < 0:
            raise UsageError(f"--roi {t!r}: X and Y must be 0 or more")
        return RectROI(x, y, w, h)
    raise UsageError(f"--roi {t!r}: expected X,Y,W,H in pixels or one of " + ", ".join(FACE_REGIONS))


# Region shapes in the face frame: u along the eye line (image left -> right), v perpendicular,
# pointing down; both in units of the eye-centre distance d, origin midway between the eye
# centres. ``n`` in a v coordinate stands for the nose-base depth below the eye line (measured per
# face, typically 0.6-0.7 d), so that regions below the nose follow the face's proportions.
_REGION_SHAPES: dict[str, list[tuple[float, float | str]]] = {
    # band above the eyebrows, below the usual hair line
    "forehead": [(-0.55, -0.95), (0.55, -0.95), (0.55, -0.55), (-0.55, -0.55)],
    # below the lower eyelid, lateral of the nose, above the mouth corner
    "left_cheek": [(-0.80, 0.38), (-0.36, 0.38), (-0.36, "n-0.05"), (-0.48, "n+0.20"), (-0.78, "n+0.10")],
    # mirror of left_cheek
    "right_cheek": [(0.36, 0.38), (0.80, 0.38), (0.78, "n+0.10"), (0.48, "n+0.20"), (0.36, "n-0.05")],
    # bridge and dorsum of the nose, above the nostrils
    "nose": [(-0.09, 0.10), (0.09, 0.10), (0.15, "n-0.18"), (-0.15, "n-0.18")],
    # below the lower lip, above the jaw line
    "chin": [(-0.28, "n+0.68"), (0.28, "n+0.68"), (0.22, "n+0.95"), (-0.22, "n+0.95")],
}


def _face_frame(face: Face) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    le, re = np.asarray(face.left_eye, float), np.asarray(face.right_eye, float)
    mid = (le + re) / 2
    d = float(np.linalg.norm(re - le))
    if not np.isfinite(d) or d < 4:
        raise ValueError("face landmarks are degenerate (eyes closer than 4 px)")
    u = (re - le) / d
    v = np.array([-u[1], u[0]])  # rotate +90°: points down the face when the face is upright
    nv = float(np.dot(np.asarray(face.nose, float) - mid, v)) / d
    if not 0.35 <= nv <= 1.1:  # implausible landmark; fall back to the population average
        nv = 0.65
    return mid, u, v, d, nv


def _to_image(shape_uv, mid, u, v, d, nv) -> np.ndarray:
    pts = []
    for a, b in shape_uv:
        if isinstance(b, str):
            b = nv + float(b[1:])
        pts.append(mid + d * (a * u + b * v))
    return np.array(pts, dtype=np.float64)


def face_region_polygons(face: Face) -> dict[str, np.ndarray]:
    """Named face regions from the 5-point landmarks.

    Geometry is fixed in a face frame scaled by the eye-centre distance and rotated with the
    eye line (roll); regions below the nose also scale with the measured eye-to-nose depth.

    Returns
    -------
    dict
        ``name -> (N, 2)`` float64 polygon of (x, y) pixels in the image the face was found in,
        for every name in :data:`FACE_REGIONS`. Polygons may extend past the image border;
        :func:`polygon_mask` clips them.
    """
    frame = _face_frame(face)
    return {name: _to_image(_REGION_SHAPES[name], *frame) for name in FACE_REGIONS}


def face_area_polygon(face: Face, *, n_points: int = 48) -> np.ndarray:
    """An ellipse over the face from forehead to chin (the default region on a face photo)."""
    mid, u, v, d, nv = _face_frame(face)
    top, bottom = -0.95, nv + 0.95
    cv_, rv = (top + bottom) / 2, (bottom - top) / 2
    t = np.linspace(0, 2 * np.pi, n_points, endpoint=False)
    uv = [(0.85 * np.cos(a), cv_ + rv * np.sin(a)) for a in t]
    return _to_image(uv, mid, u, v, d, nv)


#: Left/right named by the patient's side: the regions' left/right are image sides (above),
#: and the cheek on the image's left is the patient's right cheek.
_SIDED = {"left_cheek": "Patient's right cheek", "right_cheek": "Patient's left cheek"}


def region_label(name: str) -> str:
    """A region as a person says it: ``forehead`` → ``Forehead``, ``face`` → ``Face``,
    ``left_cheek`` (image left) → ``Patient's right cheek``; custom names are kept as typed.

    >>> region_label("left_cheek"), region_label("chin"), region_label("")
    ("Patient's right cheek", 'Chin', 'Face')
    """
    if not name or name == "face":
        return "Face"
    if name in _SIDED:
        return _SIDED[name]
    text = str(name).replace("_", " ")
    return text[:1].upper() + text[1:]


def roi_label(roi: ROI | None) -> str:
    """Short text naming a region (for reports and the ``region`` field)."""
    if roi is None:
        return "auto"
    if isinstance(roi, NamedROI):
        return roi.name
    if isinstance(roi, RectROI):
        return f"rect:{roi.x:g},{roi.y:g},{roi.w:g},{roi.h:g}"
    return f"polygon:{len(roi.points)}pts"


def roi_polygon(roi: ROI | None, *, face: Face | None, shape: tuple[int, int]) -> np.ndarray:
    """The region as an (N, 2) (x, y) polygon in the image.

    Parameters
    ----------
    roi : RectROI, PolygonROI, NamedROI or None
        None means the whole face area (ellipse) when a face is given, else the whole image.
    face : Face or None
        Needed for a :class:`NamedROI`.
    shape : (rows, cols)
        The image's size, for the whole-image default and for checking rectangles.

    Raises
    ------
    UsageError
        A named region without a face, an unknown name, a rectangle outside the image, a
        polygon with fewer than 3 points.
    """
    rows, cols = int(shape[0]), int(shape[1])
    if roi is None:
        if face is not None:
            return face_area_polygon(face)
        return np.array([[0, 0], [cols, 0], [cols, rows], [0, rows]], dtype=np.float64)
    if isinstance(roi, NamedROI):
        if roi.name not in FACE_REGIONS:
            raise UsageError(f"unknown region {roi.name!r}; allowed: " + ", ".join(FACE_REGIONS))
        if face is None:
            raise UsageError(f"region {roi.name!r} needs a face, and no face was found in the photo; use --roi X,Y,W,H")
        return face_region_polygons(face)[roi.name]
    if isinstance(roi, RectROI):
        if roi.x >= cols or roi.y >= rows:
            raise UsageError(f"--roi {roi.x:g},{roi.y:g},{roi.w:g},{roi.h:g} starts outside the {cols}x{rows} image")
        x0, y0 = roi.x, roi.y
        x1, y1 = min(roi.x + roi.w, cols), min(roi.y + roi.h, rows)
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
    if isinstance(roi, PolygonROI):
        pts = np.asarray(roi.points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[0] < 3 or pts.shape[1] != 2:
            raise UsageError("a polygon region needs at least 3 (x, y) points")
        return pts
    raise UsageError(f"unsupported region type {type(roi).__name__}")


def mask_bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(row0, row1, col0, col1) of the True pixels (half-open); (0, 0, 0, 0) when empty.
    Faster than ``np.nonzero`` on a large, mostly empty mask."""
    m = np.ascontiguousarray(mask, dtype=bool).view(np.uint8)
    x, y, w, h = cv2.boundingRect(m)
    if w == 0 or h == 0:
        return 0, 0, 0, 0
    return int(y), int(y + h), int(x), int(x + w)


def polygon_mask(poly_xy: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise an (x, y) polygon into a (rows, cols) bool mask (pixel centres inside)."""
    rows, cols = int(shape[0]), int(shape[1])
    m = np.zeros((rows, cols), np.uint8)
    pts = np.asarray(poly_xy, dtype=np.float64)
    if pts.ndim != 2 or len(pts) < 3:
        return m.astype(bool)
    # cv2.fillPoly with 4 fractional bits: vertex (x, y) is the pixel-centre coordinate system.
    p = np.round((pts - 0.0) * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(m, [p], 1, lineType=cv2.LINE_8, shift=4)
    return m.astype(bool)


#: Regions larger than this are classified at reduced resolution (speed on 12 MP photos).
SKIN_MASK_MAX_PIXELS = 1_000_000

#: The rules of :func:`skin_mask`, in plain words (documented in docs/metrics.md).
SKIN_MASK_RULES = {
    "hue": "CIELAB hue angle h_ab between -10 and 95 degrees (skin is red-yellow; excludes grey/blue "
    "background, eyes' whites and irises, green/blue clothing)",
    "chroma": "C*ab >= 4 (excludes neutral background, grey hair, specular highlights)",
    "shadow": "L* >= max(8, median_skin_L - 25) (excludes deep shadow, hair, eyebrows, pupils, nostrils; "
    "pigmented spots, about 5-15 L* darker than the skin around them, stay in)",
    "highlight": "L* <= median_skin_L + 18 and no channel >= 0.98 (specular highlights)",
    "cleanup": "morphological opening (3 px) and removal of components < 0.2% of the region",
}


def skin_mask(
    rgb: np.ndarray,
    *,
    region: np.ndarray | None = None,
    lab: np.ndarray | None = None,
) -> np.ndarray:
    """Skin pixels inside a region.

    Excludes hair, eyebrows, eyes, nostrils, background, specular highlights and deep shadow by
    colour (see :data:`SKIN_MASK_RULES`), with thresholds that are *relative to the region's own
    median skin lightness* only for the dark/bright cut-offs, so pigmented spots and red patches
    (which are skin) stay in. Lips are excluded by the named-region geometry, not by colour (a
    colour rule for lips would also remove red patches).

    Parameters
    ----------
    rgb : ndarray (rows, cols, 3) float32 sRGB [0, 1]
    region : bool ndarray (rows, cols), optional
        The region of interest; the whole image when None.
    lab : ndarray, optional
        CIELAB of ``rgb`` if already computed (saves time).

    Returns
    -------
    ndarray of bool, (rows, cols)
    """
    rows, cols = rgb.shape[:2]
    if region is None:
        region = np.ones((rows, cols), bool)
    region = np.asarray(region, bool)
    if not region.any():
        return region.copy()
    r0, r1, c0, c1 = mask_bbox(region)
    reg_full = region[r0:r1, c0:c1]
    sub = np.ascontiguousarray(rgb[r0:r1, c0:c1], dtype=np.float32)
    # Large regions are classified at <= SKIN_MASK_MAX_PIXELS (area-averaged) and the mask is
    # scaled back with nearest neighbour: the classification is per pixel colour, so only the
    # exact edge of a hair strand or an eyelid moves by a fraction of a reduced pixel.
    h, w = sub.shape[:2]
    k = min(1.0, math.sqrt(SKIN_MASK_MAX_PIXELS / max(h * w, 1)))
    reg = reg_full
    if k < 1.0:
        size = (max(1, round(w * k)), max(1, round(h * k)))
        sub = cv2.resize(sub, size, interpolation=cv2.INTER_AREA)
        reg = cv2.resize(reg_full.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
        lab = None
    if lab is None:
        from analyzer.color import rgb_to_lab

        lb = rgb_to_lab(sub)
    else:
        lb = lab[r0:r1, c0:c1]
    L, a, b = lb[..., 0], lb[..., 1], lb[..., 2]
    # hue angle in [-10, 95] degrees without arctan2: inside the wedge between the two rays
    t1, t2 = math.radians(-10.0), math.radians(95.0)
    in_wedge = (math.cos(t1) * b - math.sin(t1) * a >= 0) & (math.sin(t2) * a - math.cos(t2) * b >= 0)
    colour_ok = reg & (a * a + b * b >= 16.0) & in_wedge
    if np.count_nonzero(colour_ok) < 20:
        out = np.zeros((rows, cols), bool)
        return out
    Lc = L[colour_ok]
    med_L = float(np.median(Lc[:: max(1, len(Lc) // 200_000)]))
    lo = max(8.0, med_L - 25.0)
    hi = med_L + 18.0
    clipped = np.maximum(np.maximum(sub[..., 0], sub[..., 1]), sub[..., 2]) >= 0.98
    m = colour_ok & (L >= lo) & (L <= hi) & ~clipped
    m8 = m.astype(np.uint8)
    m8 = cv2.morphologyEx(m8, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, lbl, stats, _ = cv2.connectedComponentsWithStats(m8, connectivity=8)
    min_area = max(10, int(0.002 * reg.sum()))
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    m = keep[lbl] & reg
    if m.shape != reg_full.shape:
        m = cv2.resize(m.astype(np.uint8), (reg_full.shape[1], reg_full.shape[0]), interpolation=cv2.INTER_NEAREST).astype(bool)
        m &= reg_full
    out = np.zeros((rows, cols), bool)
    out[r0:r1, c0:c1] = m
    return out
