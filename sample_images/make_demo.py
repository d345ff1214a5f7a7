"""Rebuild the demo patient series in sample_images/ from the real photos in tests/data/photos.

    python sample_images/make_demo.py [--photos tests/data/photos]

Sessions 1 and 2 are real, unaltered photographs (one person, one day, camera at 30 cm and
45 cm; the phone's automatic white balance differs between them, so session 2 shows what
an uncalibrated lighting change looks like, and the app warns about it). Sessions 3 and 4
are SIMULATED treatment effects: the baseline's real photo, moved by a known pose change and
with a known a* (redness) shift added to the facial skin, so their true change from the
baseline is exactly the injected one. The sizes are in
series.json, which the app shows next to those sessions, and which tests read to check that
the app measures what was put in.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent

SESSIONS = [
    {
        "folder": "2026-01-14",
        "date": "2026-01-14",
        "source": "faces/zoom/30cm.jpg",
        "treatment": {"device": "Dermapen 4", "needle_depth_mm": 0.5, "passes": 2, "topical": "hyaluronic serum"},
        "simulated": None,
        "pose": None,
    },
    {
        "folder": "2026-02-11",
        "date": "2026-02-11",
        "source": "faces/zoom/45cm.jpg",
        "treatment": {"device": "Dermapen 4", "needle_depth_mm": 0.75, "passes": 2, "topical": "hyaluronic serum"},
        "simulated": None,
        "pose": None,
    },
    {
        "folder": "2026-03-11",
        "date": "2026-03-11",
        "source": "faces/zoom/30cm.jpg",
        "treatment": {"device": "Dermapen 4", "needle_depth_mm": 1.0, "passes": 3, "topical": "hyaluronic serum"},
        "simulated": {"delta_a_star": -2.0, "where": "facial skin (feathered ellipse around the face)"},
        "pose": {"rotation_deg": -4.0, "scale": 0.92, "shift_px": [35.0, -20.0]},
    },
    {
        "folder": "2026-04-08",
        "date": "2026-04-08",
        "source": "faces/zoom/30cm.jpg",
        "treatment": {"device": "Dermapen 4", "needle_depth_mm": 1.0, "passes": 3, "topical": "growth-factor serum"},
        "simulated": {"delta_a_star": -3.0, "where": "facial skin (feathered ellipse around the face)"},
        "pose": {"rotation_deg": 3.0, "scale": 1.05, "shift_px": [-25.0, 15.0]},
    },
]


def face_ellipse_weight(rgb8: np.ndarray) -> np.ndarray:
    """Feathered weight in [0, 1] over an ellipse covering the face (from the 5-point landmarks)."""
    from analyzer.face import detect_face

    face = detect_face(rgb8)
    if face is None:
        raise SystemExit("no face found in the demo source photo")
    e = face.eye_distance
    cx, cy = (face.left_eye + face.right_eye) / 2 * 0.5 + face.nose * 0.5
    rows, cols = rgb8.shape[:2]
    w = np.zeros((rows, cols), np.float32)
    cv2.ellipse(w, (round(cx), round(cy)), (round(1.35 * e), round(2.0 * e)), face.roll_deg, 0, 360, 1.0, -1)
    sigma = 0.08 * e
    return cv2.GaussianBlur(w, (0, 0), sigma)


def shift_a_star(rgb8: np.ndarray, weight: np.ndarray, delta: float) -> np.ndarray:
    rgb = rgb8.astype(np.float32) / 255.0
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    lab[..., 1] += delta * weight
    out = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def pose_change(rgb8: np.ndarray, pose: dict) -> tuple[np.ndarray, np.ndarray]:
    """Rotate/scale about the centre and shift; returns (image, 3x3 matrix source→output)."""
    rows, cols = rgb8.shape[:2]
    m = cv2.getRotationMatrix2D((cols / 2, rows / 2), pose["rotation_deg"], pose["scale"])
    m[:, 2] += pose["shift_px"]
    out = cv2.warpAffine(rgb8, m, (cols, rows), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return out, np.vstack([m, [0, 0, 1]])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--photos",
        default=os.environ.get("SKIN_PROGRESS_PHOTOS") or str(HERE.parent / "tests" / "data" / "photos"),
    )
    args = ap.parse_args()
    photos = Path(args.photos)
    manifest = {
        "patient": {
            "code": "DEMO-001",
            "display_name": "Demo patient (Lisa DeBruine, CC BY 4.0)",
            "birth_year": None,
            "fitzpatrick": 2,
            "consent_photos": True,
            "consent_reports": True,
            "notes": "Demo series built from real CC BY 4.0 photos. Sessions 3 and 4 carry SIMULATED changes.",
        },
        "series": {"name": "Full-face microneedling", "body_area": "face", "concerns": ["redness", "texture"]},
        "regions": [
            {"kind": "named", "name": "left_cheek"},
            {"kind": "named", "name": "right_cheek"},
            {"kind": "named", "name": "forehead"},
        ],
        "sessions": [],
    }
    for s in SESSIONS:
        src = photos / s["source"]
        rgb8 = np.asarray(Image.open(src).convert("RGB"))
        note = "real photo, unaltered"
        if s["simulated"]:
            weight = face_ellipse_weight(rgb8)
            rgb8 = shift_a_star(rgb8, weight, s["simulated"]["delta_a_star"])
            note = f"SIMULATED: redness lowered by {-s['simulated']['delta_a_star']:g} a* units on the facial skin"
        matrix = None
        if s["pose"]:
            rgb8, m = pose_change(rgb8, s["pose"])
            matrix = m.tolist()
        out_dir = HERE / s["folder"]
        out_dir.mkdir(exist_ok=True)
        if s["simulated"] or s["pose"]:
            Image.fromarray(rgb8).save(out_dir / "front.jpg", quality=95)
        else:
            shutil.copyfile(src, out_dir / "front.jpg")  # real photo: byte for byte
        manifest["sessions"].append(
            {
                "date": s["date"],
                "folder": s["folder"],
                "photos": {"front": f"{s['folder']}/front.jpg"},
                "source": s["source"],
                "treatment": s["treatment"],
                "simulated": s["simulated"],
                "note": note,
                "pose_change": s["pose"],
                "pose_matrix_source_to_photo": matrix,
            }
        )
    (HERE / "series.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(SESSIONS)} sessions to {HERE}")


if __name__ == "__main__":
    main()
