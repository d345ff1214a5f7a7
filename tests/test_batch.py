"""Batch analysis of a session folder: real photos, one corrupt file, parallel workers, CLI exit codes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from analyzer.batch import discover_sessions, run_batch
from analyzer.cli import main
from analyzer.errors import UsageError
from analyzer.export import TIDY_COLUMNS, read_csv_rows

REPO = Path(__file__).resolve().parents[1]

#: The known warp of session 2: 4 degrees, scale 0.95, shift (12, -8) px.
ANGLE, SCALE, SHIFT = 4.0, 0.95, (12.0, -8.0)


def _warped_copy(src: Path, dst: Path) -> None:
    """``src`` rotated/scaled/shifted by a known similarity (a re-posed photo of unchanged skin)."""
    rgb = np.asarray(Image.open(src).convert("RGB"))
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), ANGLE, SCALE)
    m[:, 2] += SHIFT
    out = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    Image.fromarray(out).save(dst, quality=95)


@pytest.fixture(scope="module")
def batch_folder(tmp_path_factory, lisa_paths) -> Path:
    """3 sessions x front (lisa1; lisa1 re-posed by a known warp; lisa2) + a corrupt left45.jpg."""
    root = tmp_path_factory.mktemp("batch") / "patient-A"
    for d in ("2026-01-15", "2026-02-12", "2026-03-12"):
        (root / d).mkdir(parents=True)
    (root / "2026-01-15" / "front.jpg").write_bytes(lisa_paths[0].read_bytes())
    _warped_copy(lisa_paths[0], root / "2026-02-12" / "front.jpg")
    (root / "2026-03-12" / "front.jpg").write_bytes(lisa_paths[1].read_bytes())
    # Corrupt: the first 4 kB of a real JPEG (a truncated upload).
    (root / "2026-03-12" / "left45.jpg").write_bytes(lisa_paths[3].read_bytes()[:4000])
    (root / "2026-03-12" / "notes.txt").write_text("not a photo: ignored")
    return root


@pytest.fixture(scope="module")
def batch_run(batch_folder, tmp_path_factory):
    """The real command line, in a child process, with 2 workers."""
    out = tmp_path_factory.mktemp("batch-out")
    proc = subprocess.run(
        [sys.executable, "-m", "analyzer", "batch", str(batch_folder), "--out", str(out), "--workers", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    return proc, out


def test_batch_analyses_good_photos_and_reports_the_corrupt_one(batch_run):
    proc, out = batch_run
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    failed = [ln for ln in proc.stderr.splitlines() if ln.startswith("FAILED")]
    assert len(failed) == 1, proc.stderr
    assert failed[0].startswith("FAILED 2026-03-12/left45.jpg: ")
    assert "truncated" in failed[0] or "damaged" in failed[0]
    assert "analysed 3 photo(s) in 3 session(s)" in proc.stdout
    for name in ("results.csv", "results.json", "report.pdf"):
        assert (out / name).stat().st_size > 0

    rows = read_csv_rows(out / "results.csv")
    assert {r["view"] for r in rows} == {"front"}  # nothing from the corrupt file
    by_session = {}
    for r in rows:
        by_session.setdefault((r["session_index"], r["session_date"]), []).append(r)
    assert sorted(by_session) == [(1, "2026-01-15"), (2, "2026-02-12"), (3, "2026-03-12")]  # as the app numbers
    n_metrics = len(by_session[(1, "2026-01-15")])
    assert n_metrics == 19  # the contract's metric keys (0.3.0: 14 + 5 relative to reference skin)
    assert all(len(v) == n_metrics for v in by_session.values())

    doc = json.loads((out / "results.json").read_text())
    assert doc["failures"] == [
        {"session": "2026-03-12", "view": "left45", "file": "2026-03-12/left45.jpg", "error": doc["failures"][0]["error"]}
    ]
    assert [s["name"] for s in doc["source"]["sessions"]] == ["2026-01-15", "2026-02-12", "2026-03-12"]


def test_batch_known_warp_aligns_and_shows_no_change(batch_run):
    """Session 2 is the baseline photo re-posed by a known warp: aligned, and colour unchanged."""
    _, out = batch_run
    rows = read_csv_rows(out / "results.csv")
    s1 = {r["metric"]: r for r in rows if r["session_index"] == 2}
    assert s1["redness.a_star_mean"]["alignment_ok"] is True
    assert math.isfinite(s1["redness.a_star_mean"]["value"])
    # Same skin, only moved: the paired change is near zero (known answer), not just "a number".
    assert abs(s1["redness.a_star_mean"]["change"]) < 0.5
    assert abs(s1["pigmentation.L_star_mean"]["change"]) < 0.8
    # The stored transform maps follow-up xy to baseline xy: it inverts the known warp.
    doc = json.loads((out / "results.json").read_text())
    photo = next(p for p in doc["photos"] if p["session_index"] == 1)
    m = np.asarray(photo["transform"])
    h, w = 800, 600
    fwd = cv2.getRotationMatrix2D((w / 2, h / 2), ANGLE, SCALE)
    fwd[:, 2] += SHIFT
    pts = np.array([[200.0, 300.0], [400.0, 500.0], [300.0, 250.0]])
    moved = pts @ fwd[:, :2].T + fwd[:, 2]
    back = np.c_[moved, np.ones(3)] @ m.T
    back = back[:, :2] / back[:, 2:]
    np.testing.assert_allclose(back, pts, atol=3.0)


def test_batch_unaligned_or_refused_photo_has_reason_not_zero(batch_run):
    """Session 3 (another real selfie) either aligns (finite values) or has NaN values with a reason."""
    _, out = batch_run
    rows = [r for r in read_csv_rows(out / "results.csv") if r["session_index"] == 3]
    assert rows
    for r in rows:
        if r["alignment_ok"]:
            continue
        assert r["value"] is None and r["reason"], r
        assert r["change"] is None


def test_batch_serial_equals_parallel(batch_folder, batch_run):
    _, out = batch_run
    parallel = read_csv_rows(out / "results.csv")
    serial = run_batch(batch_folder, workers=1, write=False)
    assert [f.file for f in serial.failures] == ["left45.jpg"]
    cols = [c for c in TIDY_COLUMNS if c not in ("value", "change", "percent", "noise_band")]
    assert [[r[c] for c in cols] for r in serial.rows] == [[r[c] for c in cols] for r in parallel]
    for a, b in zip(serial.rows, parallel, strict=True):
        for c in ("value", "change", "percent"):
            if a[c] is None:
                assert b[c] is None
            else:
                assert b[c] == pytest.approx(a[c], rel=1e-9, abs=1e-12)


def test_report_from_batch_json_cli(batch_run, tmp_path):
    _, out = batch_run
    pdf_path = tmp_path / "again.pdf"
    rc = main(["report", str(out / "results.json"), "--out", str(pdf_path)])
    assert rc == 0
    from pypdf import PdfReader

    reader = PdfReader(pdf_path)
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "patient-A" in text and "2026-03-12" in text
    assert any(len(p.images) == 2 for p in reader.pages)  # baseline + latest aligned
    assert "left45.jpg" in text  # the failure is listed in the report


# --------------------------------------------------------------------------- discovery / usage


def _touch_photo(p: Path) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (200, 150, 130)).save(p)


def test_sessions_order_by_date_else_natural_name(tmp_path):
    a = tmp_path / "a"
    for d in ("2026-03-01", "2026-01-15_baseline", "2026-02-01"):
        _touch_photo(a / d / "front.jpg")
    sessions, problems = discover_sessions(a)
    assert [s.name for s in sessions] == ["2026-01-15_baseline", "2026-02-01", "2026-03-01"]
    assert sessions[0].date == "2026-01-15" and not problems

    b = tmp_path / "b"
    for d in ("session10", "session2", "session1"):
        _touch_photo(b / d / "Front.PNG")
    sessions, _ = discover_sessions(b)
    assert [s.name for s in sessions] == ["session1", "session2", "session10"]
    assert [s.label for s in sessions] == ["session1", "session2", "session10"]
    assert list(sessions[0].photos) == ["front"]


def test_duplicate_view_in_a_session_is_reported(tmp_path):
    _touch_photo(tmp_path / "2026-01-01" / "front.jpg")
    _touch_photo(tmp_path / "2026-01-01" / "front.png")
    sessions, problems = discover_sessions(tmp_path)
    assert len(sessions[0].photos) == 1
    assert len(problems) == 1 and "two photos of view 'front'" in problems[0].error


@pytest.mark.parametrize("make", ["missing", "file", "empty", "loose"])
def test_bad_folder_is_a_usage_error_exit_2(tmp_path, capsys, make):
    target = tmp_path / "x"
    if make == "file":
        target.write_text("hi")
    elif make == "empty":
        (target / "2026-01-01").mkdir(parents=True)
    elif make == "loose":
        _touch_photo(target / "front.jpg")
    with pytest.raises(UsageError):
        run_batch(target, write=False)
    assert main(["batch", str(target), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_bad_roi_or_workers_is_a_usage_error(tmp_path, capsys):
    _touch_photo(tmp_path / "2026-01-01" / "front.jpg")
    assert main(["batch", str(tmp_path), "--roi", "1,2,3", "--no-progress"]) == 2
    assert "--roi" in capsys.readouterr().err
    assert main(["batch", str(tmp_path), "--workers", "0", "--no-progress"]) == 2
    assert "--workers" in capsys.readouterr().err


# --------------------------------------------------------------------------- demo series (known answers)


def test_batch_on_demo_series_measures_and_labels_the_simulated_changes(tmp_path):
    """sample_images: sessions 3/4 are session 1's source photo, re-posed, with a* lowered by 2 and 3.

    series.json marks them simulated. The batch must find the injected change at its true size
    and label exactly those sessions "simulated" in the rows and the PDF.
    """
    demo = REPO / "sample_images"
    manifest = json.loads((demo / "series.json").read_text())
    sim = {s["date"]: s["simulated"]["delta_a_star"] for s in manifest["sessions"] if s.get("simulated")}
    assert sim == {"2026-03-11": -2.0, "2026-04-08": -3.0}
    res = run_batch(demo, out_dir=tmp_path, progress=False)
    assert res.ok and len(res.photos) == 4
    rows = read_csv_rows(tmp_path / "results.csv")
    a = {r["session_date"]: r for r in rows if r["metric"] == "redness.a_star_mean"}
    assert {d for d, r in a.items() if r["simulated"]} == set(sim)
    assert {r["patient_code"] for r in rows} == {manifest["patient"]["code"]}
    assert all(a[d]["alignment_ok"] for d in a if d != "2026-01-14")
    # Sessions 3 and 4 have the baseline's source photo, re-posed: their change is the injected one.
    assert a["2026-03-11"]["change"] == pytest.approx(-2.0, abs=0.5)
    assert a["2026-04-08"]["change"] == pytest.approx(-3.0, abs=0.6)

    from pypdf import PdfReader

    reader = PdfReader(tmp_path / "report.pdf")
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "SIMULATED" in reader.pages[0].extract_text()
    assert manifest["patient"]["display_name"] in reader.pages[0].extract_text()
    assert "2026-03-11 (simulated)" in text and "2026-04-08 (simulated)" in text
    assert "2026-02-11 (simulated)" not in text


def test_progress_bar_draws_only_when_enabled():
    import io as _io

    from analyzer.batch import _Progress

    buf = _io.StringIO()
    bar = _Progress(3, True, stream=buf)
    for name in ("a/front.jpg", "b/front.jpg", "c/front.jpg"):
        bar.step(name)
    bar.close()
    out = buf.getvalue()
    assert out.count("\r[") == 3 and "3/3 photos" in out and "c/front.jpg" in out
    assert "\n" not in out  # one line, redrawn in place
    quiet = _io.StringIO()
    bar = _Progress(3, False, stream=quiet)
    bar.step("x")
    bar.close()
    assert quiet.getvalue() == ""


@pytest.mark.parametrize("workers", [1, 2])
def test_corrupt_baseline_fails_its_view_only(tmp_path, lisa_paths, workers):
    root = tmp_path / "p"
    (root / "2026-01-01").mkdir(parents=True)
    (root / "2026-02-01").mkdir(parents=True)
    (root / "2026-01-01" / "front.jpg").write_bytes(b"not a jpeg at all")
    (root / "2026-02-01" / "front.jpg").write_bytes(lisa_paths[0].read_bytes())
    res = run_batch(root, workers=workers, write=False)
    assert [(f.session, f.file) for f in res.failures] == [("2026-01-01", "front.jpg"), ("2026-02-01", "front.jpg")]
    assert "not an image" in res.failures[0].error
    assert res.failures[1].error == "not analysed: its baseline 2026-01-01/front.jpg failed"
    assert res.rows == [] and not res.ok
