"""Metric validity on real photos with simulated, known changes (labelled simulated)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from analyzer.evaluation.metrics import (
    eval_blur_roughness,
    eval_lab_shift,
    eval_spots,
    inject_lab_shift,
    quantise8,
    region_setup,
    relight,
)
from analyzer.face import detect_face
from analyzer.io import load_photo
from analyzer.metrics import (
    CANONICAL_PX_PER_MM,
    METRIC_KEYS,
    change_maps,
    measure,
    measure_photo,
    noise_band,
)
from analyzer.regions import NamedROI, RectROI
from analyzer.verdict import change, change_warnings


@pytest.fixture(scope="module")
def faces(london_neutral):
    out = {}
    for i in ("021", "038", "061", "062", "081", "087"):
        rgb = load_photo(london_neutral[i]).rgb
        out[i] = (rgb, detect_face(rgb))
    return out


@pytest.mark.parametrize("pid", ["081", "021", "061"])
def test_a_star_shift_measured_at_true_size(faces, pid):
    """SIMULATED a* +4 and -3 inside the cheek's skin: a_star_mean moves by 4 / -3 within 15 %."""
    rgb, face = faces[pid]
    up = eval_lab_shift(rgb, da=4.0, face=face)
    down = eval_lab_shift(rgb, da=-3.0, face=face)
    assert up["measured_da"] == pytest.approx(4.0, rel=0.15)
    assert down["measured_da"] == pytest.approx(-3.0, rel=0.15)
    assert abs(up["measured_dL"]) < 0.5


@pytest.mark.parametrize("pid", ["081", "021", "061", "062", "087"])
def test_spots_area_and_count(faces, pid):
    """SIMULATED dark-brown spots (L* -12) over 4 % of a cheek's skin: spot_area_fraction rises
    by 0.03..0.05 and spot_count by the number of spots within 20 %, at every placement."""
    rgb, face = faces[pid]
    for region, seed in (("left_cheek", 0), ("right_cheek", 1), ("right_cheek", 2)):
        r = eval_spots(rgb, region=region, area_fraction=0.04, n_spots=8, face=face, seed=seed)
        assert 0.03 <= r["delta_spot_area_fraction"] <= 0.05, r
        assert abs(r["delta_spot_count"] - 8) <= 0.2 * 8, r


def test_injected_spots_cover_the_stated_area():
    """The harness itself: 8 discs over 4 % of a region cover 4 % (known answer, no photo)."""
    from analyzer.evaluation.metrics import inject_spots

    reg = np.zeros((400, 400), bool)
    reg[40:360, 40:360] = True
    img = np.full((400, 400, 3), 0.6, np.float32)
    out, info = inject_spots(img, reg, area_fraction=0.04, n_spots=8, seed=0)
    assert info["area_px"] / reg.sum() == pytest.approx(0.04, rel=0.01)
    darker = (out.mean(axis=2) < 0.55).sum() / reg.sum()
    assert darker == pytest.approx(0.04, rel=0.15)


def test_uniform_dark_skin_is_not_spots(faces):
    """Very dark, even skin (061, 062) reads as few spots, no more than fair even skin (081, 087)."""
    frac, count = {}, {}
    for pid, (rgb, face) in faces.items():
        ms = [measure_photo(rgb, roi=NamedROI(r), face=face) for r in ("left_cheek", "right_cheek", "forehead")]
        frac[pid] = float(np.mean([m.value("spot_area_fraction") for m in ms]))
        count[pid] = sum(m.value("spot_count") for m in ms)
    fair_frac, fair_count = max(frac["081"], frac["087"]), max(count["081"], count["087"])
    for dark in ("061", "062"):
        assert frac[dark] <= fair_frac, frac
        # a count differs by at most the same-session noise band (3.55 spots) from fair skin's
        assert count[dark] <= fair_count + noise_band("spot_count"), count
    # the real positive case: 038 has freckle-like macules on the cheeks (INDEX.md)
    assert frac["038"] > 3 * max(frac[k] for k in ("061", "062", "081", "087", "021")), frac


def test_roughness_blur_steps_and_relief(faces):
    """Blur sigma 1 px then 2.5 px lowers roughness strictly; SIMULATED fine relief raises it."""
    for pid in ("081", "021"):
        rgb, face = faces[pid]
        r = eval_blur_roughness(rgb, face=face)
        assert r["roughness_original"] > r["roughness_blur_1px"] > r["roughness_blur_2.5px"], r
        assert r["roughness_fine_relief"] > r["roughness_original"] * 1.05, r


