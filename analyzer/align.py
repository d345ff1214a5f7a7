"""Alignment: map a follow-up photo into the baseline photo's frame.

A region drawn once on the baseline is measured in the same place on every later photo
only if each follow-up is mapped into the baseline's pixel frame. :func:`align` returns an
:class:`Alignment` whose ``matrix`` maps follow-up pixel coordinates ``(x, y, 1)`` to
baseline pixel coordinates, both in upright full-resolution pixels (``x`` = column,
``y`` = row, pixel centres at integer positions, as in OpenCV).

Two paths, one result type:

* **face** (both photos show a face): dlib 5-point landmarks give a similarity
  transform; a same-person check (dlib ResNet face descriptor) refuses a different
  person; ECC refinement on a locally normalised grey image restricted to the skin of the
  baseline's face ellipse gives sub-pixel accuracy; the model (affine or homography) is
  picked by what the face region supports; a homography is then fitted to both directions
  (the follow-up's own face skin matched in the baseline too). The background, clothes,
  hair, eyes and brows never enter the estimate.
* **body** (abdomen, scalp, back, hands): SIFT features restricted to the baseline's
  skin region, RANSAC (MAGSAC) homography / affine, then the same ECC refinement on the
  skin region.

A pair that can't be aligned with confidence (a different person, a different body
area, too little overlap) returns ``ok=False`` with a plain-words ``reason``, never a
confident wrong transform. Work is done on reduced copies (long side
:data:`WORK_SIDE`) and the matrix is scaled back exactly (pixel-centre convention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from analyzer.errors import UsageError
from analyzer.face import SAME_PERSON_MAX_DISTANCE, Face, detect_faces, face_descriptor, main_face
from analyzer.results import finite_or_none

#: Long side of the reduced images used for detection, features and ECC.
WORK_SIDE = 1280
#: Minimum fraction of the baseline region covered by the warped follow-up.
MIN_OVERLAP = 0.5
#: Minimum ECC correlation (locally normalised grey, region) for an accepted alignment.
#: A guard against a failed estimate, not an identity test: same-person pairs across
#: sessions reach only 0.25-0.5 (expression, pose, light), synthetic pairs 0.8-0.95.
MIN_ECC_CORRELATION = 0.15
#: Body path: minimum RANSAC inliers among skin-region feature matches.
MIN_INLIERS = 25
#: Body path: minimum inlier fraction of ratio-test matches.
MIN_INLIER_RATIO = 0.25

AREAS = ("auto", "face", "body")



@dataclass(frozen=True)
class Alignment:
    """Result of aligning a follow-up photo to a baseline photo.

    Attributes
    ----------
    matrix : ndarray, (3, 3) float64
        Maps follow-up ``(x, y, 1)`` to baseline ``(x, y, 1)`` (homogeneous), full-resolution
        upright pixels. Identity when nothing could be estimated.
    ok : bool
        True when the transform can be used for measurement.
    confidence : float
        0..1. Refused alignments never exceed 0.2.
    method : str
        How it was made, e.g. ``"face-landmarks+ecc-affine"``, ``"skin-features+ecc-homography"``.
    residual_px : float
        RMS of local misregistration (patch phase correlation over the region after
        alignment), in baseline full-resolution pixels. NaN when not computable.
    overlap : float
        Fraction of the baseline face/skin region covered by the warped follow-up (0..1).
        NaN when no transform was estimated.
    reason : str or None
        Plain words, set whenever ``ok`` is False.
    baseline_size, followup_size : tuple of int
        ``(width, height)`` of the two photos.
    details : dict
        Diagnostic figures (ECC correlation, face distance, inliers...). JSON-safe.
    """

    matrix: np.ndarray = field(repr=False)
    ok: bool
    confidence: float
    method: str
    residual_px: float
    overlap: float
    reason: str | None
    baseline_size: tuple[int, int]
    followup_size: tuple[int, int]
    details: dict = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict:
        """JSON-safe dict: matrix as nested lists, NaN as ``None``, plus ``image`` sizes."""
        return {
            "matrix": [[float(v) for v in row] for row in np.asarray(self.matrix, dtype=np.float64)],
            "ok": bool(self.ok),
            "confidence": finite_or_none(self.confidence),
            "method": self.method,
            "residual_px": finite_or_none(self.residual_px),
            "overlap": finite_or_none(self.overlap),
            "reason": self.reason,
            "image": {
                "baseline": {"width": int(self.baseline_size[0]), "height": int(self.baseline_size[1])},
                "followup": {"width": int(self.followup_size[0]), "height": int(self.followup_size[1])},
            },
            "details": {k: _json_safe(v) for k, v in self.details.items()},
        }


def _json_safe(v):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return finite_or_none(float(v))
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    return v


# --------------------------------------------------------------------------- geometry


def transform_points(matrix: np.ndarray, pts_xy) -> np.ndarray:
    """Map (N, 2) ``(x, y)`` points through a 3x3 homogeneous matrix.

    Parameters
    ----------
    matrix : array_like, (3, 3)
    pts_xy : array_like, (N, 2) or (2,)

    Returns
    -------
    ndarray, (N, 2) float64
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (3, 3):
        raise UsageError(f"matrix must be 3x3, got shape {m.shape}")
    p = np.asarray(pts_xy, dtype=np.float64).reshape(-1, 2)
    h = p @ m[:, :2].T + m[:, 2]
    w = h[:, 2:3]
    with np.errstate(divide="ignore", invalid="ignore"):
        return h[:, :2] / w


