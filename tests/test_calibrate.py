"""Colour: CIELAB correctness, ColorChecker detection on real chart photos, calibration validity."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analyzer.calibrate import (
    COLORCHECKER24_LAB_D65,
    COLORCHECKER24_LINEAR_SRGB,
    Calibration,
    apply_calibration,
    calibrate,
    calibrate_pair,
    detect_colorchecker,
)
from analyzer.color import linear_to_srgb, rgb_to_lab, srgb_to_linear
from analyzer.evaluation.metrics import eval_relight, relight
from analyzer.io import load_photo
from analyzer.regions import RectROI


def test_cv2_lab_matches_skimage_d65():
    from skimage.color import rgb2lab

    rng = np.random.default_rng(1)
    x = rng.random((200, 1, 3)).astype(np.float32)
    np.testing.assert_allclose(rgb_to_lab(x), rgb2lab(x.astype(np.float64), illuminant="D65"), atol=0.3)
    # mid grey sRGB 0.5 is L* 53.39 (sRGB transfer applied), neutral
    np.testing.assert_allclose(rgb_to_lab(np.full((1, 1, 3), 0.5, np.float32)).ravel(), [53.39, 0, 0], atol=0.05)


def test_reference_values_round_trip():
    """The adapted reference: white patch is near-neutral, and linear sRGB -> Lab matches the Lab table."""
    srgb = np.clip(linear_to_srgb(COLORCHECKER24_LINEAR_SRGB), 0, 1).astype(np.float32)
    lab = rgb_to_lab(srgb.reshape(-1, 1, 3)).reshape(-1, 3)
    inside = (COLORCHECKER24_LINEAR_SRGB > 0).all(axis=1) & (COLORCHECKER24_LINEAR_SRGB < 1).all(axis=1)
    np.testing.assert_allclose(lab[inside], COLORCHECKER24_LAB_D65[inside], atol=0.3)
    assert abs(COLORCHECKER24_LAB_D65[18, 1]) < 1.5 and abs(COLORCHECKER24_LAB_D65[18, 2]) < 3.5


DETECTED = ("calibrite-passport.png", "classic.png", "colorchecker-classic-mini.jpg", "nano.jpeg")


@pytest.mark.parametrize("name", DETECTED)
def test_colorchecker_detected_and_fitted(charts_dir, name):
    cal = calibrate(load_photo(charts_dir / name).rgb)
    assert cal.method == "colorchecker"
    assert cal.residual_delta_e < cal.residual_delta_e_before
    assert cal.residual_delta_e < 5.5
    assert cal.chart_polygon.shape == (4, 2)
    d = cal.to_dict()
    assert d["method"] == "colorchecker" and d["residual_delta_e2000"] is not None


@pytest.mark.parametrize("name", ("partial_card_rgb.png", "tilted_color_card.jpg", "source_img_plant.jpg"))
def test_not_a_usable_colorchecker_gives_none(charts_dir, name):
    """An occluded card (fit rejected), a card the detector misses, a ~50 px card partly outside
    the frame (the tone power would fit its misread patches; the 3x3-matrix test rejects it):
    "none", never a bad fit."""
    cal = calibrate(load_photo(charts_dir / name).rgb)
    assert cal.method == "none"
    assert "may be lighting" in cal.message
    assert math.isnan(cal.residual_delta_e)


def test_no_chart_on_face_says_lighting(london_neutral):
    rgb = load_photo(london_neutral["081"]).rgb
    cal = calibrate(rgb)
    assert cal.method == "none" and "lighting" in cal.message
    assert apply_calibration(rgb, cal) is rgb
    assert cal.to_dict()["residual_delta_e2000"] is None


def test_relit_chart_is_corrected_back(charts_dir):
    """SIMULATED relight (x0.7 exposure, cooler) of a real chart photo: after calibration the
    patches come back to the same colours."""
    rgb = load_photo(charts_dir / "colorchecker-classic-mini.jpg").rgb
    dark = relight(rgb)
    c0, c1 = calibrate(rgb), calibrate(dark)
    a = rgb_to_lab(apply_calibration(rgb, c0))
    b = rgb_to_lab(apply_calibration(dark, c1))
    det = detect_colorchecker(rgb)
    x0, y0 = det.polygon.min(axis=0).astype(int)
    x1, y1 = det.polygon.max(axis=0).astype(int)
    diff = (b - a)[y0:y1, x0:x1]
    raw = (rgb_to_lab(dark) - rgb_to_lab(rgb))[y0:y1, x0:x1]
    assert abs(np.median(diff[..., 0])) < 1.0 and abs(np.median(diff[..., 1])) < 1.0
    assert abs(np.median(raw[..., 0])) > 5  # the relight was real


@pytest.mark.parametrize("name", DETECTED)
def test_relight_face_with_chart_composite(london_neutral, charts_dir, name):
    """SIMULATED composite (real chart pasted into real face photos), relit (exposure x0.7,
    cooler): calibrated skin metrics move < 1.0 a* and < 2.0 L*; uncalibrated they move far more.
    classic.png has 3 patches clipped in the original that are not clipped once relit (they
    moved a* by 1.1-1.5 when the fit was a plain matrix with a trimming pass)."""
    chart = load_photo(charts_dir / name).rgb
    for pid in ("021", "061"):
        r = eval_relight(load_photo(london_neutral[pid]).rgb, chart)
        assert r["calibration_original"] == r["calibration_relit"] == "colorchecker", pid
        assert abs(r["calibrated_delta_a_star"]) < 1.0, (pid, r)
        assert abs(r["calibrated_delta_L_star"]) < 2.0, (pid, r)
        assert abs(r["paired_delta_a_star"]) < 1.0 and abs(r["paired_delta_L_star"]) < 2.0, (pid, r)
        assert abs(r["uncalibrated_delta_L_star"]) > 5.0
        assert abs(r["uncalibrated_delta_a_star"]) > 2.0


def test_pair_fits_both_sessions_on_the_same_patches(london_neutral, charts_dir):
    """SIMULATED brighter session (exposure x1.2) of a chart composited into a face photo: the
    light patches clip in the follow-up only (classic.png: 21 usable patches, then 16).
    calibrate_pair fits both photos on the patches usable in both, and skin a*, L* come back
    (fitted one at a time, L* moved by +5 to +7 here)."""
    from analyzer.evaluation.metrics import composite_chart, quantise8

    face = load_photo(london_neutral["021"]).rgb
    chart = load_photo(charts_dir / "classic.png").rgb
    r = eval_relight(face, chart, exposure=1.2, gains=(1.0, 1.0, 1.0))
    assert r["n_patches_original"] == 21 and r["n_patches_relit"] < 21
    assert r["n_patches_paired"] == r["n_patches_relit"]
    assert abs(r["paired_delta_a_star"]) < 1.0 and abs(r["paired_delta_L_star"]) < 2.0, r
    assert r["uncalibrated_delta_L_star"] > 2.0  # the relight was real
    # the same patches in both, in the JSON; a pair with nothing to reconcile keeps its own fits
    comp = quantise8(composite_chart(face, chart))
    ca, cb = calibrate_pair(comp, relight(comp, exposure=1.2, gains=(1.0, 1.0, 1.0)))
    assert ca.patches_used == cb.patches_used and ca.to_dict()["patches_used"] == list(ca.patches_used)
    one, two = calibrate_pair(comp, comp)
    assert one.patches_used == two.patches_used == calibrate(comp).patches_used and one.n_patches == 21


def test_clipped_patches_left_out_and_counted(charts_dir):
    """classic.png: 3 patches have a clipped channel (orange, yellow-orange, yellow); they are
    left out and the count is in the JSON."""
    cal = calibrate(load_photo(charts_dir / "classic.png").rgb)
    assert cal.n_patches == 21
    d = cal.to_dict()
    assert d["n_patches"] == 21 and "3 patch(es) were clipped" in cal.message
    assert len(d["gamma_linear_rgb"]) == 3 and np.array(d["transform_linear_rgb"]).shape == (3, 3)


def test_tone_power_and_matrix_known_answer():
    """Known answer: a camera whose response is a power 1/1.4 of linear light after a colour
    cross-talk matrix, under a warm light: the fit finds the power and brings the patches back to
    the reference (ΔE2000 < 0.5); a matrix alone can't (the tone curve)."""
    from analyzer.calibrate import _fit_chart, _residuals

    crosstalk = np.array([[0.9, 0.08, 0.02], [0.1, 0.8, 0.1], [0.03, 0.12, 0.85]])
    scene = COLORCHECKER24_LINEAR_SRGB.clip(1e-4, None) * np.array([0.75, 0.65, 0.5])
    patches = np.clip(linear_to_srgb(np.power(scene @ crosstalk, 1 / 1.4)), 0, 1)
    gamma, M, use = _fit_chart(patches)
    np.testing.assert_allclose(gamma, 1.4, atol=0.03)
    assert _residuals(patches, M, use, gamma) < 0.5
    _, M3, _ = _fit_chart(patches, tone=False)
    assert _residuals(patches, M3, use) > 2.0