def test_contract_keys_units_and_json(faces):
    rgb, face = faces["021"]
    ms = measure_photo(rgb, roi=NamedROI("left_cheek"), face=face)
    d = json.loads(json.dumps(ms.to_dict()))
    for g, keys in METRIC_KEYS.items():
        assert list(d[g]) == list(keys)
        for k in keys:
            assert d[g][k] is not None, (g, k)
            meta = d["meta"][f"{g}.{k}"]
            assert meta["unit"] and meta["method"]
    assert d["calibration"]["method"] == "none"
    assert any("lighting" in w for w in d["quality"]["warnings"])
    assert d["scale"]["basis"] == "face eye distance" and d["scale"]["px_per_mm"] == CANONICAL_PX_PER_MM
    assert d["scale"]["spot_px_per_mm"] == pytest.approx(2 * CANONICAL_PX_PER_MM)
    assert 0.9 <= d["skin_fraction"] <= 1.0
    assert d["analyzer_version"]
    # known facts on this set: 021 has visible erythema, 081 is an even, low-redness control
    ms81 = measure_photo(faces["081"][0], roi=NamedROI("left_cheek"), face=faces["081"][1])
    assert ms.value("a_star_mean") > ms81.value("a_star_mean") + 4
    assert ms.value("red_area_fraction") > 0.5 > ms81.value("red_area_fraction")
    assert ms.value("erythema_index_mean") > ms81.value("erythema_index_mean")
    # ITA: very dark skin is below -30 degrees (Del Bino "dark"), fair skin above 55 ("very light")
    ms61 = measure_photo(faces["061"][0], roi=NamedROI("left_cheek"), face=faces["061"][1])
    assert ms61.value("ita_deg_mean") < -30 and ms81.value("ita_deg_mean") > 55
    assert ms61.value("melanin_index_mean") > ms81.value("melanin_index_mean") + 30


def test_uncomputable_is_null_with_reason():
    rgb = np.full((60, 60, 3), 0.5, np.float32)  # grey: no skin
    ms = measure_photo(rgb, roi=RectROI(0, 0, 60, 60), detect=False)
    d = ms.to_dict()
    for g, keys in METRIC_KEYS.items():
        for k in keys:
            assert d[g][k] is None
            assert d["meta"][f"{g}.{k}"]["reason"]
    assert ms.value("a_star_mean") != 0 and math.isnan(ms.value("a_star_mean"))


def test_change_and_noise_band(faces):
    rgb, face = faces["081"]
    s = region_setup(rgb, "left_cheek", face)
    base = quantise8(rgb)
    red = inject_lab_shift(base, s["skin"], da=4.0)  # SIMULATED
    kw = dict(mask=s["skin"], region_mask=s["region"], texture_scale=s["texture_scale"])
    b = measure(base, **kw)
    f = measure(red, baseline_quality=b.quality, **kw)
    c = change(b, f)
    assert set(c) == {f"{g}.{k}" for g, ks in METRIC_KEYS.items() for k in ks} | set(METRIC_KEYS)
    rec = c["redness.a_star_mean"]
    assert c["redness"]["a_star_mean"] is rec
    assert rec["delta"] == pytest.approx(4.0, rel=0.15)
    assert rec["percent"] == pytest.approx(100 * rec["delta"] / abs(b.value("a_star_mean")))
    # no colour reference in either photo: absolute colour can't be told, whatever its size
    assert rec["within_noise"] is None and rec["noise_band"] == noise_band("redness.a_star_mean")
    assert rec["verdict_reason"].startswith("can't tell")
    # calibrated on both sides (the same reference patch), the verdict is given
    from analyzer.calibrate import calibrate

    cal = calibrate(base, reference_patch=RectROI(5, 5, 40, 40))
    b2 = measure(base, calibration=cal, **kw)
    f2 = measure(red, calibration=cal, baseline_quality=b2.quality, **kw)
    assert change(b2, f2)["redness.a_star_mean"]["within_noise"] is False
    assert c["texture.roughness"]["within_noise"] is True
    assert f.quality["lighting_differs"] is False
    assert any("calibrated" in w for w in change_warnings(b, f))


def test_lighting_differs_warning(faces):
    rgb, face = faces["081"]
    s = region_setup(rgb, "forehead", face)
    kw = dict(mask=s["skin"], region_mask=s["region"], texture_scale=s["texture_scale"])
    b = measure(rgb, **kw)
    f = measure(relight(rgb), baseline_quality=b.quality, **kw)  # SIMULATED relight
    assert f.quality["lighting_differs"] is True
    assert any("lighting differs" in w for w in f.quality["warnings"])


def test_clipped_fractions_known_answer(faces):
    """Exactly 6 % of the region set to a channel at 0.99 (clipped high) and 3 % to a channel at
    0.01 (clipped low); values just inside (0.9899, 0.0101) are not counted."""
    rgb, face = faces["081"]
    s = region_setup(rgb, "forehead", face)
    img = np.clip(rgb, 0.05, 0.95).astype(np.float32)
    rr, cc = np.nonzero(s["region"])
    n = len(rr)
    idx = np.random.default_rng(4).permutation(n)
    hi, lo, near = idx[: int(0.06 * n)], idx[int(0.06 * n): int(0.09 * n)], idx[int(0.09 * n): int(0.2 * n)]
    img[rr[hi], cc[hi], 1] = 0.99
    img[rr[lo], cc[lo], 2] = 0.01
    img[rr[near], cc[near], 0] = 0.9899
    img[rr[near], cc[near], 2] = 0.0101
    outside = ~s["region"]
    img[outside] = 1.0  # clipped, but outside the region: not counted
    q = measure(img, mask=s["skin"], region_mask=s["region"], texture_scale=s["texture_scale"]).quality
    assert q["clipped_highlights_fraction"] == pytest.approx(len(hi) / n, abs=1e-12)
    assert q["clipped_shadows_fraction"] == pytest.approx(len(lo) / n, abs=1e-12)
    assert any("overexposed" in w for w in q["warnings"]) and any("underexposed" in w for w in q["warnings"])