def _scale_matrix(sx: float, sy: float) -> np.ndarray:
    """Full-res pixel -> resized pixel for cv2.resize by (sx, sy) (pixel-centre convention)."""
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1.0]])


def _translation(tx: float, ty: float) -> np.ndarray:
    return np.array([[1.0, 0, tx], [0, 1.0, ty], [0, 0, 1.0]])


def _similarity_lstsq(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama, no reflection) mapping src -> dst, 3x3."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    cov = b.T @ a / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1, 1] = -1
    r = u @ d @ vt
    var = (a**2).sum() / len(src)
    scale = np.trace(np.diag(s) @ d) / var if var > 0 else 1.0
    m = np.eye(3)
    m[:2, :2] = scale * r
    m[:2, 2] = md - scale * r @ ms
    return m


# --------------------------------------------------------------------------- images


@dataclass
class _Work:
    """A reduced copy of one photo and what is derived from it."""

    rgb8: np.ndarray  # uint8 RGB, reduced
    feat: np.ndarray  # float32 locally normalised grey, reduced
    grey8: np.ndarray  # uint8 grey, reduced
    S: np.ndarray  # full-res -> work coords
    size: tuple[int, int]  # full-res (width, height)


def _local_normalize(g: np.ndarray, sigma: float = 6.0, floor: float = 0.02) -> np.ndarray:
    """Subtract the local mean and divide by the local contrast (Gaussian windows).

    Makes the image used for ECC and residuals insensitive to exposure, gamma and
    white-balance changes (each is close to a local gain and offset).
    """
    m = cv2.GaussianBlur(g, (0, 0), sigma)
    d = g - m
    v = cv2.GaussianBlur(d * d, (0, 0), sigma)
    return (d / np.sqrt(v + floor * floor)).astype(np.float32)


def _prepare(rgb: np.ndarray, label: str) -> _Work:
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] < 16 or a.shape[1] < 16:
        raise UsageError(f"{label} photo must be an RGB array (rows, cols, 3) of at least 16x16, got {a.shape}")
    rows, cols = a.shape[:2]
    s = min(1.0, WORK_SIDE / max(rows, cols))
    if s < 1.0:
        nw, nh = max(1, round(cols * s)), max(1, round(rows * s))
        small = cv2.resize(a, (nw, nh), interpolation=cv2.INTER_AREA)
        S = _scale_matrix(nw / cols, nh / rows)
    else:
        small = a
        S = np.eye(3)
    if small.dtype == np.uint8:
        rgb8 = np.ascontiguousarray(small)
        f = small.astype(np.float32) * (1.0 / 255.0)
    else:
        f = np.clip(small.astype(np.float32), 0.0, 1.0)
        rgb8 = (f * 255.0 + 0.5).astype(np.uint8)
    grey8 = cv2.cvtColor(rgb8, cv2.COLOR_RGB2GRAY)
    feat = _local_normalize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY))
    return _Work(rgb8=rgb8, feat=feat, grey8=grey8, S=S, size=(cols, rows))


# --------------------------------------------------------------------------- faces


def _face_descriptor(w: _Work, face: Face) -> np.ndarray:
    """dlib 128-D face descriptor; ``face`` in work coordinates."""
    return face_descriptor(w.rgb8, face)


def _face_to_work(face: Face, S: np.ndarray) -> Face:
    lm = transform_points(S, face.landmarks)
    x, y, bw, bh = face.box
    c = transform_points(S, [[x, y], [x + bw, y + bh]])
    return Face(box=(c[0, 0], c[0, 1], c[1, 0] - c[0, 0], c[1, 1] - c[0, 1]), landmarks=lm, score=face.score)


