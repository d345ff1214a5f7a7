"""Alignment (issue 3): accuracy on known warps, real landmark pairs, refusals, API."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from analyzer.align import Alignment, align, detect_main_face, transform_points, warp_to_baseline
from analyzer.errors import UsageError
from analyzer.evaluation.align import (
    evaluate_landmark_pairs,
    evaluate_pairs,
    evaluate_synthetic,
    make_synthetic_pair,
)
from analyzer.face import detect_face
from analyzer.io import load_photo

LANDMARK_RATIO_TARGET = 1.3


@pytest.fixture(scope="session")
def photo_path(photos_dir):
    """``photo_path(rel)``: a real photo under tests/data/photos (fails when missing)."""

    def get(rel: str):
        p = photos_dir / rel
        if not p.exists():
            pytest.fail(f"real photo missing: {p}")
        return p

    return get


@pytest.fixture(scope="module")
def synthetic_photos(photo_path):
    return [
        photo_path("faces/lisa/lisa1.jpg"),
        photo_path("faces/zoom/30cm.jpg"),
        photo_path("faces/london_neutral/081_03.jpg"),
        photo_path("faces/london_neutral/061_03.jpg"),
        photo_path("faces/lisa/lisa3.jpg"),
        photo_path("faces/zoom/60cm.jpg"),
    ]


# --------------------------------------------------------------------------- accuracy


def test_synthetic_known_warp_face_path(synthetic_photos):
    """Real photos, random rotation/scale/shift/perspective + exposure, gamma, WB, noise, JPEG."""
    r = evaluate_synthetic(synthetic_photos, n_pairs=12, seed=3)
    assert r["refused"] == 0, [p["reason"] for p in r["pairs"] if not p["ok"]]
    assert r["median_px"] <= 0.3, r["pair_median_px"]
    assert r["within_diag_fraction"] >= 0.98, [(p["photo"], p["max_px"]) for p in r["pairs"]]
    assert all(p["method"].startswith("face-landmarks+ecc") for p in r["pairs"])


def test_synthetic_known_warp_body_path(synthetic_photos):
    """Same known warps through the skin-feature path (no face logic)."""
    r = evaluate_synthetic(synthetic_photos[:4], n_pairs=6, seed=5, area="body")
    assert r["refused"] == 0, [p["reason"] for p in r["pairs"] if not p["ok"]]
    assert r["median_px"] <= 0.3, r["pair_median_px"]
    assert r["within_diag_fraction"] >= 0.98, [(p["photo"], p["max_px"]) for p in r["pairs"]]
    assert all(p["method"].startswith("skin-features") for p in r["pairs"])


def test_zoom_landmark_pairs_within_target(zoom_paths):
    r = evaluate_landmark_pairs(zoom_paths)
    assert r["all_ok"]
    bad = [(p["baseline"], p["followup"], round(p["ratio"], 3)) for p in r["pairs"] if p["ratio"] > LANDMARK_RATIO_TARGET]
    assert not bad, bad


@pytest.fixture(scope="module")
def lisa_landmarks(lisa_paths):
    return evaluate_landmark_pairs(lisa_paths)


def test_lisa_landmark_pairs(lisa_landmarks):
    """Every ordered pair within faces/lisa: accepted, and landmark error <= 1.3x the similarity floor.

    lisa1 is an arm's-length close-up with the head pitched; its pairs are the hardest
    (1.1-1.3x, docs/alignment.md): the face contour moves against the skin with the pose.
    """
    r = lisa_landmarks
    assert r["all_ok"]
    bad = [(p["baseline"], p["followup"], round(p["ratio"], 3)) for p in r["pairs"] if p["ratio"] > LANDMARK_RATIO_TARGET]
    assert not bad, bad


# --------------------------------------------------------------------------- refusal


def test_different_people_are_refused(london_neutral, london_smiling):
    ids = sorted(london_neutral)
    pairs = [(london_neutral[a], london_neutral[b]) for i, a in enumerate(ids) for b in ids[i + 1 :]]
    pairs += [(london_neutral[a], london_smiling[b]) for a in ids for b in ids if a != b][::3]
    r = evaluate_pairs(pairs)
    assert r["accepted"] == 0, [p for p in r["pairs"] if p["ok"]]
    assert r["max_confidence"] <= 0.2
    assert all("different person" in p["reason"] for p in r["pairs"])


def test_same_person_is_accepted(london_neutral, london_smiling, lisa_paths, zoom_paths):
    pairs = [(london_neutral[i], london_smiling[i]) for i in sorted(london_neutral)]
    pairs += [(lisa_paths[0], zoom_paths[1]), (zoom_paths[0], lisa_paths[2]), (lisa_paths[3], zoom_paths[3])]
    r = evaluate_pairs(pairs)
    assert r["accepted"] == len(pairs), [(p["baseline"], p["followup"], p["reason"]) for p in r["pairs"] if not p["ok"]]
    assert r["min_confidence"] > 0.2  # refused pairs never exceed 0.2


def test_different_body_area_is_refused(astronaut_path, charts_dir, photo_path):
    face = load_photo(astronaut_path).rgb
    other = load_photo(photo_path("faces/zoom/15cm.jpg")).rgb
    chart = load_photo(charts_dir / "source_img_plant.jpg").rgb
    for b, f in ((face, other), (face, chart), (other, chart)):
        a = align(b, f, area="body")
        assert not a.ok and a.reason and a.confidence <= 0.2, a
    a = align(other, chart)  # auto: a face photo and a photo without a face
    assert not a.ok and a.method.startswith("skin-features") and a.details["face_in"] == "baseline"


def test_too_little_overlap_is_refused(photo_path):
    base = load_photo(photo_path("faces/london_neutral/038_03.jpg")).rgb
    rows, cols = base.shape[:2]
    part = np.ascontiguousarray(base[: rows * 2 // 5, : cols * 2 // 5])  # top-left corner only
    a = align(base, part, area="body")
    assert not a.ok
    assert a.reason
    assert a.confidence <= 0.2


def test_face_area_without_face_is_refused(charts_dir, photo_path):
    base = load_photo(photo_path("faces/london_neutral/038_03.jpg")).rgb
    chart = load_photo(charts_dir / "nano.jpeg").rgb
    a = align(base, chart, area="face")
    assert not a.ok and "no face" in a.reason


# --------------------------------------------------------------------------- API


def test_matrix_convention_and_full_resolution(photo_path):
    """A follow-up at half size: the matrix maps half-size pixels onto full-size baseline pixels."""
    import cv2

    base = load_photo(photo_path("faces/zoom/45cm.jpg")).rgb
    rows, cols = base.shape[:2]
    fw, fh = cols // 2, rows // 2
    follow = cv2.resize(base, (fw, fh), interpolation=cv2.INTER_AREA)
    sx, sy = fw / cols, fh / rows  # pixel-centre convention of cv2.resize
    H = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1.0]])  # baseline -> follow-up
    a = align(base, follow)
    assert a.ok, a.reason
    assert a.baseline_size == (cols, rows) and a.followup_size == (fw, fh)
    pts = np.array([[cols * 0.4, rows * 0.4], [cols * 0.6, rows * 0.5], [cols * 0.5, rows * 0.6]])
    err = np.linalg.norm(transform_points(a.matrix, transform_points(H, pts)) - pts, axis=1)
    assert err.max() < 0.5, err


def test_to_dict_is_json_and_complete(photo_path):
    base = load_photo(photo_path("faces/london_neutral/087_03.jpg")).rgb
    follow = load_photo(photo_path("faces/london_smiling/087_08.jpg")).rgb
    a = align(base, follow)
    d = a.to_dict()
    json.dumps(d, allow_nan=False)
    for k in ("matrix", "ok", "confidence", "method", "residual_px", "overlap", "reason", "image"):
        assert k in d
    assert np.asarray(d["matrix"]).shape == (3, 3)
    assert d["image"]["baseline"] == {"width": base.shape[1], "height": base.shape[0]}
    nan_case = Alignment(matrix=np.eye(3), ok=False, confidence=0.0, method="identity", residual_px=math.nan,
                         overlap=math.nan, reason="x", baseline_size=(2, 2), followup_size=(2, 2))
    d2 = nan_case.to_dict()
    assert d2["residual_px"] is None and d2["overlap"] is None
    json.dumps(d2, allow_nan=False)


def test_precomputed_faces_give_same_result(photo_path):
    base = load_photo(photo_path("faces/zoom/30cm.jpg")).rgb
    follow = load_photo(photo_path("faces/zoom/45cm.jpg")).rgb
    a1 = align(base, follow)
    a2 = align(base, follow, baseline_face=detect_face(base), followup_face=detect_face(follow))
    assert a1.ok and a2.ok
    assert np.allclose(transform_points(a1.matrix, [[500, 700]]), transform_points(a2.matrix, [[500, 700]]), atol=0.5)


def test_warp_to_baseline_reproduces_baseline(photo_path):
    base = load_photo(photo_path("faces/london_neutral/029_03.jpg")).rgb
    rng = np.random.default_rng(11)
    follow, true, _ = make_synthetic_pair(base, rng)
    a = align(base, follow)
    assert a.ok
    warped, valid = warp_to_baseline(follow, a, base.shape[:2])
    assert warped.shape == base.shape and warped.dtype == np.float32 and valid.dtype == bool
    assert 0.3 < valid.mean() <= 1.0
    assert np.all(warped[~valid] == 0)
    # Warped follow-up correlates with the baseline (photometric change aside) where valid.
    g1 = base[valid].mean(axis=1)
    g2 = warped[valid].mean(axis=1)
    assert np.corrcoef(g1, g2)[0, 1] > 0.95


def test_warp_window_and_stride_sample_the_full_warp(photo_path):
    """A window or a strided view of the warp is the full warp's slice (same sample points),
    so compare() can warp a region's box only; a window outside the frame is refused."""
    base = load_photo(photo_path("faces/london_neutral/029_03.jpg")).rgb
    follow, _, _ = make_synthetic_pair(base, np.random.default_rng(11))
    a = align(base, follow)
    assert a.ok
    full, valid = warp_to_baseline(follow, a, base.shape[:2])
    box = (101, 733, 57, 640)
    win, wvalid = warp_to_baseline(follow, a, base.shape[:2], box=box)
    assert win.shape == (632, 583, 3)
    np.testing.assert_allclose(win, full[101:733, 57:640], atol=1e-6)
    assert np.array_equal(wvalid, valid[101:733, 57:640])
    sub, svalid = warp_to_baseline(follow, a, base.shape[:2], box=box, stride=3)
    np.testing.assert_allclose(sub, full[101:733:3, 57:640:3], atol=1e-6)
    assert np.array_equal(svalid, valid[101:733:3, 57:640:3])
    with pytest.raises(UsageError, match="not inside"):
        warp_to_baseline(follow, a, base.shape[:2], box=(0, base.shape[0] + 1, 0, 10))


