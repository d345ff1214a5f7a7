"""Where the time goes: cProfile by function and a sampling profiler by source line.

* :func:`cprofile_top` - one call under :mod:`cProfile`; functions by own time, each C
  function (``cvtColor``, ``ndarray.nonzero``...) attributed to the analyzer function that
  calls it most.
* :func:`sample_lines` - one call while a thread samples the calling thread's stack every
  few milliseconds; each sample is charged to the innermost frame inside ``analyzer/``
  (file, line, function). NumPy and OpenCV release the GIL in their heavy loops, so the
  sampler sees the analyzer line that is waiting on them.
"""

from __future__ import annotations

import cProfile
import linecache
import pstats
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench.common import REPO

ANALYZER_DIR = str(REPO / "analyzer")


def _label(func: tuple) -> str:
    file, line, name = func
    if file == "~" or file.startswith("<"):
        name = name.strip("{}<>")
        m = re.fullmatch(r"method '(.+)' of '(.+)' objects", name)
        if m:
            return f"{m[2]}.{m[1]}"
        return re.sub(r"^built-in (method|function) ", "", name)
    try:
        rel = Path(file).resolve().relative_to(REPO)
        return f"{rel}:{line} {name}"
    except ValueError:
        return f"{Path(file).name}:{line} {name}"


APP_PREFIXES = tuple(str(REPO / d) for d in ("analyzer", "pages", "app_pages", "ui", "app.py"))


def _is_analyzer(func: tuple, prefixes: tuple[str, ...] = (ANALYZER_DIR,)) -> bool:
    return func[0].startswith(prefixes)


def _analyzer_caller(stats: dict, func: tuple, depth: int = 0, prefixes=(ANALYZER_DIR,)) -> tuple | None:
    """The analyzer function that spends the most of ``func``'s time calling it."""
    if depth > 6 or func not in stats:
        return None
    callers = stats[func][4]
    best = None
    best_t = -1.0
    for c, v in callers.items():
        t = v[3] if len(v) > 3 else 0.0
        if t > best_t:
            best, best_t = c, t
    if best is None:
        return None
    if _is_analyzer(best, prefixes):
        return best
    return _analyzer_caller(stats, best, depth + 1, prefixes)


def cprofile_top(fn: Callable[[], object], *, n: int = 15, prefixes: tuple[str, ...] = (ANALYZER_DIR,),
                 repeats: int = 1) -> dict:
    """Profile one call. Returns ``total_s``, ``own`` (top ``n`` by own time) and ``analyzer``
    (top ``n`` analyzer functions by cumulative time) and ``hot``; shares are of ``total_s``.
    ``prefixes``: the folders whose functions count as "ours" (default ``analyzer/``).
    ``repeats``: calls profiled and summed (shares are then of the summed time)."""
    pr = cProfile.Profile()
    total = 0.0
    for _ in range(max(1, repeats)):  # several calls, summed: one descheduled call can't dominate
        t0 = time.perf_counter()
        pr.enable()
        try:
            fn()
        finally:
            pr.disable()
        total += time.perf_counter() - t0
    st = pstats.Stats(pr)
    stats = st.stats  # type: ignore[attr-defined]
    own = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:n]
    own_rows = []
    for func, (_cc, nc, tt, ct, _callers) in own:
        caller = None if _is_analyzer(func, prefixes) else _analyzer_caller(stats, func, 0, prefixes)
        own_rows.append({
            "function": _label(func), "calls": int(nc), "own_s": tt, "cum_s": ct,
            "own_share": tt / total if total else float("nan"),
            "called_from": _label(caller) if caller else "",
        })
    ana = sorted(((f, v) for f, v in stats.items() if _is_analyzer(f, prefixes)), key=lambda kv: kv[1][3], reverse=True)[:n]
    ana_rows = [{"function": _label(f), "calls": int(v[1]), "own_s": v[2], "cum_s": v[3],
                 "cum_share": v[3] / total if total else float("nan")} for f, v in ana]
    # Hot spots: each analyzer function's own time plus the time of the library calls it makes
    # directly (NumPy, OpenCV, dlib...): the time spent on its own lines.
    lines_time: dict[tuple, float] = {}
    lib_calls: dict[tuple, dict[str, float]] = {}
    for func, (_cc, _nc, tt, _ct, callers) in stats.items():
        if _is_analyzer(func, prefixes):
            lines_time[func] = lines_time.get(func, 0.0) + tt
            continue
        for c, v in callers.items():
            if _is_analyzer(c, prefixes):
                ct = v[3] if len(v) > 3 else 0.0
                lines_time[c] = lines_time.get(c, 0.0) + ct
                lib_calls.setdefault(c, {})[_label(func)] = lib_calls.get(c, {}).get(_label(func), 0.0) + ct
    hot = sorted(lines_time.items(), key=lambda kv: kv[1], reverse=True)[:n]
    hot_rows = []
    for f, t in hot:
        libs = sorted(lib_calls.get(f, {}).items(), key=lambda kv: kv[1], reverse=True)[:2]
        hot_rows.append({"function": _label(f), "self_s": t, "share": t / total if total else float("nan"),
                         "main_calls": ", ".join(f"{k} {v:.2f} s" for k, v in libs if v >= 0.005)})
    return {"total_s": total, "own": own_rows, "analyzer": ana_rows, "hot": hot_rows}