def _detect(w: _Work) -> Face | None:
    faces = detect_faces(w.rgb8)
    if faces:
        return main_face(faces)
    # Retry at rotated angles (HOG frontal detector tolerates ~±20° roll).
    rows, cols = w.rgb8.shape[:2]
    for ang in (30.0, -30.0):
        R = cv2.getRotationMatrix2D(((cols - 1) / 2, (rows - 1) / 2), ang, 1.0)
        rot = cv2.warpAffine(w.rgb8, R, (cols, rows), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        face = main_face(detect_faces(rot))
        if face is not None:
            inv = np.linalg.inv(np.vstack([R, [0, 0, 1]]))
            return _face_to_work(face, inv)  # box becomes approximate; landmarks exact
    return None


def detect_main_face(rgb: np.ndarray) -> Face | None:
    """The face :func:`align` would use, in full-resolution coordinates (or None).

    Detects on the reduced work copy, retries at rotated angles, and picks the most
    confident of the large detections. Pass the result as ``baseline_face`` /
    ``followup_face`` to avoid detecting again.
    """
    w = _prepare(rgb, "photo")
    f = _detect(w)
    return None if f is None else _face_to_work(f, np.linalg.inv(w.S))


def face_region_mask(shape: tuple[int, int], face: Face) -> np.ndarray:
    """Boolean mask of the face ellipse (forehead to chin, cheek to cheek) from 5 landmarks.

    Built from eye centres and eye distance ``d``: centre 0.42 d below the eye line,
    semi-axes 1.0 d across and 1.42 d along the face, rotated with the eye line.
    """
    d = face.eye_distance
    ce = (face.left_eye + face.right_eye) / 2
    ang = math.radians(face.roll_deg)
    down = np.array([-math.sin(ang), math.cos(ang)])
    c = ce + 0.42 * d * down
    m = np.zeros(shape[:2], np.uint8)
    cv2.ellipse(m, (round(c[0]), round(c[1])), (max(1, round(1.0 * d)), max(1, round(1.42 * d))),
                face.roll_deg, 0, 360, 1, -1)
    return m.astype(bool)


#: The face path's ECC region keeps only skin when skin covers at least this fraction of the
#: face ellipse; below it (a colour rule failing on unusual light) the whole ellipse is used.
MIN_SKIN_FRACTION = 0.5


def _ecc_face_region(w: _Work, face: Face) -> np.ndarray:
    """The face ellipse restricted to skin (:func:`analyzer.regions.skin_mask`): the pixels ECC matches.

    Hair over the forehead, eyebrows, eyes and nostrils move between sessions (hair falls
    differently, eyes blink and look elsewhere) and the background at the ellipse edge moves
    against the face; none of them is skin that is measured, so none of them should pull the
    transform. Falls back to the whole ellipse when skin covers < :data:`MIN_SKIN_FRACTION` of it.
    """
    from analyzer.regions import skin_mask as region_skin_mask

    ell = face_region_mask(w.feat.shape, face)
    skin = region_skin_mask(w.rgb8.astype(np.float32) * np.float32(1.0 / 255.0), region=ell)
    return skin if skin.sum() >= MIN_SKIN_FRACTION * ell.sum() else ell


# --------------------------------------------------------------------------- skin (body path)


def skin_mask(rgb8: np.ndarray) -> np.ndarray:
    """Rough skin mask (YCrCb box rule, cleaned). Boolean, same rows/cols."""
    ycc = cv2.cvtColor(rgb8, cv2.COLOR_RGB2YCrCb)
    cr, cb, y = ycc[:, :, 1], ycc[:, :, 2], ycc[:, :, 0]
    m = ((cr >= 133) & (cr <= 180) & (cb >= 77) & (cb <= 135) & (y >= 30)).astype(np.uint8)
    k = max(3, (min(rgb8.shape[:2]) // 100) | 1)
    ker = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, ker)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, ker)
    return m.astype(bool)


def _region_for_body(w: _Work) -> tuple[np.ndarray, str]:
    m = skin_mask(w.rgb8)
    if m.mean() < 0.05:
        return np.ones(w.rgb8.shape[:2], bool), "image"
    return m, "skin"


# --------------------------------------------------------------------------- ECC


def _ecc(tmpl: np.ndarray, tmask: np.ndarray, img: np.ndarray, W: np.ndarray, motion: int,
         iters: int, eps: float = 1e-5) -> tuple[float, np.ndarray]:
    """ECC from template (baseline) coords to image (follow-up) coords. W is 3x3."""
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iters, eps)
    init = W.astype(np.float32) if motion == cv2.MOTION_HOMOGRAPHY else W[:2].astype(np.float32)
    imask = np.full(img.shape[:2], 255, np.uint8)
    rho, out = cv2.findTransformECCWithMask(tmpl, img, tmask, imask, init, motion, crit, 5)
    res = np.eye(3)
    res[: out.shape[0]] = out
    return float(rho), res


def _crop_box(region: np.ndarray, pad: int = 8) -> tuple[int, int, int, int]:
    """``(x0, x1, y0, y1)`` (end exclusive) of a boolean region's bounding box plus ``pad``, in the frame."""
    rows, cols = region.shape
    ys, xs = np.nonzero(region)
    return (max(0, xs.min() - pad), min(cols, xs.max() + pad + 1), max(0, ys.min() - pad),
            min(rows, ys.max() + pad + 1))


def _spread_below(region: np.ndarray, limit: float = 0.15):
    """The body path's plausibility rule for a homography: w varies < ``limit`` over the region."""
    return lambda M: _perspective_spread(M, region) < limit


