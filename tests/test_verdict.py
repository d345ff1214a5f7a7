"""The verdict of a change: lighting-robust colour measures, "can't tell" with a plain reason, and
noise bands from real repeat photos (docs/metrics.md, "Change" and "Noise bands").

Relighting and injected changes here are SIMULATED; the no-change pairs are real photos of one
unchanged face (lisa, zoom, London), without a colour chart."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analyzer.evaluation.metrics import inject_lab_shift, quantise8, region_setup, relight
from analyzer.face import detect_face
from analyzer.io import load_photo
from analyzer.metrics import (
    ABSOLUTE_COLOUR_KEYS,
    METRIC_KEYS,
    NOISE_BANDS,
    NOISE_BANDS_ACROSS,
    NOISE_BANDS_WITHIN,
    RELATIVE_COLOUR_KEYS,
    SPOT_SCALE_KEYS,
    TEXTURE_KEYS,
    measure,
    measure_photo,
    noise_band_basis,
    reference_skin,
)
from analyzer.regions import NamedROI
from analyzer.verdict import CANT_TELL_LIGHTING, CANT_TELL_NO_REFERENCE, change, refused_change


@pytest.fixture(scope="module")
def face081(london_neutral):
    rgb = quantise8(load_photo(london_neutral["081"]).rgb)
    return rgb, detect_face(rgb)


def test_relative_colour_cancels_a_change_of_light(face081):
    """SIMULATED relight (exposure, cooler gains 0.85/1/1.2 in linear RGB), measured over the same
    pixels (as compare does): absolute a* and EI move with the light, the measures relative to
    the forehead in the same photo do not (per-channel gains cancel exactly in the log ratio and
    in the von Kries balance; 8-bit rounding is left)."""
    rgb, face = face081
    for exposure, gains in ((0.7, (0.85, 1.0, 1.2)), (1.0, (0.85, 1.0, 1.2)), (1.2, (1.0, 1.0, 1.0))):
        _, b, f = _pair(rgb, face, relight(rgb, exposure=exposure, gains=gains))
        assert b.reference["region"] == "forehead" and b.reference["skin_pixels"] > 1000
        if gains != (1.0, 1.0, 1.0):
            assert abs(f.value("a_star_mean") - b.value("a_star_mean")) > 2.0
            assert abs(f.value("erythema_index_mean") - b.value("erythema_index_mean")) > 5.0
        for k, tol in (("erythema_index_vs_reference", 0.1), ("a_star_reference_balanced", 0.05),
                       ("melanin_index_vs_reference", 0.1), ("a_star_vs_reference", 0.4)):
            assert f.value(k) == pytest.approx(b.value(k), abs=tol), (exposure, gains, k)
    m = measure_photo(rgb, roi=NamedROI("left_cheek"), face=face, detect=False)
    d = json.loads(json.dumps(m.to_dict()))
    assert d["reference"]["region"] == "forehead"
    for k in RELATIVE_COLOUR_KEYS:
        g = "redness" if k in METRIC_KEYS["redness"] else "pigmentation"
        assert d[g][k] is not None
        assert d["meta"][f"{g}.{k}"]["reference_region"] == "forehead"
        assert "'forehead'" in d["meta"][f"{g}.{k}"]["method"]


def test_forehead_is_measured_against_the_chin(face081):
    rgb, face = face081
    m = measure_photo(rgb, roi=NamedROI("forehead"), face=face, detect=False)
    assert m.reference["region"] == "chin"
    m2 = measure_photo(rgb, roi=NamedROI("left_cheek"), face=face, detect=False, reference="nose")
    assert m2.reference["region"] == "nose"


def _pair(rgb, face, followup_rgb):
    s = region_setup(rgb, "left_cheek", face)
    ref = reference_skin(rgb, face, "forehead")
    kw = dict(mask=s["skin"], region_mask=s["region"], texture_scale=s["texture_scale"], px_per_mm=2.0,
              reference_mask=ref, reference_region="forehead")
    b = measure(rgb, **kw)
    f = measure(followup_rgb, baseline_quality=b.quality, **kw)
    return s, b, f


def test_verdict_absolute_colour_cant_tell_without_a_colour_reference(face081):
    """No chart in either photo: absolute colour is "can't tell" with the plain reason, whatever
    the size of the change; the relative measures carry the verdict (SIMULATED +4 a* on the cheek)."""
    rgb, face = face081
    s = region_setup(rgb, "left_cheek", face)
    red = inject_lab_shift(rgb, s["skin"], da=4.0)
    _, b, f = _pair(rgb, face, red)
    c = change(b, f)
    for k in ABSOLUTE_COLOUR_KEYS:
        rec = c[f"{'redness' if k in METRIC_KEYS['redness'] else 'pigmentation'}.{k}"]
        assert rec["within_noise"] is None and rec["verdict"] == "cant_tell"
        assert rec["verdict_reason"] == CANT_TELL_NO_REFERENCE
        assert rec["delta"] is not None  # the number stays; only the verdict is withheld
    rel = c["redness.a_star_vs_reference"]
    assert rel["within_noise"] is False and rel["verdict"] == "beyond_noise" and rel["delta"] > 3.0
    assert rel["percent"] is None and "reference" in rel["reason"]
    assert c["redness.a_star_reference_balanced"]["within_noise"] is False
    assert c["redness.a_star_reference_balanced"]["delta"] > 2.5
    assert c["redness.a_star_reference_balanced"]["noise_band_basis"] == noise_band_basis("a_star_reference_balanced")
    assert c["texture.roughness"]["within_noise"] is True


def test_verdict_lighting_mismatch_words(face081):
    """SIMULATED relight: the follow-up's lighting differs, no chart: the issue's words, and the
    relative measures still say "within noise" (nothing changed on the skin)."""
    rgb, face = face081
    _, b, f = _pair(rgb, face, relight(rgb))
    assert f.quality["lighting_differs"] is True
    c = change(b, f)
    assert c["redness.a_star_mean"]["verdict_reason"] == CANT_TELL_LIGHTING
    assert "hold the grey card by the cheek" in CANT_TELL_LIGHTING
    for k in ("redness.a_star_reference_balanced", "redness.erythema_index_vs_reference",
              "redness.a_star_vs_reference"):
        assert c[k]["within_noise"] is True, (k, c[k])


def test_verdict_spatial_measures_across_a_resolution_mismatch(face081):
    rgb, face = face081
    _, b, f = _pair(rgb, face, rgb)
    c = change(b, f, native_px_per_mm=(1.4, 3.0))  # lisa2-like against a London photo
    for k in (*SPOT_SCALE_KEYS, *TEXTURE_KEYS):
        g = "pigmentation" if k in SPOT_SCALE_KEYS else "texture"
        assert c[f"{g}.{k}"]["within_noise"] is None and "px/mm" in c[f"{g}.{k}"]["verdict_reason"]
    c = change(b, f, native_px_per_mm=(3.0, 3.3))  # both reduced to 2 px/mm; spots 3.0 vs 3.3 (< 1.25x)
    assert c["texture.roughness"]["within_noise"] is True
    assert c["pigmentation.spot_count"]["within_noise"] is True


def test_refused_alignment_change_is_cant_tell():
    c = refused_change("alignment refused: not the same person")
    for g, keys in METRIC_KEYS.items():
        for k in keys:
            rec = c[f"{g}.{k}"]
            assert rec["delta"] is None and rec["within_noise"] is None
            assert rec["verdict_reason"].startswith("can't tell: alignment refused")


def test_noise_bands_cover_every_measure_and_say_where_they_come_from():
    for keys in METRIC_KEYS.values():
        for k in keys:
            assert k in NOISE_BANDS and NOISE_BANDS[k] > 0, k
            assert noise_band_basis(k)
            if k not in ABSOLUTE_COLOUR_KEYS:
                assert NOISE_BANDS[k] == max(NOISE_BANDS_WITHIN[k], NOISE_BANDS_ACROSS[k])
    assert "London" in noise_band_basis("a_star_mean") and "calibrated" in noise_band_basis("a_star_mean")
    assert "lisa <-> zoom" in noise_band_basis("a_star_reference_balanced")


def test_reference_skin_mask_is_skin_in_the_region(face081):
    rgb, face = face081
    m = reference_skin(rgb, face, "forehead")
    assert m.dtype == bool and m.shape == rgb.shape[:2] and 2000 < m.sum() < 0.2 * m.size
    assert np.nonzero(m)[0].max() < min(face.left_eye[1], face.right_eye[1])  # above the eyes
