"""Peak resident memory of one comparison on the 12 MP pair, each run in a fresh process."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

from bench.common import REPO, Config, Section, Target, median
from bench.inputs import make_pair

PEAK_TARGET_MIB = 700.0


def run(cfg: Config, sec: Section, extras: dict) -> None:
    base, fol = make_pair(cfg.work / "inputs", size=cfg.pair_size)
    results = []
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for _ in range(cfg.slow_runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        p = subprocess.run([sys.executable, "-m", "bench.memchild", str(base), str(fol)], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"memory child failed: {(p.stderr.strip().splitlines() or ['?'])[-1]}")
        r = json.loads(p.stdout.strip().splitlines()[-1])
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        r["parent_view_mib"] = after / 1024.0 if after > before else None
        results.append(r)
    peak = median([r["peak_mib"] for r in results])
    extras["memory"] = results
    sec.notes.append(
        f"{len(results)} fresh process(es), each: import, load both {cfg.pair_mp:.1f} MP JPEGs, one compare(). "
        "Peak = kernel high-water mark of resident memory (VmHWM)."
    )
    sec.add("Peak resident memory of one compare (load + compare)", peak, "MiB", Target("<=", PEAK_TARGET_MIB),
            note=", ".join(f"{r['peak_mib']:.0f}" for r in results) + " MiB per run", digits=0)
    sec.add("Resident memory after imports (before any photo)", median([r["rss_after_imports_mib"] for r in results]),
            "MiB", digits=0)
    sec.add("Resident memory with both photos loaded", median([r["rss_after_load_mib"] for r in results]), "MiB",
            note="two float32 RGB images are 12 bytes per pixel each", digits=0)
    where = results[0].get("peak_where") if results else None
    if where:
        sec.notes.append(f"Highest resident memory seen by a 2 ms sampler ({results[0]['sampled_peak_mib']:.0f} MiB) "
                         "while running: " + " <- ".join(where) + ".")
        extras.setdefault("closing", []).append(
            f"The memory peak ({results[0]['sampled_peak_mib']:.0f} MiB sampled) is reached at " + " <- ".join(where) + ".")
    p = subprocess.run([sys.executable, "-m", "bench.memchild", "--trace", str(base), str(fol)], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=600)
    if p.returncode == 0:
        tr = json.loads(p.stdout.strip().splitlines()[-1])
        extras["memory_trace"] = tr
        sec.notes.append(
            f"Largest live allocations when traced memory was highest ({tr['snapshot_mib']:.0f} MiB of NumPy/OpenCV "
            f"buffers traced, separate run with tracemalloc): " + "; ".join(
                f"{t['where']} `{t['code'][:60]}` {t['mib']:.0f} MiB" for t in tr["top"][:6]) + ".")
    else:
        sec.notes.append("tracemalloc run failed: " + ((p.stderr.strip().splitlines() or ["?"])[-1]))
    if results and results[0].get("per_stage"):
        stages = results[0]["stages"]
        for name, s in sorted(stages.items(), key=lambda kv: -kv[1]["peak_mib"]):
            sec.add(f"Peak inside stage: {name}", median([r["stages"].get(name, {}).get("peak_mib") for r in results]),
                    "MiB", note=f"rises {s['rise_mib']:.0f} MiB above the memory at the stage's start", digits=0)
    else:
        sec.notes.append("Per-stage peaks not available here (/proc/self/clear_refs not writable).")