def _refine(bw: _Work, fw: _Work, region: np.ndarray, M0: np.ndarray, plausible) -> dict:
    """ECC refinement of M0 (follow-up work -> baseline work) on the baseline region.

    Coarse affine then homography passes at half resolution (cheap, wide basin), then the
    homography at work resolution for sub-pixel accuracy. The affine candidate (refined at
    work resolution) is computed only when the homography is implausible (``plausible(M)``
    False).
    Returns ``{"affine": (M, rho) or None, "homography": (M, rho)}``.
    """
    x0, x1, y0, y1 = _crop_box(region)
    tmpl = bw.feat[y0:y1, x0:x1]
    tmask = region[y0:y1, x0:x1].astype(np.uint8) * 255
    T = _translation(x0, y0)
    Ti = np.linalg.inv(T)
    W = np.linalg.inv(M0) @ T  # template crop -> follow-up work
    W /= W[2, 2]
    # Coarse passes at half resolution.
    th = cv2.resize(tmpl, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    mh = cv2.resize(tmask, (th.shape[1], th.shape[0]), interpolation=cv2.INTER_NEAREST)
    ih = cv2.resize(fw.feat, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    hs = _scale_matrix(ih.shape[1] / fw.feat.shape[1], ih.shape[0] / fw.feat.shape[0])
    ht = _scale_matrix(th.shape[1] / tmpl.shape[1], th.shape[0] / tmpl.shape[0])
    Wc = hs @ W @ np.linalg.inv(ht)
    Wa = W
    try:
        _, Wc = _ecc(th, mh, ih, Wc, cv2.MOTION_AFFINE, 60, 1e-5)
        Wa = np.linalg.inv(hs) @ Wc @ ht
        _, Wc = _ecc(th, mh, ih, Wc, cv2.MOTION_HOMOGRAPHY, 30, 1e-5)
        W = np.linalg.inv(hs) @ Wc @ ht
    except cv2.error:
        W = Wa
    try:
        rho_h, Wh = _ecc(tmpl, tmask, fw.feat, W / W[2, 2], cv2.MOTION_HOMOGRAPHY, 12, 1e-5)
    except cv2.error:
        rho_h, Wh = float("nan"), W
    Mh = np.linalg.inv(Wh @ Ti)
    out = {"homography": (Mh / Mh[2, 2], rho_h), "affine": None}
    if not (math.isfinite(rho_h) and plausible(out["homography"][0])):
        try:
            rho_a, Wa = _ecc(tmpl, tmask, fw.feat, Wa, cv2.MOTION_AFFINE, 20, 1e-5)
        except cv2.error:
            rho_a = float("nan")
        Ma = np.linalg.inv(Wa @ Ti)
        out["affine"] = (Ma / Ma[2, 2], rho_a)
    return out


def _refine_backward(bw: _Work, fw: _Work, fregion: np.ndarray, M: np.ndarray) -> tuple[np.ndarray, float]:
    """ECC the other way round: the follow-up's own region matched in the baseline, started from M.

    Returns (follow-up work -> baseline work homography, correlation); ``M`` and NaN when
    ECC fails. One homography pass at work resolution: M is already close, so the baseline is
    cropped to where M puts the follow-up's region, with a margin of a quarter of its size.
    """
    x0, x1, y0, y1 = _crop_box(fregion)
    T = _translation(x0, y0)
    W = M @ T  # follow-up crop -> baseline work
    c = transform_points(W, [[0, 0], [x1 - x0, 0], [0, y1 - y0], [x1 - x0, y1 - y0]])
    if not np.all(np.isfinite(c)):
        return M, float("nan")
    rows, cols = bw.feat.shape
    m = 0.25 * max(np.ptp(c[:, 0]), np.ptp(c[:, 1])) + 8
    bx0, by0 = int(max(0, c[:, 0].min() - m)), int(max(0, c[:, 1].min() - m))
    bx1, by1 = int(min(cols, c[:, 0].max() + m + 1)), int(min(rows, c[:, 1].max() + m + 1))
    if bx1 - bx0 < 16 or by1 - by0 < 16:
        return M, float("nan")
    Tb = _translation(bx0, by0)
    W = np.linalg.inv(Tb) @ W  # follow-up crop -> baseline crop
    try:
        rho, W = _ecc(fw.feat[y0:y1, x0:x1], fregion[y0:y1, x0:x1].astype(np.uint8) * 255,
                      bw.feat[by0:by1, bx0:bx1], W / W[2, 2], cv2.MOTION_HOMOGRAPHY, 12, 1e-5)
    except cv2.error:
        return M, float("nan")
    Mb = Tb @ W @ np.linalg.inv(T)
    return Mb / Mb[2, 2], rho


def _region_points(region: np.ndarray, n: int = 300) -> np.ndarray:
    """``n`` points spread evenly (raster order) over a boolean region, (x, y)."""
    ys, xs = np.nonzero(region)
    idx = np.linspace(0, len(xs) - 1, n).astype(int)
    return np.c_[xs[idx], ys[idx]].astype(np.float64)


def _symmetric_homography(Mf: np.ndarray, bregion: np.ndarray, Mb: np.ndarray, fregion: np.ndarray) -> np.ndarray:
    """One homography (follow-up -> baseline) agreeing with both one-way estimates.

    ``Mf`` was fitted on the baseline's face region, ``Mb`` on the follow-up's; each is
    trusted on its own region. Least squares over the same number of points spread evenly
    over each region (each face counts once, every part of a face counts by its area).
    """
    pb = _region_points(bregion)
    pf = _region_points(fregion)
    src = np.r_[transform_points(np.linalg.inv(Mf), pb), pf]
    dst = np.r_[pb, transform_points(Mb, pf)]
    H, _ = cv2.findHomography(src, dst, 0)
    if H is None or not np.all(np.isfinite(H)):
        return Mf
    return H / H[2, 2]


def _region_correlation(bw: _Work, fw: _Work, region: np.ndarray, M: np.ndarray) -> float:
    """ECC correlation of the baseline region with the follow-up warped by M (follow-up -> baseline).

    Both images are smoothed by the same 5x5 Gaussian ECC applies (``gaussFiltSize`` 5), so the
    figure is the correlation ECC itself reports and :data:`MIN_ECC_CORRELATION` refers to.
    """
    x0, x1, y0, y1 = _crop_box(region, pad=0)
    tmpl = cv2.GaussianBlur(bw.feat[y0:y1, x0:x1], (5, 5), 0)
    warped = cv2.warpPerspective(cv2.GaussianBlur(fw.feat, (5, 5), 0), _translation(-x0, -y0) @ M, (x1 - x0, y1 - y0),
                                 flags=cv2.INTER_LINEAR)
    try:
        return float(cv2.computeECC(tmpl, warped, region[y0:y1, x0:x1].astype(np.uint8) * 255))
    except cv2.error:
        return float("nan")


#: Whole-frame check only when the region covers less than this fraction of the frame.
SCENE_CHECK_MAX_REGION = 0.06


def _scene_check(bw: _Work, fw: _Work, region: np.ndarray, M: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Whole-frame homography, kept only where it agrees with the face/skin transform.

    When the region is small (a face far from the camera), a transform fitted to it alone
    extrapolates poorly to the rest of the frame. If the whole frame moved with the face
    (fixed camera and subject, or a re-photographed print), a whole-frame ECC started from
    the region's transform converges to the same mapping on the region and is better
    conditioned elsewhere. In a selfie the room moves against the face and the check fails,
    so the region's own transform is kept. Runs at half the work resolution (speed).
    """
    rows, cols = region.shape
    if region.mean() > SCENE_CHECK_MAX_REGION:
        return None
    tb = cv2.resize(bw.feat, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    tf = cv2.resize(fw.feat, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    Sb = _scale_matrix(tb.shape[1] / cols, tb.shape[0] / rows)
    Sf = _scale_matrix(tf.shape[1] / fw.feat.shape[1], tf.shape[0] / fw.feat.shape[0])
    m = max(2, round(0.04 * max(tb.shape)))
    tmask = np.zeros(tb.shape, np.uint8)
    tmask[m:-m, m:-m] = 255
    W = Sf @ np.linalg.inv(M) @ np.linalg.inv(Sb)
    try:
        rho, W = _ecc(tb, tmask, tf, W / W[2, 2], cv2.MOTION_HOMOGRAPHY, 30, 1e-5)
    except cv2.error:
        return None
    Ms = np.linalg.inv(Sb) @ np.linalg.inv(W) @ Sf
    Ms /= Ms[2, 2]
    if not (math.isfinite(rho) and rho >= 0.5) or _perspective_spread(Ms, np.ones_like(region)) > 0.15:
        return None
    pb = _region_points(region, 64)
    d = np.linalg.norm(transform_points(np.linalg.inv(Ms), pb) - transform_points(np.linalg.inv(M), pb), axis=1)
    if d.max() > 0.75:
        return None
    return Ms, rho


# --------------------------------------------------------------------------- measures


def _overlap(region: np.ndarray, M: np.ndarray, fshape: tuple[int, int]) -> float:
    """Fraction of ``region`` (baseline work frame) covered by the warped follow-up frame."""
    rows, cols = region.shape
    ones = np.full(fshape[:2], 255, np.uint8)
    cov = cv2.warpPerspective(ones, M, (cols, rows), flags=cv2.INTER_NEAREST, borderValue=0)
    n = int(region.sum())
    return float((cov[region] > 0).sum() / n) if n else float("nan")


def _local_residual(bw: _Work, fw: _Work, region: np.ndarray, M: np.ndarray, grid: int = 4,
                    patch: int = 96) -> float:
    """RMS local shift (work px) between baseline and warped follow-up, by patch phase correlation."""
    rows, cols = region.shape
    warped = cv2.warpPerspective(fw.feat, M, (cols, rows), flags=cv2.INTER_LINEAR, borderValue=0)
    valid = cv2.warpPerspective(np.ones(fw.feat.shape, np.uint8), M, (cols, rows), flags=cv2.INTER_NEAREST)
    ys, xs = np.nonzero(region)
    if len(xs) == 0:
        return float("nan")
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    half = patch // 2
    win = cv2.createHanningWindow((patch, patch), cv2.CV_32F)
    shifts = []
    for gy in np.linspace(y0 + half, y1 - half, grid):
        for gx in np.linspace(x0 + half, x1 - half, grid):
            cx, cy = int(gx), int(gy)
            if cx - half < 0 or cy - half < 0 or cx + half > cols or cy + half > rows:
                continue
            sl = np.s_[cy - half: cy + half, cx - half: cx + half]
            if region[sl].mean() < 0.8 or valid[sl].mean() < 0.99:
                continue
            a, b = bw.feat[sl], warped[sl]
            if a.std() < 1e-3 or b.std() < 1e-3:
                continue
            (dx, dy), resp = cv2.phaseCorrelate(a - a.mean(), b - b.mean(), win)
            if resp < 0.05 or abs(dx) > half / 2 or abs(dy) > half / 2:
                continue
            shifts.append((dx, dy))
    if len(shifts) < 3:
        return float("nan")
    s = np.asarray(shifts)
    return float(np.sqrt(np.mean(np.sum(s**2, axis=1))))


# --------------------------------------------------------------------------- public API


def _result(ok, M_work, bw: _Work, fw: _Work, *, confidence, method, residual_work, overlap, reason,
            details) -> Alignment:
    if M_work is None:
        M = np.eye(3)
    else:
        M = np.linalg.inv(bw.S) @ M_work @ fw.S
        M = M / M[2, 2]
    sb = 1.0 / bw.S[0, 0]
    res = residual_work * sb if residual_work is not None else float("nan")
    conf = float(np.clip(confidence, 0.0, 1.0))
    if not ok:
        conf = min(conf, 0.2)
    return Alignment(
        matrix=M, ok=bool(ok), confidence=conf, method=method, residual_px=float(res),
        overlap=float(overlap) if overlap is not None else float("nan"), reason=reason if not ok else None,
        baseline_size=bw.size, followup_size=fw.size, details=details,
    )


def align(
    baseline: np.ndarray,
    followup: np.ndarray,
    *,
    area: Literal["auto", "face", "body"] = "auto",
    baseline_face: Face | None = None,
    followup_face: Face | None = None,
) -> Alignment:
    """Align a follow-up photo to the baseline photo.

    Parameters
    ----------
    baseline, followup : ndarray
        Upright RGB, (rows, cols, 3), float32 in [0, 1] (uint8 accepted).
    area : {"auto", "face", "body"}
        ``"face"``: face path (refuses when either photo has no face). ``"body"``: skin
        features, no face logic. ``"auto"``: face path when both photos show a face,
        else body path.
    baseline_face, followup_face : Face, optional
        Precomputed detections (full-resolution coordinates) to avoid detecting twice.

    Returns
    -------
    Alignment
        ``matrix`` maps follow-up ``(x, y, 1)`` to baseline ``(x, y, 1)`` in full-resolution
        pixels. ``ok`` False (with ``reason``) for a different person, a different body
        area, too little overlap or a failed estimate.

    Raises
    ------
    UsageError
        For a bad ``area`` or arrays that are not RGB images.
    """
    if area not in AREAS:
        raise UsageError(f"area must be one of {', '.join(AREAS)}; got {area!r}")
    bw = _prepare(baseline, "baseline")
    fw = _prepare(followup, "follow-up")
    details: dict = {}
    bf = ff = None
    if area in ("auto", "face"):
        bf = _face_to_work(baseline_face, bw.S) if baseline_face is not None else _detect(bw)
        ff = _face_to_work(followup_face, fw.S) if followup_face is not None else _detect(fw)
        if area == "face" and (bf is None or ff is None):
            which = "baseline" if bf is None else "follow-up"
            return _result(False, None, bw, fw, confidence=0.0, method="face", residual_work=None,
                           overlap=None, reason=f"no face found in the {which} photo", details=details)
        if bf is not None and ff is not None:
            return _align_face(bw, fw, bf, ff, details)
        if bf is not None or ff is not None:
            details["face_in"] = "baseline" if bf is not None else "follow-up"
    return _align_body(bw, fw, details)


def _confidence(rho: float, residual_work: float, overlap: float, extra: float = 1.0) -> float:
    """0..1 from ECC correlation, local residual, overlap and a path-specific factor.

    ``extra`` is the identity margin on the face path and the inlier support on the body path.
    """
    c_rho = float(np.clip((rho - MIN_ECC_CORRELATION) / 0.45, 0, 1)) if math.isfinite(rho) else 0.0
    c_res = 1.0 / (1.0 + (residual_work / 2.0) ** 2) if math.isfinite(residual_work) else 0.5
    c_ov = float(np.clip((overlap - MIN_OVERLAP) / 0.4, 0, 1)) if math.isfinite(overlap) else 0.0
    c_x = float(np.clip(extra, 0, 1))
    return float((0.4 + 0.6 * c_x) * (0.5 + 0.5 * c_rho) * (0.6 + 0.4 * c_res) * (0.5 + 0.5 * c_ov))


def _perspective_spread(M: np.ndarray, region) -> float:
    """Largest relative change of the homogeneous w over the region's bounding box.

    ``region``: a boolean mask, or its box ``(x_min, x_max, y_min, y_max)`` (inclusive).
    """
    if isinstance(region, tuple):
        x0, x1, y0, y1 = region
    else:
        ys, xs = np.nonzero(region)
        x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64)
    w = corners @ M[2]
    if np.any(w <= 0):
        return float("inf")
    return float(w.max() / w.min() - 1.0)


#: Face path: largest plausible perspective of a face homography, as the relative change of
#: the follow-up's homogeneous w over the baseline face region (:func:`_face_perspective`).
#: A close-up is about one face height from the lens, so tilting the face plane by 15-17
#: degrees between sessions already changes w by ~0.27-0.3; the transforms fitted to the
#: hand-placed landmarks of the real pairs reach 0.23 (lisa1, an arm's-length close-up).
FACE_MAX_PERSPECTIVE = 0.3


def _face_perspective(M: np.ndarray, region) -> float:
    """Relative change over the baseline region of the follow-up's w for M (follow-up -> baseline).

    The follow-up point seen at baseline ``p`` is ``inv(M) p``; its homogeneous w varies over
    the region by this fraction (the foreshortening of the follow-up relative to the baseline).
    """
    return _perspective_spread(np.linalg.inv(M), region)


def _pick_model(fits: dict, plausible) -> tuple[str, np.ndarray, float]:
    """Homography when the face/skin region supports it, else affine.

    The homography is kept when ECC converged and its perspective is plausible for a
    hand-held camera (``plausible(M)``: w varies < 15 % over the region on the body path,
    < :data:`FACE_MAX_PERSPECTIVE` in the follow-up's frame on the face path). Measured on the landmark pairs, a
    homography fitted to the face region is no worse than the affine one beyond noise, and
    it recovers real perspective change (camera distance, tilt).
    """
    Mh, rh = fits["homography"]
    if fits["affine"] is None or (math.isfinite(rh) and plausible(Mh)):
        return "homography", Mh, rh
    Ma, ra = fits["affine"]
    return "affine", Ma, ra


def _align_face(bw: _Work, fw: _Work, bf: Face, ff: Face, details: dict) -> Alignment:
    dist = float(np.linalg.norm(_face_descriptor(bw, bf) - _face_descriptor(fw, ff)))
    details["face_distance"] = dist
    M0 = _similarity_lstsq(ff.landmarks, bf.landmarks)
    region = face_region_mask(bw.feat.shape, bf)
    ov0 = _overlap(region, M0, fw.feat.shape)
    if dist > SAME_PERSON_MAX_DISTANCE:
        conf = 0.2 * max(0.0, 1 - (dist - SAME_PERSON_MAX_DISTANCE) / 0.2)
        return _result(False, M0, bw, fw, confidence=conf, method="face-landmarks", residual_work=None,
                       overlap=ov0, details=details,
                       reason=f"different person: the faces do not match (face distance {dist:.2f}, "
                              f"same-person limit {SAME_PERSON_MAX_DISTANCE})")
    if not ov0 >= MIN_OVERLAP:
        return _result(False, M0, bw, fw, confidence=0.0, method="face-landmarks", residual_work=None,
                       overlap=ov0, details=details,
                       reason=f"too little overlap: the follow-up covers {ov0:.0%} of the baseline face")
    bregion = _ecc_face_region(bw, bf)

    x0, x1, y0, y1 = _crop_box(region, pad=0)
    box = (x0, x1 - 1, y0, y1 - 1)

    def plausible(H):
        return _face_perspective(H, box) < FACE_MAX_PERSPECTIVE

    fits = _refine(bw, fw, bregion, M0, plausible)
    model, M, rho = _pick_model(fits, plausible)
    if model == "homography" and math.isfinite(rho):
        # Inverse consistency: the follow-up's own face region matched in the baseline, and one
        # homography fitted to both directions, so the result does not depend on which photo is
        # the baseline, and the parts of either face outside the other's region count.
        fregion = _ecc_face_region(fw, ff)
        Mb, rho_b = _refine_backward(bw, fw, fregion, M)
        if math.isfinite(rho_b):
            Ms = _symmetric_homography(M, bregion, Mb, fregion)
            if plausible(Ms):
                M = Ms
                details["inverse_consistent"] = True
    if math.isfinite(rho):
        # Judged on the whole face ellipse (eyes and brows included), as the refusal rule says.
        rho = _region_correlation(bw, fw, region, M)
    details["ecc_correlation"] = rho
    # ECC must stay near the landmark similarity (guards against divergence).
    dev = np.abs(transform_points(M, ff.landmarks) - bf.landmarks).max() / max(bf.eye_distance, 1.0)
    details["landmark_deviation"] = float(dev)
    method = f"face-landmarks+ecc-{model}"
    if dev <= 0.35 and math.isfinite(rho):
        sc = _scene_check(bw, fw, region, M)
        if sc is not None:
            M, rho = sc
            model, method = "homography", "face-landmarks+ecc-homography+frame"
    if not math.isfinite(rho) or dev > 0.35:
        M, model, method = M0, "similarity", "face-landmarks"
        rho = float(cv2.computeECC(bw.feat, cv2.warpPerspective(fw.feat, M0, bw.feat.shape[::-1]),
                                   region.astype(np.uint8) * 255))
    return _judge(bw, fw, region, M, rho, extra=(SAME_PERSON_MAX_DISTANCE - dist) / 0.3, method=method,
                  details=details, covered="the baseline face", regions="face regions")


def _judge(bw: _Work, fw: _Work, region: np.ndarray, M: np.ndarray, rho: float, *, extra: float, method: str,
           details: dict, covered: str, regions: str) -> Alignment:
    """The refusal rules shared by the face and body paths: enough overlap of the baseline region,
    and an ECC correlation of the aligned regions high enough to be the same skin."""
    ov = _overlap(region, M, fw.feat.shape)
    resid = _local_residual(bw, fw, region, M)
    conf = _confidence(rho, resid, ov, extra=extra)
    reason = None
    if not ov >= MIN_OVERLAP:
        reason = f"too little overlap: the follow-up covers {ov:.0%} of {covered}"
    elif not rho >= MIN_ECC_CORRELATION:
        reason = f"the {regions} do not match after alignment (correlation {rho:.2f})"
    return _result(reason is None, M, bw, fw, confidence=conf, method=method, residual_work=resid, overlap=ov,
                   reason=reason, details=details)


def _match_features(bw: _Work, fw: _Work, bmask: np.ndarray):
    sift = cv2.SIFT_create(nfeatures=4000)
    kb, db = sift.detectAndCompute(bw.grey8, cv2.dilate(bmask.astype(np.uint8) * 255, np.ones((15, 15), np.uint8)))
    kf, df = sift.detectAndCompute(fw.grey8, None)
    if db is None or df is None or len(kb) < 8 or len(kf) < 8:
        return None, None, 0
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    knn = matcher.knnMatch(df, db, k=2)
    good = [m[0] for m in knn if len(m) == 2 and m[0].distance < 0.8 * m[1].distance]
    if len(good) < 8:
        return None, None, len(good)
    pf = np.float32([kf[m.queryIdx].pt for m in good])
    pb = np.float32([kb[m.trainIdx].pt for m in good])
    return pf, pb, len(good)


def _align_body(bw: _Work, fw: _Work, details: dict) -> Alignment:
    region, region_kind = _region_for_body(bw)
    details["region"] = region_kind
    pf, pb, n_good = _match_features(bw, fw, region)
    details["matches"] = n_good
    if pf is None:
        return _result(False, None, bw, fw, confidence=0.0, method="skin-features", residual_work=None,
                       overlap=None, details=details,
                       reason=f"too few matching skin features ({n_good}): a different body area, or too little overlap")
    H, inl = cv2.findHomography(pf, pb, cv2.USAC_MAGSAC, 3.0, maxIters=5000, confidence=0.999)
    n_in = int(inl.sum()) if inl is not None else 0
    details["inliers"] = n_in
    details["inlier_ratio"] = n_in / max(1, len(pf))
    if H is None or n_in < MIN_INLIERS or n_in / len(pf) < MIN_INLIER_RATIO:
        return _result(False, None, bw, fw, confidence=0.0, method="skin-features", residual_work=None,
                       overlap=None, details=details,
                       reason=f"too few consistent skin features ({n_in} of {len(pf)} matches): "
                              "a different body area, or too little overlap")
    ov0 = _overlap(region, H, fw.feat.shape)
    if not ov0 >= MIN_OVERLAP:
        return _result(False, H, bw, fw, confidence=0.0, method="skin-features", residual_work=None,
                       overlap=ov0, details=details,
                       reason=f"too little overlap: the follow-up covers {ov0:.0%} of the baseline {region_kind} region")
    plausible = _spread_below(region)
    fits = _refine(bw, fw, region, H / H[2, 2], plausible)
    model, M, rho = _pick_model(fits, plausible)
    details["ecc_correlation"] = rho
    # ECC must agree with the feature inliers.
    inl_b = pb[inl.ravel() > 0]
    inl_f = pf[inl.ravel() > 0]
    err = np.linalg.norm(transform_points(M, inl_f) - inl_b, axis=1)
    details["inlier_median_error"] = float(np.median(err))
    method = f"skin-features+ecc-{model}"
    if not math.isfinite(rho) or np.median(err) > 3.0:
        M, method = H / H[2, 2], "skin-features-homography"
        rho = float(cv2.computeECC(bw.feat, cv2.warpPerspective(fw.feat, M, bw.feat.shape[::-1]),
                                   region.astype(np.uint8) * 255))
    return _judge(bw, fw, region, M, rho, extra=min(1.0, n_in / 100), method=method, details=details,
                  covered=f"the baseline {region_kind} region", regions="skin regions")


def warp_to_baseline(followup: np.ndarray, alignment: Alignment, baseline_shape: tuple[int, int], *,
                     box: tuple[int, int, int, int] | None = None,
                     stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Warp the follow-up photo into the baseline frame.

    Parameters
    ----------
    followup : ndarray
        The follow-up photo, full resolution RGB (rows, cols, 3), float32 [0, 1].
    alignment : Alignment
        An accepted alignment (``ok`` True) for this follow-up.
    baseline_shape : tuple
        ``(rows, cols)`` of the baseline photo (a 3-tuple ``(rows, cols, 3)`` is accepted).
    box : tuple (r0, r1, c0, c1), optional
        Only this window of the baseline frame (rows r0:r1, columns c0:c1): the pixels of the
        full warp's ``[r0:r1, c0:c1]``, without warping the rest (a region's box of a 12 MP photo).
    stride : int
        Every ``stride``-th baseline pixel, as the full warp's ``[r0:r1:stride, c0:c1:stride]``
        (a coarse view of the whole frame, e.g. for the lighting estimate).

    Returns
    -------
    warped : ndarray, float32 (rows, cols, 3)
        The follow-up in the baseline frame (0 outside the follow-up's frame), or in the window.
    valid : ndarray, bool (rows, cols)
        True where the pixel came from the follow-up.

    Raises
    ------
    UsageError
        When the alignment was refused (``ok`` False): a refused transform must not be used.
        When ``box`` is not inside the baseline frame or ``stride`` is below 1.
    """
    if not alignment.ok:
        raise UsageError(f"alignment was refused, nothing to warp: {alignment.reason}")
    rows, cols = int(baseline_shape[0]), int(baseline_shape[1])
    r0, r1, c0, c1 = (0, rows, 0, cols) if box is None else (int(v) for v in box)
    stride = int(stride)
    if not (0 <= r0 < r1 <= rows and 0 <= c0 < c1 <= cols) or stride < 1:
        raise UsageError(f"warp window {box} (stride {stride}) is not inside the {cols}x{rows} baseline frame")
    f = np.asarray(followup)
    if f.dtype != np.float32:
        f = f.astype(np.float32) / (255.0 if f.dtype == np.uint8 else 1.0)
    # Output pixel (j, i) is baseline pixel (c0 + stride*j, r0 + stride*i): the inverse map
    # (output -> follow-up) is inv(M) composed with that placement, so a window or a strided
    # view samples exactly the points the full warp samples there.
    place = np.array([[stride, 0, c0], [0, stride, r0], [0, 0, 1]], np.float64)
    inv = np.linalg.inv(np.asarray(alignment.matrix, np.float64)) @ place
    size = (len(range(c0, c1, stride)), len(range(r0, r1, stride)))
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpPerspective(f, inv, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    # A pixel is valid when its source position falls inside the follow-up frame.
    ones = np.full(f.shape[:2], 255, np.uint8)
    valid = cv2.warpPerspective(ones, inv, size, flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0) > 0
    warped[~valid] = 0.0
    np.clip(warped, 0.0, 1.0, out=warped)  # in place: a 12 MP float copy is 144 MiB
    return warped, valid