def sample_lines(fn: Callable[[], object], *, interval: float = 0.004, n: int = 12,
                 prefixes: tuple[str, ...] = (ANALYZER_DIR,), all_threads: bool = False) -> dict:
    """Run ``fn`` in this thread while another samples its innermost line under ``prefixes``.

    ``all_threads``: look at every thread (Streamlit's AppTest runs the script in its own
    thread); the first thread with a frame under ``prefixes`` is charged.

    Returns ``total_s``, ``samples`` and ``lines``: top ``n`` ``{"where", "code", "share"}``
    (share of the sampled time: each sample weighs the time since the previous one, so a
    call that holds the GIL and delays the sampler is charged its full duration).
    """
    target = threading.get_ident()
    counts: Counter = Counter()
    stop = threading.Event()
    nsamp = [0]

    weight = [0.0]

    def innermost(frame):
        while frame is not None:
            co = frame.f_code
            if co.co_filename.startswith(prefixes):
                return (co.co_filename, frame.f_lineno, co.co_name)
            frame = frame.f_back
        return None

    def sampler():
        me = threading.get_ident()
        last = time.perf_counter()
        while not stop.is_set():
            now = time.perf_counter()
            dt, last = now - last, now  # time-weighted: a sample after a long GIL-holding call
            frames = sys._current_frames()  # is charged the whole wait (its own line)
            if all_threads:
                where = next((w for tid, f in frames.items() if tid != me and (w := innermost(f))), None)
            else:
                where = innermost(frames.get(target))
            nsamp[0] += 1
            counts[where] += dt
            weight[0] += dt
            time.sleep(interval)

    th = threading.Thread(target=sampler, daemon=True)
    old = sys.getswitchinterval()
    sys.setswitchinterval(min(old, interval / 2))
    t0 = time.perf_counter()
    th.start()
    try:
        fn()
    finally:
        stop.set()
        th.join()
        sys.setswitchinterval(old)
    total = time.perf_counter() - t0
    rows = []
    for where, c in counts.most_common():
        if where is None:
            continue
        file, line, name = where
        rel = Path(file).resolve().relative_to(REPO)
        rows.append({"where": f"{rel}:{line} {name}", "code": linecache.getline(file, line).strip(),
                     "share": c / weight[0] if weight[0] else float("nan")})
        if len(rows) >= n:
            break
    outside = counts.get(None, 0) / weight[0] if weight[0] else float("nan")
    return {"total_s": total, "samples": nsamp[0], "lines": rows, "outside_analyzer_share": outside}
