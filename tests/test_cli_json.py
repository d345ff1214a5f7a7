"""The command line's JSON contract, run as a user runs it, on real photos."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from tests.test_cli_errors import run_cli

METRIC_KEYS = {
    "redness": {"a_star_mean", "erythema_index_mean", "red_area_fraction"},
    "pigmentation": {
        "L_star_mean",
        "ita_deg_mean",
        "melanin_index_mean",
        "spot_area_fraction",
        "spot_count",
        "tone_unevenness",
    },
    "texture": {"roughness", "pore_density", "wrinkle_density", "glcm_contrast", "glcm_homogeneity"},
}
ALIGN_KEYS = {"matrix", "ok", "confidence", "method", "residual_px", "overlap", "reason"}


def _json(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "" or "warning" in proc.stderr.lower(), proc.stderr
    return json.loads(proc.stdout)


def assert_metric_groups(d: dict) -> None:
    for group, keys in METRIC_KEYS.items():
        assert set(d[group]) >= keys, (group, set(d[group]))
        for k in keys:
            v = d[group][k]
            meta = d["meta"][f"{group}.{k}"]
            assert meta["unit"] is not None and meta["method"], (group, k, meta)
            if v is None:
                assert meta.get("reason"), f"{group}.{k} is null without a reason"
            else:
                assert isinstance(v, (int, float)) and math.isfinite(v)
    assert d["calibration"]["method"] in {"colorchecker", "reference-patch", "none"}
    assert 0.0 < d["skin_fraction"] <= 1.0
    assert isinstance(d["quality"], dict)
    assert d["analyzer_version"]


def test_metrics_json(lisa_paths):
    d = _json(run_cli("metrics", str(lisa_paths[0]), "--json"))
    assert d["image"] == {"width": 600, "height": 800}
    assert_metric_groups(d)
    # No chart in a selfie: the answer says so plainly.
    assert d["calibration"]["method"] == "none"
    assert "lighting" in d["calibration"]["message"].lower()
    # Texture normalised by face size, and the scale used is reported.
    assert d["scale"]


def test_metrics_json_with_roi(lisa_paths):
    d = _json(run_cli("metrics", str(lisa_paths[0]), "--roi", "200,380,120,100", "--json"))
    assert d["image"] == {"width": 600, "height": 800}
    assert_metric_groups(d)


def test_metrics_human_summary(lisa_paths):
    proc = run_cli("metrics", str(lisa_paths[0]))
    assert proc.returncode == 0, proc.stderr
    assert "lisa1.jpg: 600x800" in proc.stdout
    assert "redness:" in proc.stdout and "texture:" in proc.stdout


def test_metrics_summary_prints_the_charts_residual(charts_dir):
    """The human summary prints the fitted chart's mean CIEDE2000 residual: the number the JSON
    carries as calibration.residual_delta_e2000 (it printed "n/a" when it read another key)."""
    path = str(charts_dir / "classic.png")
    d = _json(run_cli("metrics", path, "--json"))
    assert d["calibration"]["method"] == "colorchecker"
    residual = d["calibration"]["residual_delta_e2000"]
    assert residual is not None and 0 < residual < 10
    proc = run_cli("metrics", path)
    assert proc.returncode == 0, proc.stderr
    assert f"calibration: colorchecker (residual dE2000 {residual:.2f})" in proc.stdout
    assert "n/a)" not in proc.stdout


def test_align_json_and_aligned_png(tmp_path, zoom_paths):
    out = tmp_path / "aligned.png"
    d = _json(run_cli("align", str(zoom_paths[1]), str(zoom_paths[2]), "--out", str(out), "--json"))
    assert set(d) >= ALIGN_KEYS | {"image"}
    assert d["image"] == {
        "baseline": {"width": 1152, "height": 1536},
        "followup": {"width": 1152, "height": 1536},
    }
    m = np.array(d["matrix"])
    assert m.shape == (3, 3)
    assert d["ok"] is True and d["reason"] is None
    assert 0.0 <= d["confidence"] <= 1.0
    # 45 cm vs 30 cm: the face is smaller in the follow-up, so the mapping enlarges it.
    scale = math.sqrt(abs(np.linalg.det(m[:2, :2])))
    assert 1.1 < scale < 1.5
    img = Image.open(out)
    assert img.size == (1152, 1536)


def test_align_refusal_is_json_not_error(london_neutral):
    d = _json(run_cli("align", str(london_neutral["021"]), str(london_neutral["081"]), "--json"))
    assert d["ok"] is False
    assert d["reason"]


def test_compare_json(tmp_path, zoom_paths):
    out_dir = tmp_path / "cmp"
    d = _json(run_cli("compare", str(zoom_paths[1]), str(zoom_paths[2]), "--roi", "forehead",
                      "--out-dir", str(out_dir), "--json"))
    assert d["image"]["baseline"] == {"width": 1152, "height": 1536}
    assert d["image"]["followup"] == {"width": 1152, "height": 1536}
    assert set(d["alignment"]) >= ALIGN_KEYS
    assert d["alignment"]["ok"] is True
    assert_metric_groups(d["baseline"])
    assert_metric_groups(d["followup"])
    for group, keys in METRIC_KEYS.items():
        for k in keys:
            c = d["change"][f"{group}.{k}"]
            b, f = d["baseline"][group][k], d["followup"][group][k]
            if b is not None and f is not None:
                assert c["delta"] == pytest.approx(f - b, abs=1e-6)
    assert (out_dir / "aligned.png").exists() and (out_dir / "compare.json").exists()
    assert json.loads((out_dir / "compare.json").read_text())["region"] == "forehead"


def test_compare_rect_roi_human_summary(zoom_paths):
    proc = run_cli("compare", str(zoom_paths[1]), str(zoom_paths[2]), "--roi", "430,560,300,200")
    assert proc.returncode == 0, proc.stderr
    assert "alignment ok" in proc.stdout
    assert "change (follow-up minus baseline)" in proc.stdout
