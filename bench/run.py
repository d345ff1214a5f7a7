"""Run every benchmark and write ``bench/RESULTS.md``: ``python -m bench`` (or ``python bench/run.py``).

Options: ``--quick`` (tiny inputs, one repeat: about a minute; writes
``bench/_work/RESULTS-quick.md`` unless ``--out`` is given), ``--only speed,memory,...``,
``--out FILE``, ``--work DIR`` (generated inputs; default ``bench/_work``), ``--runs N``,
``--no-profile``. A section that fails is reported as "not measured" with its one-line error
and the others still run; the exit status is 0 unless the command line is wrong.
Benchmarks never fail for being slow.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # python bench/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BENCH_DIR, Config, Section, git_commit, load_average, machine_info  # noqa: E402

#: key -> (title, module). Order = order in RESULTS.md.
SECTIONS = {
    "speed": ("Speed: compare on a 12 MP pair", "bench.speed"),
    "memory": ("Memory: peak of one compare on 12 MP", "bench.memory"),
    "scale": ("Scale: a series of sessions x views, serial vs parallel batch", "bench.scale"),
    "reanalysis": ("Re-analysis on a Dask cluster: 1 vs 2 workers", "bench.reanalysis"),
    "accuracy": ("Accuracy: alignment and metric validity", "bench.accuracy"),
    "app": ("App: first render and session switch (AppTest)", "bench.app_bench"),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description="Run the benchmarks; write bench/RESULTS.md.")
    p.add_argument("--quick", action="store_true", help="tiny inputs and one repeat (harness check, ~1 min)")
    p.add_argument("--only", metavar="LIST", help=f"comma-separated sections out of: {', '.join(SECTIONS)}")
    p.add_argument("--out", metavar="FILE", help="Markdown output (default bench/RESULTS.md; "
                   "bench/_work/RESULTS-quick.md with --quick)")
    p.add_argument("--work", metavar="DIR", help="folder for generated inputs (default bench/_work)")
    p.add_argument("--runs", metavar="N", type=int, help="repeats of each fast measurement (default 5; 1 with --quick)")
    p.add_argument("--no-profile", action="store_true", help="skip the cProfile/sampling hot-spot profile")
    p.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    a = p.parse_args(argv)
    if a.only:
        bad = [s for s in a.only.split(",") if s.strip() not in SECTIONS]
        if bad:
            p.error(f"--only: unknown section(s) {', '.join(bad)}; allowed: {', '.join(SECTIONS)}")
    if a.runs is not None and a.runs < 1:
        p.error("--runs must be 1 or more")
    return a


def run_sections(cfg: Config, keys: list[str], *, log=print) -> tuple[list[Section], dict]:
    import importlib

    extras: dict = {"closing": []}
    out = []
    for key in keys:
        title, modname = SECTIONS[key]
        sec = Section(key, title)
        log(f"[bench] {key} ...", flush=True)
        t0 = time.perf_counter()
        try:
            mod = importlib.import_module(modname)
            mod.run(cfg, sec, extras)
        except Exception as exc:  # noqa: BLE001 - one section's failure must not lose the others
            msg = str(exc).splitlines()[0] if str(exc) else ""
            sec.error = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
            tb = traceback.format_exc()
            extras.setdefault("tracebacks", {})[key] = tb
            log(f"[bench] {key} FAILED: {sec.error}", flush=True)
        sec.seconds = time.perf_counter() - t0
        log(f"[bench] {key} done in {sec.seconds:.1f} s", flush=True)
        out.append(sec)
    return out, extras


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    cfg = Config.make(quick=a.quick, work=Path(a.work) if a.work else None, runs=a.runs)
    if a.no_profile:
        cfg.profile = False
    cfg.work.mkdir(parents=True, exist_ok=True)
    out = Path(a.out) if a.out else (cfg.work / "RESULTS-quick.md" if a.quick else BENCH_DIR / "RESULTS.md")
    keys = [s.strip() for s in a.only.split(",")] if a.only else list(SECTIONS)
    os.environ.setdefault("PYTHONHASHSEED", "0")

    from bench.report import render

    started = datetime.now(UTC)
    info = {"machine": machine_info(), "commit": git_commit(), "load_start": load_average()}
    t0 = time.perf_counter()
    sections, extras = run_sections(cfg, keys)
    info["load_end"] = load_average()
    seconds = time.perf_counter() - t0
    cmd = "python -m bench" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    md = render(sections, info=info, extras=extras, started=started, seconds=seconds, quick=cfg.quick, command=cmd)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(md)
    tmp.replace(out)
    print(f"[bench] wrote {out} in {seconds:.0f} s")
    if a.json:
        data = {
            "info": info, "quick": cfg.quick, "seconds": seconds,
            "sections": [{"key": s.key, "title": s.title, "error": s.error, "seconds": s.seconds,
                          "figures": [{"name": f.name, "value": f.value, "unit": f.unit,
                                       "target": None if f.target is None else f.target.label(f.unit),
                                       "status": f.status, "note": f.note} for f in s.figures]}
                         for s in sections],
        }
        Path(a.json).write_text(json.dumps(data, indent=1, default=str))
    for key, tb in extras.get("tracebacks", {}).items():
        print(f"[bench] traceback of {key}:\n{tb}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
