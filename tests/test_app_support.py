"""Helpers for the app and service tests: a small demo folder built from the real demo photos.

The demo photos are reduced to half size so that seeding and analysing stay fast. One session
carries a *known* change (a* raised by :data:`KNOWN_DA` on the whole photo, same pose) so the
progress table can be checked against it. It is labelled simulated in the manifest.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_images"
KNOWN_DA = 3.0
SCALE = 0.5


def _load_small(path: Path) -> np.ndarray:
    img = Image.open(path).convert("RGB")
    w, h = img.size
    img = img.resize((round(w * SCALE), round(h * SCALE)), Image.Resampling.LANCZOS)
    return np.asarray(img, np.float32) / 255.0


def shift_a_star(rgb: np.ndarray, da: float) -> np.ndarray:
    """The photo with CIELAB a* raised by ``da`` everywhere (cv2 float Lab, D65)."""
    lab = cv2.cvtColor(np.ascontiguousarray(rgb, np.float32), cv2.COLOR_RGB2Lab)
    lab[..., 1] += da
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), 0, 1)


def jpeg(rgb: np.ndarray, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def small_photos() -> dict[str, bytes]:
    """JPEG bytes: ``baseline`` (demo session 1), ``redder`` (the same with a* + KNOWN_DA),
    ``later`` (demo session 2, another day and distance)."""
    base = _load_small(SAMPLES / "2026-01-14" / "front.jpg")
    later = _load_small(SAMPLES / "2026-02-11" / "front.jpg")
    return {"baseline": jpeg(base), "redder": jpeg(shift_a_star(base, KNOWN_DA)), "later": jpeg(later)}


def make_small_demo(folder: Path) -> Path:
    """A demo folder like sample_images/ (series.json + photos), 3 sessions, half-size photos."""
    folder.mkdir(parents=True, exist_ok=True)
    photos = small_photos()
    man = json.loads((SAMPLES / "series.json").read_text())
    sessions = []
    for i, (date, key, sim) in enumerate([
        ("2026-01-14", "baseline", None),
        ("2026-02-11", "later", None),
        ("2026-03-11", "redder", {"delta_a_star": KNOWN_DA}),
    ]):
        d = folder / date
        d.mkdir(exist_ok=True)
        (d / "front.jpg").write_bytes(photos[key])
        sessions.append({
            "date": date, "photos": {"front": f"{date}/front.jpg"},
            "treatment": {"device": "Dermapen 4", "needle_depth_mm": 0.5 + 0.25 * i, "passes": 2,
                          "topical": "hyaluronic serum"},
            "simulated": sim,
            "note": f"SIMULATED: redness raised by {KNOWN_DA:g} a* units" if sim else "real photo",
        })
    man["sessions"] = sessions
    man["regions"] = [{"kind": "named", "name": "forehead"}]
    (folder / "series.json").write_text(json.dumps(man, indent=2))
    return folder


def copy_data(template: Path, dest: Path) -> Path:
    """A private copy of a seeded data folder (SQLite file + photos)."""
    shutil.copytree(template, dest)
    return dest
