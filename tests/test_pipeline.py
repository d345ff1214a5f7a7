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


def _leaves(value, prefix=""):
    """A nested dict/list as {"a.b.0": leaf}: fields compared one by one (pytest.approx takes no
    nested dict since pytest 9.2)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_leaves(v, f"{prefix}{k}."))
        return out
    if isinstance(value, (list, tuple)):
        out = {}
        for i, v in enumerate(value):
            out.update(_leaves(v, f"{prefix}{i}."))
        return out
    return {prefix.rstrip("."): float(value) if isinstance(value, int) and not isinstance(value, bool) else value}


def test_region_window_measures_as_the_full_warp(base, rois):
    """compare() warps only the regions' box (and a strided frame for the lighting): every
    number equals measuring both photos on the full-frame warp with the scene mask."""
    from analyzer.align import detect_main_face, warp_to_baseline
    from analyzer.calibrate import calibrate_pair
    from analyzer.metrics import analysis_scale, measure, reference_region_for
    from analyzer.pipeline import _skin_in_region
    from analyzer.regions import face_region_polygons, roi_polygon

    follow = _photo(_pose(_shift_face_a_star(base.rgb, 2.0)), "simulated.png")
    comp = compare(base, follow, rois=rois, keep_aligned=False)
    assert comp.aligned_rgb is None
    face = detect_main_face(base.rgb)
    shape = base.rgb.shape[:2]
    warped, valid = warp_to_baseline(follow.rgb, comp.alignment, shape)
    scene = valid & ~polygon_mask(face_area_polygon(face), shape)
    cal_b, cal_f = calibrate_pair(base.rgb, follow.rgb)
    ts, px_mm, _ = analysis_scale(face)
    for name, roi in rois.items():
        covered = polygon_mask(roi_polygon(roi, face=face, shape=shape), shape) & valid
        common = _skin_in_region(base.rgb, covered) & _skin_in_region(warped, covered)
        ref = reference_region_for(name)
        ref_cov = polygon_mask(face_region_polygons(face)[ref], shape) & valid
        ref_common = _skin_in_region(base.rgb, ref_cov) & _skin_in_region(warped, ref_cov)
        kw = dict(mask=common, region=name, texture_scale=ts, px_per_mm=px_mm, region_mask=covered,
                  lighting_mask=scene, reference_mask=ref_common, reference_region=ref)
        b = measure(base.rgb, calibration=cal_b, **kw)
        f = measure(warped, calibration=cal_f, baseline_quality=b.quality, **kw)
        got = comp.regions[name]
        for want, have in ((b, got.baseline), (f, got.followup)):
            w, h = want.to_dict(), have.to_dict()
            for group in ("redness", "pigmentation", "texture"):
                for key, v in w[group].items():
                    assert h[group][key] == pytest.approx(v, rel=1e-5, abs=1e-9), (name, key)
            want_light, have_light = _leaves(w["quality"]["lighting"]), _leaves(h["quality"]["lighting"])
            assert have_light.keys() == want_light.keys(), name
            for field, v in want_light.items():
                if isinstance(v, float):
                    assert have_light[field] == pytest.approx(v, rel=1e-5, nan_ok=True), (name, field)
                else:
                    assert have_light[field] == v, (name, field)
            assert h["skin_fraction"] == pytest.approx(w["skin_fraction"], rel=1e-9)
    # Kept images: the whole-frame warp is made when it is asked for, and is the full warp.
    kept = compare(base, follow, rois=rois, baseline_face=face)
    np.testing.assert_allclose(kept.aligned_rgb, warped, atol=1e-6)
    assert np.array_equal(kept.valid_mask, valid)


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
        assert r.followup is None
        assert r.reason.startswith("alignment refused: ")
        # every metric's change entry: no delta, no verdict, the plain reason
        for key, rec in r.change.items():
            if "." in key:
                assert rec["delta"] is None and rec["within_noise"] is None and rec["verdict"] == "cant_tell"
                assert rec["verdict_reason"].startswith("can't tell: alignment refused")
    d = comp.to_dict("forehead")
    assert d["followup"] is None and d["alignment"]["reason"]
    assert all(v["within_noise"] is None for k, v in d["change"].items() if "." in k)


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
    cal = compare(b, f, rois=rois, keep_aligned=True, baseline_reference=ref, followup_reference=ref)
    for name in rois:
        r = cal.regions[name]
        assert r.baseline.calibration.method == "reference-patch"
        assert r.followup.calibration.method == "reference-patch"
        raw_da = raw.regions[name].change["redness.a_star_mean"]["delta"]
        cal_da = r.change["redness.a_star_mean"]["delta"]
        assert abs(cal_da) < 1.0, (name, cal_da)
        assert abs(raw_da) > 2 * abs(cal_da) + 0.5, (name, raw_da, cal_da)
        # the lighting change the card corrected is no longer flagged; uncorrected, it is
        assert raw.regions[name].followup.quality["lighting_differs"] is True
        assert r.followup.quality["lighting_differs"] is False, r.followup.quality["warnings"]
        # the change map is in the same calibrated colours as the numbers
        da_map = cal.maps(name)["delta_a_star"]
        assert abs(float(np.nanmedian(da_map)) - cal_da) < 0.5, (name, float(np.nanmedian(da_map)), cal_da)


def test_brighter_session_with_chart_is_calibrated_on_shared_patches(base, rois, charts_dir):
    """SIMULATED: a real chart (Classic, its orange patch clipped) pasted into a real face photo;
    the follow-up is the same scene 1.2x brighter and cooler, so the chart's light patches clip
    only there. compare() fits both photos on the patches usable in both: the skin's a* and L*
    come back within 1.0 / 2.0, where the uncalibrated change is far larger."""
    from analyzer.calibrate import NO_CALIBRATION
    from analyzer.evaluation.metrics import composite_chart, quantise8, relight
    from analyzer.metrics import measure_photo

    comp = quantise8(composite_chart(base.rgb, load_photo(charts_dir / "classic.png").rgb))
    bright = relight(comp, exposure=1.2, gains=(0.9, 1.0, 1.15))
    res = compare(_photo(comp, "b.png"), _photo(bright, "f.png"), rois=rois, keep_aligned=False)
    for name, roi in rois.items():
        r = res.regions[name]
        assert r.baseline.calibration.method == r.followup.calibration.method == "colorchecker"
        assert r.baseline.calibration.patches_used == r.followup.calibration.patches_used
        da, dl = (r.change[k]["delta"] for k in ("redness.a_star_mean", "pigmentation.L_star_mean"))
        assert abs(da) < 1.0 and abs(dl) < 2.0, (name, da, dl)  # the target
        assert abs(da) < 0.3 and abs(dl) < 0.3, (name, da, dl)  # paired; fitted apart: -0.8 a*, +0.8 L*
        raw = [measure_photo(x, roi=roi, calibration=NO_CALIBRATION).value("L_star_mean") for x in (comp, bright)]
        assert raw[1] - raw[0] > 3.0, (name, raw)