def test_reference_patch_white_balance():
    """A grey card under a warm cast: the reference patch corrects the cast (known answer)."""
    rng = np.random.default_rng(0)
    img = np.full((100, 100, 3), 0.5, np.float32)
    img[:, 50:] = np.array([0.7, 0.45, 0.3], np.float32) + rng.normal(0, 0.003, (100, 50, 3)).astype(np.float32)
    lin = srgb_to_linear(img) * np.array([1.2, 1.0, 0.8], np.float32)  # warm light
    cast = np.clip(linear_to_srgb(lin), 0, 1)
    cal = calibrate(cast, reference_patch=RectROI(5, 5, 40, 90), detect_chart=False)
    assert cal.method == "reference-patch"
    out = rgb_to_lab(apply_calibration(cast, cal))
    assert abs(out[50, 20, 1]) < 0.3 and abs(out[50, 20, 2]) < 0.3
    assert cal.residual_delta_e < 0.5 < cal.residual_delta_e_before
    # the skin-coloured half gets back its colour under neutral light
    np.testing.assert_allclose(out[:, 60:].mean(axis=(0, 1)), rgb_to_lab(img)[:, 60:].mean(axis=(0, 1)), atol=1.0)


def test_bad_method_rejected():
    with pytest.raises(ValueError, match="allowed"):
        Calibration(method="grey-world")
    with pytest.raises(ValueError, match="0-23"):
        calibrate(np.zeros((8, 8, 3), np.float32), leave_out=(24,))


