"""Bench inputs made from the real photos in tests/data/photos (written under bench/_work/).

* :func:`make_pair` - a compare pair: the same person photographed at 30 cm and at 45 cm
  (``faces/zoom``, 1152x1536), each upscaled with bicubic interpolation to 3000x4000
  (12 MP) and saved as JPEG quality 92, like a phone photo.
* :func:`make_series` - a batch folder of N sessions x 3 views. There is no real 45° photo in
  the shared set, so the three "views" are three different real photos of the same person
  (front = ``faces/zoom/30cm.jpg``, left45 = ``faces/lisa/lisa3.jpg``, right45 =
  ``faces/lisa/lisa4.jpg``), resized to a fixed size. Session 1 is each photo as is; every
  later session is that photo under a small random pose change (rotation ±4°, scale ±6 %,
  shift ±3 % of the side) and light change (exposure ±10 %, white balance ±5 %), seeded.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from bench.common import PHOTOS

PAIR_SOURCES = ("faces/zoom/30cm.jpg", "faces/zoom/45cm.jpg")
SERIES_VIEWS = {"front": "faces/zoom/30cm.jpg", "left45": "faces/lisa/lisa3.jpg", "right45": "faces/lisa/lisa4.jpg"}
JPEG_QUALITY = 92


def _load_upright_uint8(rel: str) -> np.ndarray:
    from analyzer.io import load_photo

    p = PHOTOS / rel
    if not p.exists():
        raise FileNotFoundError(f"real photo missing: {p} (set SKIN_PROGRESS_PHOTOS)")
    return load_photo(p).to_uint8()


def _save_jpeg(rgb8: np.ndarray, path: Path, quality: int = JPEG_QUALITY) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.jpg")
    Image.fromarray(rgb8).save(tmp, format="JPEG", quality=quality)
    tmp.replace(path)


def make_pair(work: Path, *, size: tuple[int, int] = (3000, 4000)) -> tuple[Path, Path]:
    """Baseline and follow-up JPEGs of ``size`` (width, height); reused when already made."""
    w, h = size
    out = []
    for rel in PAIR_SOURCES:
        dst = Path(work) / f"pair_{Path(rel).stem}_{w}x{h}.jpg"
        if not dst.exists():
            img = _load_upright_uint8(rel)
            interp = cv2.INTER_CUBIC if w * h > img.shape[0] * img.shape[1] else cv2.INTER_AREA
            _save_jpeg(cv2.resize(img, (w, h), interpolation=interp), dst)
        out.append(dst)
    return out[0], out[1]


def _perturb(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    ang = rng.uniform(-4, 4)
    s = rng.uniform(0.94, 1.06)
    tx, ty = rng.uniform(-0.03, 0.03) * w, rng.uniform(-0.03, 0.03) * h
    M = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), ang, s)
    M[:, 2] += (tx, ty)
    out = cv2.warpAffine(img, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    gain = rng.uniform(0.9, 1.1) * rng.uniform(0.95, 1.05, size=3)
    return np.clip(out.astype(np.float32) * gain[None, None, :], 0, 255).astype(np.uint8)


def make_series(work: Path, *, sessions: int = 20, views: tuple[str, ...] = ("front", "left45", "right45"),
                long_side: int = 1600, seed: int = 0) -> Path:
    """A batch folder ``series_<S>x<V>_<side>/2026-MM-DD/<view>.jpg``; reused when complete."""
    folder = Path(work) / f"series_{sessions}x{len(views)}_{long_side}"
    marker = folder / ".complete"
    if marker.exists():
        return folder
    rng = np.random.default_rng(seed)
    base = {}
    for v in views:
        img = _load_upright_uint8(SERIES_VIEWS[v])
        h, w = img.shape[:2]
        k = long_side / max(h, w)
        size = (max(1, round(w * k)), max(1, round(h * k)))
        interp = cv2.INTER_CUBIC if k > 1 else cv2.INTER_AREA
        base[v] = cv2.resize(img, size, interpolation=interp)
    for i in range(sessions):
        day = 15 + 28 * i  # one session every four weeks from 2026-01-15
        d = np.datetime64("2026-01-01") + np.timedelta64(day - 1, "D")
        for v in views:
            img = base[v] if i == 0 else _perturb(base[v], rng)
            _save_jpeg(img, folder / str(d) / f"{v}.jpg")
    marker.write_text("ok\n")
    return folder


def megapixels(path: Path) -> float:
    with Image.open(path) as im:
        return im.width * im.height / 1e6


__all__ = ["make_pair", "make_series", "megapixels", "SERIES_VIEWS", "PAIR_SOURCES"]
