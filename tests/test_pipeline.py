"""compare(): a known pose change and a known Lab shift on a real face come back at their true size."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from analyzer.face import detect_face
from analyzer.io import Photo, load_photo
from analyzer.pipeline import compare
from analyzer.regions import NamedROI, face_area_polygon, polygon_mask

POSE = {"angle": 5.0, "scale": 1.06, "shift": (30.0, -18.0)}


def _photo(rgb: np.ndarray, name: str) -> Photo:
    return Photo(rgb=np.ascontiguousarray(rgb, dtype=np.float32), name=name, format="PNG")


def _pose(rgb: np.ndarray) -> np.ndarray:
    rows, cols = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((cols / 2, rows / 2), POSE["angle"], POSE["scale"])
    m[:, 2] += POSE["shift"]
    return cv2.warpAffine(rgb, m, (cols, rows), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT)


def _shift_face_a_star(rgb: np.ndarray, delta: float) -> np.ndarray:
    """Simulated: a* changed by ``delta`` over the whole face ellipse (feathered edge)."""
    face = detect_face(rgb)
    poly = face_area_polygon(face)
    poly = poly.mean(axis=0) + 1.3 * (poly - poly.mean(axis=0))  # generous: covers the hairline
    w = polygon_mask(poly, rgb.shape[:2]).astype(np.float32)
    w = cv2.GaussianBlur(w, (0, 0), 0.05 * face.eye_distance)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    lab[..., 1] += delta * w
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), 0, 1)


@pytest.fixture(scope="module")
def base(london_neutral) -> Photo:
    return load_photo(london_neutral["081"])


@pytest.fixture(scope="module")
def rois():
    return {"left_cheek": NamedROI("left_cheek"), "forehead": NamedROI("forehead")}


def test_known_pose_and_redness_change_measured_at_true_size(base, rois):
    follow = _photo(_pose(_shift_face_a_star(base.rgb, -3.0)), "simulated.png")
    comp = compare(base, follow, rois=rois)
    assert comp.alignment.ok, comp.alignment.reason
    for name in rois:
        r = comp.regions[name]
        da = r.change["redness.a_star_mean"]["delta"]
        assert da == pytest.approx(-3.0, rel=0.15), (name, da)
        dL = r.change["pigmentation.L_star_mean"]["delta"]
        assert abs(dL) < 0.5, (name, dL)
        # Skin changed, the light did not: no lighting warning (the scene outside the face decides).
        assert r.followup.quality["lighting_differs"] is False, r.followup.quality["warnings"]
        assert r.followup.skin_fraction > 0.5
    # The region is measured on the same baseline pixels in both photos.
    assert comp.aligned_rgb.shape == base.rgb.shape
    maps = comp.maps("left_cheek")
    assert np.nanmedian(maps["delta_a_star"]) == pytest.approx(-3.0, abs=0.6)


def test_darker_exposure_is_flagged_as_lighting(base, rois):
    lin = np.where(base.rgb <= 0.04045, base.rgb / 12.92, ((base.rgb + 0.055) / 1.055) ** 2.4)
    lin = lin * 0.6
    srgb = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * np.power(lin, 1 / 2.4) - 0.055)
    comp = compare(base, _photo(_pose(srgb.astype(np.float32)), "darker.png"), rois=rois)
    assert comp.alignment.ok
    q = comp.regions["forehead"].followup.quality
    assert q["lighting_differs"] is True
    assert any("lighting differs" in w for w in q["warnings"])


def test_refused_alignment_never_enters_a_chart(base, london_neutral, rois):
    other = load_photo(london_neutral["021"])
    comp = compare(base, other, rois=rois)
    assert not comp.alignment.ok
    for r in comp.regions.values():
        assert r.followup is None and r.change is None
        assert r.reason.startswith("alignment refused: ")
    d = comp.to_dict("forehead")
    assert d["followup"] is None and d["change"] is None and d["alignment"]["reason"]


def _relight(rgb: np.ndarray, gains) -> np.ndarray:
    """Simulated relighting in linear RGB: per-channel gains (exposure x white balance)."""
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4) * np.asarray(gains, np.float32)
    lin = np.clip(lin, 0, 1)
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * np.power(lin, 1 / 2.4) - 0.055).astype(np.float32)


def test_reference_patch_calibration_undoes_a_lighting_change(base, rois):
    # Simulated grey card (L* 60, neutral) painted into the background, then the whole scene
    # relit cooler and darker. The card is marked in each photo; calibration must bring a* back.
    card = base.rgb.copy()
    x, y, s = 60, 900, 160
    grey = cv2.cvtColor(np.array([[[60.0, 0.0, 0.0]]], np.float32), cv2.COLOR_Lab2RGB)[0, 0]
    card[y : y + s, x : x + s] = grey
    b = _photo(card, "card.png")
    f = _photo(_relight(card, (0.7 * 0.85, 0.7 * 0.95, 0.7 * 1.1)), "relit.png")
    from analyzer.regions import RectROI

    ref = RectROI(x + 20, y + 20, s - 40, s - 40)
    raw = compare(b, f, rois=rois, keep_aligned=False)
    cal = compare(b, f, rois=rois, keep_aligned=False, baseline_reference=ref, followup_reference=ref)
    for name in rois:
        r = cal.regions[name]
        assert r.baseline.calibration.method == "reference-patch"
        assert r.followup.calibration.method == "reference-patch"
        raw_da = raw.regions[name].change["redness.a_star_mean"]["delta"]
        cal_da = r.change["redness.a_star_mean"]["delta"]
        assert abs(cal_da) < 1.0, (name, cal_da)
        assert abs(raw_da) > 2 * abs(cal_da) + 0.5, (name, raw_da, cal_da)
