"""App: time to the first render of the demo and to a session/metric switch (AppTest).

Each first render runs in a fresh process (``bench.appchild``) with Streamlit already
imported, like a server that is up and gets its first browser session; the import of the
analyzer the app triggers is counted in the first render. Three figures:

* first start on an empty data folder: demo seeding (photos analysed) + the first page;
* first page with the demo on a seeded data folder (the usual "open the app" case);
* switches inside one session: the Review page's session photo (first visit: the aligned
  overlay is computed; revisit: cached), the Progress page's region and metrics.

With ``--quick`` the demo is a copy of sample_images/ with photos at 1/3 size.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.common import REPO, Config, Section, Target, median, spread

FIRST_PAGE_TARGET_S = 3.0
SWITCH_TARGET_S = 0.3


def _small_demo(dst: Path, scale: float = 1 / 3) -> Path:
    from PIL import Image

    src = REPO / "sample_images"
    if (dst / "series.json").exists():
        return dst
    dst.mkdir(parents=True, exist_ok=True)
    man = json.loads((src / "series.json").read_text())
    for sess in man.get("sessions", []):
        for rel in (sess.get("photos") or {}).values():
            im = Image.open(src / rel).convert("RGB")
            im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            im.save(dst / rel, quality=92)
    for f in src.iterdir():
        if f.is_file() and f.suffix in (".md", ".json"):
            shutil.copy2(f, dst / f.name)
    return dst


def _child(data_dir: Path, switches: int, env: dict, profile: bool = False) -> dict:
    p = subprocess.run([sys.executable, "-m", "bench.appchild", str(data_dir), "--switches", str(switches)]
                       + (["--profile"] if profile else []),
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
    if p.returncode != 0:
        raise RuntimeError(f"app child failed: {(p.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def run(cfg: Config, sec: Section, extras: dict) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("SKIN_PROGRESS_DATABASE_URL", None)
    root = cfg.work / "app"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    if cfg.quick:
        env["SKIN_PROGRESS_SAMPLE_DIR"] = str(_small_demo(cfg.work / "inputs" / "small_demo"))
        sec.notes.append("--quick: demo photos at 1/3 size.")
    else:
        env.pop("SKIN_PROGRESS_SAMPLE_DIR", None)
    seeded = root / "seeded"
    first = _child(seeded, 0, env)
    if first.get("exception"):
        sec.notes.append(f"Exception on the first start: {first['exception'][0]}")
    sec.add("First start on an empty data folder (demo seeding + first page)", first["first_run_s"], "s",
            note=f"seeding {first['seeding_s'] or 0:.1f} s of it (photos analysed once, stored); one run; "
            f"opens on: {', '.join(first.get('titles') or []) or '?'}")
    sec.add("Demo seeding alone (part of the first start)", first.get("seeding_s"), "s")
    runs = []
    switches = 2 if cfg.quick else 3
    for i in range(cfg.slow_runs):
        d = root / f"copy{i}"
        shutil.copytree(seeded, d)
        runs.append(_child(d, switches, env, profile=cfg.quick and cfg.profile))  # --quick: one child does both
    exc = [r["exception"] for r in runs if r.get("exception")] + [r["exception_after"] for r in runs if r.get("exception_after")]
    if exc:
        sec.notes.append(f"Exceptions in the app: {exc[0][0]}")
    fr = [r["first_run_s"] for r in runs]
    sec.add("First page with the demo (seeded data folder, fresh process)", median(fr), "s",
            Target("<=", FIRST_PAGE_TARGET_S),
            note=f"{spread(fr)}; includes importing the analyzer ({median([r['import_s'] for r in runs]):.2f} s)")
    sec.add("Open the Review page (first time in a session)", median([r["open_review_s"] for r in runs]), "s",
            note="computes the aligned overlay of the current photo")

    def sw(key):
        return [t for r in runs for t in r["switches"][key]]

    for key, name in (("review_photo_first", "Session switch on Review (photo not yet shown)"),
                      ("review_photo_again", "Session switch on Review (photo shown before)"),
                      ("progress_region", "Region switch on Progress"),
                      ("progress_metrics", "Metrics switch on Progress")):
        xs = sw(key)
        sec.add(name, median(xs) if xs else None, "s", Target("<=", SWITCH_TARGET_S), note=spread(xs) if xs else "")
    if cfg.profile:
        if cfg.quick:
            pr = runs[0].get("profile", {})
        else:  # profiled apart: the sampler must not slow the timed runs
            d = root / "profiled"
            shutil.copytree(seeded, d)
            pr = _child(d, 2, env, profile=True).get("profile", {})
        for key, what in (("first", "the first page (seeded)"), ("review_switch", "a first-visit session switch on Review")):
            r = pr.get(key)
            if r and r.get("lines"):
                sec.notes.append(f"Where {what} spends its time ({r['total_s']:.2f} s, sampled every 2 ms; share of the "
                                 "time by innermost app/analyzer line, the rest is Streamlit itself): " + "; ".join(
                                     f"{h['where']} `{h['code'][:60]}` {100 * h['share']:.0f}%" for h in r["lines"][:5]) + ".")
        extras["app_profile"] = pr
    sec.notes.append("Timed with streamlit.testing.v1.AppTest (the script run and its rendered elements; "
                     "no browser, no network).")
    extras["app"] = {"first": first, "runs": runs}