def test_chart_in_large_photo_polygon_in_photo_pixels(charts_dir):
    """A large photo is searched on a reduced copy; the chart outline comes back in the photo's
    own pixels (known answer: the same chart photo enlarged x6)."""
    import cv2

    rgb = load_photo(charts_dir / "colorchecker-classic-mini.jpg").rgb
    small = detect_colorchecker(rgb)
    big = np.clip(cv2.resize(rgb, None, fx=6, fy=6, interpolation=cv2.INTER_CUBIC), 0, 1)
    large = detect_colorchecker(big)
    assert small is not None and large is not None
    np.testing.assert_allclose(large.polygon / 6, small.polygon, atol=6)
    assert calibrate(big).method == "colorchecker"


def test_calibration_round_trips_through_its_json(charts_dir):
    """A stored calibration (to_dict) applied again gives the same colours."""
    import json

    rgb = load_photo(charts_dir / "colorchecker-classic-mini.jpg").rgb
    cal = calibrate(rgb)
    back = Calibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert back.method == "colorchecker" and back.patches_used == cal.patches_used
    np.testing.assert_allclose(apply_calibration(rgb, back), apply_calibration(rgb, cal), atol=2e-4)
    assert Calibration.from_dict(None).method == "none"
    assert Calibration.from_dict({"method": "none"}).method == "none"


def test_pair_without_two_charts_is_each_photo_alone(charts_dir, london_neutral):
    """calibrate_pair on a chart photo and a photo without one (or with a rejected chart) gives
    exactly what calibrate() gives each photo, from one chart search per photo."""
    from analyzer.calibrate import calibrate_pair

    chart = load_photo(charts_dir / "colorchecker-classic-mini.jpg").rgb
    occluded = load_photo(charts_dir / "partial_card_rgb.png").rgb
    face = load_photo(london_neutral["081"]).rgb
    for a, b in ((chart, face), (occluded, chart), (face, occluded)):
        pa, pb = calibrate_pair(a, b)
        for got, rgb in ((pa, a), (pb, b)):
            want = calibrate(rgb)
            assert (got.method, got.message, got.patches_used) == (want.method, want.message, want.patches_used)
            if want.transform is not None:
                np.testing.assert_allclose(got.transform, want.transform)
