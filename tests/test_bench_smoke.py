"""The bench harness runs end to end (``python -m bench --quick``) and writes well-formed tables.

Speed is never asserted here: benchmarks report targets, they don't fail for being slow.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STATUSES = {"met", "NOT MET", "info", "not measured"}
SECTION_TITLES = ("Speed", "Memory", "Scale", "Re-analysis on a Dask cluster", "Accuracy", "App")


def _cells(line: str) -> list[str]:
    """Cells of a Markdown table row (``\\|`` is a literal pipe inside a cell)."""
    body = line.strip()
    assert body.startswith("|") and body.endswith("|"), line
    return [c.strip() for c in re.split(r"(?<!\\)\|", body[1:-1])]


def _tables(md: str) -> list[list[list[str]]]:
    tables, cur = [], None
    for line in md.splitlines():
        if line.startswith("|"):
            if cur is None:
                cur = []
                tables.append(cur)
            cur.append(_cells(line))
        else:
            cur = None
    return tables


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, photos_dir):
    tmp = tmp_path_factory.mktemp("bench")
    out, js = tmp / "RESULTS.md", tmp / "results.json"
    results = REPO / "bench" / "RESULTS.md"
    before = results.stat().st_mtime_ns if results.exists() else None
    env = dict(os.environ, SKIN_PROGRESS_PHOTOS=str(photos_dir))
    env.pop("SKIN_PROGRESS_DATABASE_URL", None)
    p = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out), "--work", str(tmp / "work"), "--json", str(js)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )
    after = results.stat().st_mtime_ns if results.exists() else None
    return {"proc": p, "md": out.read_text() if out.exists() else "", "json": js, "results_untouched": before == after}


def test_quick_bench_runs_and_writes_results(quick_run):
    p = quick_run["proc"]
    assert p.returncode == 0, p.stderr[-2000:]
    md = quick_run["md"]
    assert md.startswith("# Bench results")
    assert "--quick run" in md
    for key in ("- Machine: ", "- Versions: python", "- Date: ", "- Commit: ", "- Load average"):
        assert key in md, key
    commit = re.search(r"^- Commit: (\S+)", md, re.M).group(1)
    assert re.fullmatch(r"[0-9a-f]{4,40}(\+dirty)?|unknown", commit), commit
    assert quick_run["results_untouched"], "--quick must not overwrite bench/RESULTS.md"


def test_every_section_ran_and_every_target_was_measured(quick_run):
    data = json.loads(quick_run["json"].read_text())
    secs = data["sections"]
    assert [s["title"].split(":")[0] for s in secs] == list(SECTION_TITLES)
    for s in secs:
        assert s["error"] is None, (s["title"], s["error"], quick_run["proc"].stderr[-1500:])
        assert s["figures"], s["title"]
        targeted = [f for f in s["figures"] if f["target"] is not None]
        assert targeted, f"{s['title']}: no figure held to a target"
        for f in s["figures"]:
            assert f["status"] in STATUSES
            if f["target"] is not None:
                assert f["status"] in ("met", "NOT MET"), (s["title"], f)
                assert isinstance(f["value"], (int, float)) and math.isfinite(f["value"]), f
    names = " / ".join(f["name"] for s in secs for f in s["figures"])
    for must in ("Decode floor", "Whole comparison", "Stage: align", "Stage: calibrate", "Stage: metrics",
                 "Peak resident memory", "time per photo", "speed-up", "synthetic warps", "landmark pairs",
                 "different people", "a* shift", "relighting", "Noise floor", "First page with the demo",
                 "Session switch"):
        assert must in names, must


def test_tables_are_well_formed(quick_run):
    md = quick_run["md"]
    tables = _tables(md)
    assert len(tables) >= 1 + len(SECTION_TITLES) + 3  # summary, sections, three hot-spot tables
    for t in tables:
        header, sep, *rows = t
        assert all(re.fullmatch(r"-{3,}", c) for c in sep), sep
        assert rows, header
        for r in rows:
            assert len(r) == len(header), (header, r)
        if header == ["Figure", "Value", "Target", "Status", "Notes"]:
            for r in rows:
                assert r[3] in STATUSES, r
                assert (r[2] == "-") == (r[3] == "info"), r  # a target exactly when a verdict
    summary = tables[0]
    assert summary[0][:2] == ["Section", "Targets met"]
    for r in summary[2:]:
        met, total = map(int, r[1].split("/"))
        assert 0 <= met <= total
    hot = md.split("## Hot spots", 1)[1]
    assert re.search(r"analyzer/\w+\.py:\d+ \w+", hot), "hot spots name analyzer functions by file:line"
    assert "## Closing note" in md and "Targets met:" in md.split("## Closing note", 1)[1]


def test_target_verdicts_and_table_cells():
    """Verdicts follow the bound; a NaN is 'not measured', never met; pipes in a cell stay one cell."""
    from bench.common import Figure, Target
    from bench.report import table

    le, ge = Target("<=", 1.5), Target(">=", 0.98)
    assert le.met(1.5) is True and le.met(1.51) is False
    assert ge.met(0.98) is True and ge.met(0.97) is False
    assert le.met(float("nan")) is None and le.met(None) is None
    assert Figure("s", "x", float("nan"), "s", le).status == "not measured"
    assert Figure("s", "x", 2.0, "s", le).status == "NOT MET"
    assert Figure("s", "x", 2.0, "s", None).status == "info"
    assert Figure("s", "x", 2.0, "s", None).value_text() == "2 s"
    rows = table([("a | b", "1", "-", "info", "x|y")])
    assert len(_cells(rows[2])) == 5 and _cells(rows[2])[0] == "a \\| b"
