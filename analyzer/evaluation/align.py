"""Accuracy evaluation for :mod:`analyzer.align`, shared by tests/ and bench/.

Every function returns plain dicts of figures so the test suite asserts targets and the
bench reports them from the same code:

* :func:`evaluate_synthetic` - real photos warped by a known random transform (rotation,
  scale, shift, perspective) plus exposure, gamma, white-balance change, noise and JPEG
  re-compression; error of the recovered matrix on a grid over the central area.
* :func:`evaluate_landmark_pairs` - real same-person pairs with hand-placed landmarks
  (WebMorph ``.tem``); landmark error of the alignment vs the best similarity fitted to
  the landmarks themselves (the floor left by expression and 3-D pose).
* :func:`evaluate_pairs` - acceptance/refusal over a list of labelled pairs (different
  people must all be refused).
"""

from __future__ import annotations

import io
import math
import time
from itertools import permutations
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from analyzer.align import _similarity_lstsq, align, detect_main_face, transform_points
from analyzer.io import load_photo

#: Default ranges of the synthetic transform (the issue's targets).
MAX_ROT_DEG = 15.0
SCALE_RANGE = (0.8, 1.25)
MAX_SHIFT = 0.08  # fraction of the image side
MAX_PERSPECTIVE = 0.02  # change of the homogeneous w at the image edge
#: Central area used for the grid error: this fraction of width and height, centred.
CENTRAL_FRACTION = 0.6


def read_tem(path) -> np.ndarray:
    """Read a WebMorph .tem file: point count, then ``x y`` per line -> (N, 2) float64."""
    lines = Path(path).read_text().split("\n")
    n = int(lines[0].strip())
    return np.array([list(map(float, ln.split()[:2])) for ln in lines[1 : 1 + n]], dtype=np.float64)


def random_homography(rng: np.random.Generator, width: int, height: int, *, max_rot_deg=MAX_ROT_DEG,
                      scale_range=SCALE_RANGE, max_shift=MAX_SHIFT, max_perspective=MAX_PERSPECTIVE) -> np.ndarray:
    """Random 3x3 homography about the image centre: original pixel -> warped pixel."""
    cx, cy = (width - 1) / 2, (height - 1) / 2
    ang = math.radians(rng.uniform(-max_rot_deg, max_rot_deg))
    s = math.exp(rng.uniform(math.log(scale_range[0]), math.log(scale_range[1])))
    tx, ty = rng.uniform(-max_shift, max_shift) * width, rng.uniform(-max_shift, max_shift) * height
    px = rng.uniform(-max_perspective, max_perspective) / (width / 2)
    py = rng.uniform(-max_perspective, max_perspective) / (height / 2)
    C = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1.0]])
    A = np.array([[s * math.cos(ang), -s * math.sin(ang), tx], [s * math.sin(ang), s * math.cos(ang), ty], [0, 0, 1]])
    P = np.array([[1, 0, 0], [0, 1, 0], [px, py, 1.0]])
    H = np.linalg.inv(C) @ A @ P @ C
    return H / H[2, 2]


