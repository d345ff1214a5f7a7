"""The command line's error contract: unusable input → exit 2, one line ``error: …``, no traceback."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.update(env or {})
    e.pop("SKIN_PROGRESS_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "analyzer", *args], capture_output=True, text=True, cwd=REPO, env=e, timeout=120
    )


def assert_usage_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    for f in fragments:
        assert f in lines[0], (f, lines[0])


@pytest.fixture(scope="module")
def small_jpeg(tmp_path_factory, lisa_paths) -> str:
    p = tmp_path_factory.mktemp("cli") / "small.jpg"
    Image.open(lisa_paths[0]).convert("RGB").resize((150, 200)).save(p, quality=90)
    return str(p)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, small_jpeg):
    d = tmp_path_factory.mktemp("bad")
    (d / "empty.jpg").write_bytes(b"")
    data = open(small_jpeg, "rb").read()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (d / "letter.jpg").write_text("Dear patient, ...\n" * 30)
    buf = io.BytesIO()
    Image.fromarray(np.zeros((2000, 2000, 3), np.uint8)).save(buf, format="PNG")
    (d / "huge.png").write_bytes(buf.getvalue())
    return d


@pytest.mark.parametrize("command", ["metrics", "align", "compare"])
@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("missing.jpg", "file not found"),
        ("empty.jpg", "file is empty"),
        ("truncated.jpg", "truncated or damaged"),
        ("letter.jpg", "not an image file"),
        ("huge.png", "too large"),
    ],
)
def test_unusable_input_exits_2(command, name, fragment, bad_files, small_jpeg):
    bad = str(bad_files / name)
    args = [bad] if command == "metrics" else [small_jpeg, bad]
    proc = run_cli(command, *args, "--json", env={"SKIN_PROGRESS_MAX_PIXELS": "1000000"})
    assert_usage_error(proc, name, fragment)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["metrics", "{img}", "--roi", "1,2,3"], "--roi"),
        (["metrics", "{img}", "--roi", "a,b,c,d"], "--roi"),
        (["metrics", "{img}", "--roi", "10,10,-5,20"], "--roi"),
        (["metrics", "{img}", "--roi", "100,100,500,500"], "outside"),
        (["compare", "{img}", "{img}", "--roi", "0,0,0,0"], "--roi"),
        (["metrics", "{img}", "--reference", "0,0,1,1"], "reference patch"),
        (["metrics", "{img}", "--reference", "100,100,500,500"], "--reference"),
        (["compare", "{img}", "{img}", "--reference-followup", "left_cheek"], "--reference-followup"),
        (["metrics"], "IMAGE"),
        (["frobnicate"], "frobnicate"),
        (["metrics", "{img}", "--no-such-option"], "--no-such-option"),
    ],
)
def test_malformed_options_exit_2(args, fragment, small_jpeg):
    proc = run_cli(*[a.replace("{img}", small_jpeg) for a in args])
    assert_usage_error(proc, fragment)


def test_help_exits_0():
    proc = run_cli("--help")
    assert proc.returncode == 0
    assert "metrics" in proc.stdout and "compare" in proc.stdout