def test_change_maps_locate_the_change(faces):
    rgb, face = faces["081"]
    s = region_setup(rgb, "left_cheek", face)
    base = quantise8(rgb)
    red = inject_lab_shift(base, s["skin"], da=4.0)  # SIMULATED
    maps = change_maps(base, red, s["skin"])
    da = maps["delta_a_star"]
    assert da.dtype == np.float32 and np.isnan(da[~s["skin"]]).all()
    assert np.nanmedian(da) == pytest.approx(4.0, rel=0.15)
    assert abs(np.nanmedian(maps["delta_L_star"])) < 0.5
    assert np.isfinite(maps["delta_roughness"][s["skin"]]).all()


def test_measure_rejects_bad_input(faces):
    rgb, _ = faces["081"]
    with pytest.raises(ValueError):
        measure(rgb, mask=np.ones((5, 5), bool))
    with pytest.raises(ValueError):
        measure(rgb, mask=np.ones(rgb.shape[:2], bool), texture_scale=0)


def test_texture_normalised_by_face_size_across_camera_distance(zoom_paths):
    """Same skin at 15, 30, 45 cm (real photos): face-size normalised forehead roughness agrees
    within 10 %, closer than at the photo's own pixels. (60 cm, 2.4 px/mm native, is softer and
    reads ~13 % lower: reported, not asserted.)"""
    from analyzer.evaluation.metrics import eval_zoom_texture

    r = eval_zoom_texture(zoom_paths[:3], region="forehead")
    v = [p["roughness_normalised"] for p in r["photos"].values()]
    assert max(v) / min(v) - 1 < 0.10, r
    assert r["roughness_spread_normalised"] < r["roughness_spread_photo_pixels"], r


# SIMULATED dark spots (8 spots, L* -12, 4 % of the cheek's skin) on a smiling, a bearded and an
# older face (London smiling 021, 037, 136) and on a distant photo (zoom 60 cm, native 2.4 px/mm).
_HARD_SPOT_FACES = {"021": "faces/london_smiling/021_08.jpg", "037": "faces/london_smiling/037_08.jpg",
                    "136": "faces/london_smiling/136_08.jpg", "zoom60": "faces/zoom/60cm.jpg"}
_HARD_PLACEMENTS = (("left_cheek", 0), ("left_cheek", 1), ("right_cheek", 0), ("right_cheek", 1))


@pytest.fixture(scope="module")
def hard_spot_results(photos_dir):
    out = {}
    for key, rel in _HARD_SPOT_FACES.items():
        rgb = load_photo(photos_dir / rel).rgb
        face = detect_face(rgb)
        out[key] = [eval_spots(rgb, region=r, seed=s, face=face) for r, s in _HARD_PLACEMENTS]
    return out


def test_spots_on_a_distant_photo_measured_at_true_size(hard_spot_results):
    """zoom 60 cm: every placement within the target (area +0.03..+0.05, count 8 +-20 %)."""
    for r in hard_spot_results["zoom60"]:
        assert 0.03 <= r["delta_spot_area_fraction"] <= 0.05, r
        assert 6.4 <= r["delta_spot_count"] <= 9.6, r


@pytest.mark.parametrize("key", ["021", "037", "136"])
def test_spots_on_smiling_bearded_older_faces_are_caught(hard_spot_results, key):
    """Smiling (021), bearded (037), older (136): every injected set is seen (at least half of the
    spots and of their area) and never more than injected."""
    for r in hard_spot_results[key]:
        assert 4 <= r["delta_spot_count"] <= 9.6, r
        assert 0.015 <= r["delta_spot_area_fraction"] <= 0.05, r


@pytest.mark.xfail(strict=True, reason="known limit (docs/metrics.md): on smiling faces the cheek is smaller, so "
                   "the 8 spots are ~2 mm across and their cores (<= -5 L* after 0.25 mm smoothing) read "
                   "smaller than the disc; a spot next to a smile crease merges with it and is rejected by shape")
@pytest.mark.parametrize("key", ["021", "037", "136"])
def test_spots_on_smiling_bearded_older_faces_at_true_size(hard_spot_results, key):
    for r in hard_spot_results[key]:
        assert 0.03 <= r["delta_spot_area_fraction"] <= 0.05, r
        assert 6.4 <= r["delta_spot_count"] <= 9.6, r