def photometric_change(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Exposure, gamma and white-balance change, sensor noise and JPEG re-compression."""
    exposure = float(rng.uniform(0.7, 1.4))
    gamma = float(rng.uniform(0.8, 1.25))
    wb = rng.uniform(0.85, 1.15, size=3).astype(np.float32)
    noise = float(rng.uniform(0.005, 0.02))
    quality = int(rng.integers(70, 95))
    out = np.clip(rgb * exposure * wb[None, None, :], 0, 1) ** gamma
    out = out + rng.normal(0, noise, out.shape).astype(np.float32)
    out = np.clip(out, 0, 1)
    buf = io.BytesIO()
    Image.fromarray((out * 255 + 0.5).astype(np.uint8)).save(buf, format="JPEG", quality=quality)
    out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), np.float32) / 255.0
    return out, {"exposure": exposure, "gamma": gamma, "wb": wb.tolist(), "noise": noise, "jpeg_quality": quality}


def make_synthetic_pair(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """A follow-up made from ``rgb`` by a random transform and photometric change.

    Returns (followup, true matrix follow-up -> baseline, parameters).
    """
    rows, cols = rgb.shape[:2]
    H = random_homography(rng, cols, rows)
    warped = cv2.warpPerspective(rgb, H, (cols, rows), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    follow, params = photometric_change(warped, rng)
    true = np.linalg.inv(H)
    return follow, true / true[2, 2], params


def grid_errors(est: np.ndarray, true: np.ndarray, width: int, height: int, *, central=CENTRAL_FRACTION,
                n: int = 21) -> np.ndarray:
    """Errors (baseline px) of ``est`` vs ``true`` on an n x n grid over the central area.

    Grid points are placed in the baseline frame, carried to the follow-up by the true
    transform and back by the estimate.
    """
    m = (1 - central) / 2
    xs = np.linspace(m * (width - 1), (1 - m) * (width - 1), n)
    ys = np.linspace(m * (height - 1), (1 - m) * (height - 1), n)
    g = np.array([(x, y) for y in ys for x in xs])
    pf = transform_points(np.linalg.inv(true), g)
    back = transform_points(est, pf)
    return np.linalg.norm(back - g, axis=1)


def evaluate_synthetic(paths, *, n_pairs: int = 24, seed: int = 0, area: str = "auto") -> dict:
    """Align ``n_pairs`` synthetic pairs made from the photos in ``paths`` (round robin).

    Returns
    -------
    dict
        ``median_px`` (median over all grid points of all pairs), ``pair_median_px`` (per pair),
        ``within_diag_fraction`` (pairs whose max grid error <= 0.5 % of the image diagonal),
        ``refused`` (pairs with ok False), ``pairs`` (per-pair rows), ``seconds_per_pair``.
    """
    rng = np.random.default_rng(seed)
    photos = [load_photo(p).rgb for p in paths]
    rows_out, all_err = [], []
    t_total = 0.0
    for k in range(n_pairs):
        base = photos[k % len(photos)]
        follow, true, params = make_synthetic_pair(base, rng)
        t0 = time.perf_counter()
        a = align(base, follow, area=area)
        t_total += time.perf_counter() - t0
        h, w = base.shape[:2]
        err = grid_errors(a.matrix, true, w, h)
        diag = math.hypot(w, h)
        all_err.append(err)
        rows_out.append({
            "photo": Path(paths[k % len(paths)]).name, "ok": a.ok, "method": a.method,
            "median_px": float(np.median(err)), "max_px": float(err.max()),
            "within_diag": bool(a.ok and err.max() <= 0.005 * diag), "confidence": a.confidence,
            "reason": a.reason, **params,
        })
    allv = np.concatenate(all_err)
    return {
        "n_pairs": n_pairs,
        "median_px": float(np.median(allv)),
        "pair_median_px": [r["median_px"] for r in rows_out],
        "within_diag_fraction": float(np.mean([r["within_diag"] for r in rows_out])),
        "refused": int(sum(not r["ok"] for r in rows_out)),
        "seconds_per_pair": t_total / n_pairs,
        "pairs": rows_out,
    }


def landmark_pair_figures(base_rgb, base_tem, follow_rgb, follow_tem, **align_kw) -> dict:
    """Landmark RMS error of :func:`align` vs the best similarity fitted to the landmarks."""
    a = align(base_rgb, follow_rgb, **align_kw)
    mapped = transform_points(a.matrix, follow_tem)
    err = float(np.sqrt(np.mean(np.sum((mapped - base_tem) ** 2, axis=1))))
    S = _similarity_lstsq(follow_tem, base_tem)
    floor = float(np.sqrt(np.mean(np.sum((transform_points(S, follow_tem) - base_tem) ** 2, axis=1))))
    return {"ok": a.ok, "method": a.method, "rms_px": err, "floor_px": floor, "ratio": err / floor,
            "confidence": a.confidence, "reason": a.reason}


def evaluate_landmark_pairs(paths) -> dict:
    """All ordered pairs (baseline, follow-up) among ``paths`` (each with a ``.tem`` beside it)."""
    data = [(Path(p).name, load_photo(p).rgb, read_tem(Path(p).with_suffix(".tem"))) for p in paths]
    rows = []
    for (nb, ib, tb), (nf, i_f, tf) in permutations(data, 2):
        r = landmark_pair_figures(ib, tb, i_f, tf)
        r.update(baseline=nb, followup=nf)
        rows.append(r)
    return {"pairs": rows, "max_ratio": max(r["ratio"] for r in rows),
            "all_ok": all(r["ok"] for r in rows)}


def evaluate_pairs(pairs, *, area: str = "auto") -> dict:
    """Align each (baseline_path, followup_path) pair; report acceptance and scores.

    Each photo is loaded and its face detected once (:func:`analyzer.align.detect_main_face`),
    then passed to :func:`align` as the pipeline does.

    Returns ``accepted`` count, ``max_confidence``, ``min_face_distance``,
    ``max_face_distance`` and per-pair rows.
    """
    cache: dict = {}

    def get(p):
        if p not in cache:
            rgb = load_photo(p).rgb
            cache[p] = (rgb, detect_main_face(rgb) if area != "body" else None)
        return cache[p]

    rows = []
    for pb, pf in pairs:
        (rb, fb), (rf, ff) = get(pb), get(pf)
        a = align(rb, rf, area=area, baseline_face=fb, followup_face=ff)
        rows.append({"baseline": Path(pb).name, "followup": Path(pf).name, "ok": a.ok,
                     "confidence": a.confidence, "method": a.method, "reason": a.reason,
                     "face_distance": a.details.get("face_distance"),
                     "ecc_correlation": a.details.get("ecc_correlation"), "overlap": a.overlap})
    fd = [r["face_distance"] for r in rows if r["face_distance"] is not None]
    return {
        "n_pairs": len(rows),
        "accepted": int(sum(r["ok"] for r in rows)),
        "max_confidence": max((r["confidence"] for r in rows), default=float("nan")),
        "min_confidence": min((r["confidence"] for r in rows), default=float("nan")),
        "min_face_distance": min(fd, default=float("nan")),
        "max_face_distance": max(fd, default=float("nan")),
        "pairs": rows,
    }