def test_main_face_is_not_a_large_false_detection(astronaut_path):
    """In this warped astronaut a weak false detection is larger than the face; the face is used."""
    from analyzer.face import detect_faces

    base = load_photo(astronaut_path).rgb
    follow, true, _ = make_synthetic_pair(base, np.random.default_rng(1))
    faces = detect_faces(follow)
    assert len(faces) >= 2 and faces[0].score < faces[1].score  # the trap is present
    fb, ff = detect_main_face(base), detect_main_face(follow)
    expected = transform_points(np.linalg.inv(true), fb.landmarks)
    assert np.abs(ff.landmarks - expected).max() < 6.0
    assert align(base, follow).ok


def test_warp_refused_alignment_raises():
    a = Alignment(matrix=np.eye(3), ok=False, confidence=0.0, method="identity", residual_px=math.nan,
                  overlap=math.nan, reason="different person", baseline_size=(4, 4), followup_size=(4, 4))
    with pytest.raises(UsageError):
        warp_to_baseline(np.zeros((4, 4, 3), np.float32), a, (4, 4))


def test_bad_options():
    img = np.zeros((32, 32, 3), np.float32)
    with pytest.raises(UsageError, match="auto, face, body"):
        align(img, img, area="torso")
    with pytest.raises(UsageError):
        align(np.zeros((32, 32), np.float32), img)


def test_transform_points():
    M = np.array([[2.0, 0, 1], [0, 2, -1], [0, 0, 1]])
    assert np.allclose(transform_points(M, [[1, 1], [0, 0]]), [[3, 1], [1, -1]])
    P = np.array([[1.0, 0, 0], [0, 1, 0], [0.001, 0, 1]])
    assert np.allclose(transform_points(P, [[100, 50]]), [[100 / 1.1, 50 / 1.1]])
