"""Child process of the app bench: ``python -m bench.appchild DATA_DIR [--switches N]``.

Imports Streamlit's AppTest first (the server being up), then times the first run of
``app.py`` on the data folder given (``SKIN_PROGRESS_DATA_DIR``): on an empty folder that
includes seeding the demo patient, timed on its own by wrapping ``service.ensure_demo``.
With ``--switches N`` it then times N switches of the Review page's session photo (each
session photo once: the first visit, then again: a revisit) and of the Progress page's
region and metrics. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def pages_dir() -> str:
    """The folder of the page files next to app.py (``pages`` today, maybe renamed later)."""
    for d in sorted(REPO.iterdir()):
        if d.is_dir() and (d / "review.py").exists() and (d / "progress.py").exists():
            return d.name
    return "pages"


def _t(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir")
    ap.add_argument("--switches", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--profile", action="store_true", help="cProfile the first render and a first-visit switch")
    a = ap.parse_args(argv)
    os.environ["SKIN_PROGRESS_DATA_DIR"] = a.data_dir
    os.environ.pop("SKIN_PROGRESS_DATABASE_URL", None)
    os.chdir(REPO)
    sys.path.insert(0, str(REPO))
    from streamlit.testing.v1 import AppTest  # the "server": Streamlit loaded, the app not yet run

    out: dict = {}
    seeding = []
    t0 = time.perf_counter()
    from analyzer import service  # wrapped so the seeding's share of the first run is known

    import_s = time.perf_counter() - t0  # the app's first run would import it: added to first_run_s

    orig = service.ensure_demo

    def timed_seed(*args, **kw):
        t = time.perf_counter()
        try:
            return orig(*args, **kw)
        finally:
            seeding.append(time.perf_counter() - t)

    service.ensure_demo = timed_seed
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=a.timeout)
    prof = None
    if a.profile:  # AppTest runs the script in its own thread: a sampling profiler over all threads
        from bench.profiling import APP_PREFIXES, sample_lines

        def prof(fn):
            r = sample_lines(fn, prefixes=APP_PREFIXES, all_threads=True, n=8, interval=0.002)
            return {"total_s": r["total_s"], "lines": r["lines"], "outside": r["outside_analyzer_share"]}

        out["profile"] = {"first": prof(at.run)}
        out["first_run_s"] = out["profile"]["first"]["total_s"] + import_s
    else:
        out["first_run_s"] = _t(at.run) + import_s
    out["import_s"] = import_s
    out["seeding_s"] = sum(seeding) if seeding else None
    out["exception"] = [str(e.value)[:200] for e in at.exception] if at.exception else None
    out["titles"] = [t.value for t in at.title]
    if a.switches:
        pages = pages_dir()
        sw: dict[str, list[float]] = {"review_photo_first": [], "review_photo_again": [], "progress_region": [],
                                      "progress_metrics": []}
        out["open_review_s"] = _t(lambda: at.switch_page(f"{pages}/review.py").run())
        n = len(at.selectbox(key="review_photo").options)
        cur = at.selectbox(key="review_photo").index or 0
        others = [i for i in range(n) if i != cur][: a.switches]
        for k, i in enumerate(others):  # first visit of each session photo
            if prof and k == 0:
                out["profile"]["review_switch"] = prof(
                    lambda i=i: at.selectbox(key="review_photo").select_index(i).run())
                continue
            sw["review_photo_first"].append(_t(lambda i=i: at.selectbox(key="review_photo").select_index(i).run()))
        for i in ([cur] + others)[: a.switches]:  # back to photos already shown
            sw["review_photo_again"].append(_t(lambda i=i: at.selectbox(key="review_photo").select_index(i).run()))
        out["review_options"] = n
        at.switch_page(f"{pages}/progress.py").run()
        nr = len(at.selectbox(key="pg_region").options)
        for k in range(a.switches):
            sw["progress_region"].append(
                _t(lambda k=k: at.selectbox(key="pg_region").select_index((k + 1) % nr).run()))
        full = list(at.multiselect(key="pg_metrics").value)
        for k in range(a.switches):
            pick = full[:1] if k % 2 == 0 else full
            sw["progress_metrics"].append(_t(lambda p=pick: at.multiselect(key="pg_metrics").set_value(p).run()))
        out["switches"] = sw
        out["exception_after"] = [str(e.value)[:200] for e in at.exception] if at.exception else None
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
