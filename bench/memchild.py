"""Child process of the memory bench: ``python -m bench.memchild BASELINE FOLLOWUP``.

Loads both photos and runs one :func:`analyzer.pipeline.compare` in a fresh process, then
prints one JSON line: resident memory after the imports, the peak (``VmHWM``) over the
whole run, and the peak inside each stage. Per-stage peaks come from resetting the kernel's
high-water mark (``/proc/self/clear_refs``) before each stage; when that is not allowed only
the whole-run peak is reported.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

MIB = 1024.0


def _status(key: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / MIB
    except OSError:
        pass
    return None


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class PeakLocator:
    """A thread that reads resident memory every ``interval`` s and remembers where the main
    thread was (innermost ``analyzer/`` frames) when it was highest."""

    def __init__(self, interval: float = 0.002):
        import threading

        self.interval = interval
        self.target = threading.get_ident()
        self.page = os.sysconf("SC_PAGE_SIZE") / 2**20
        self.max_mib = 0.0
        self.where: list[str] = []
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)
        self._analyzer = str(Path(__file__).resolve().parents[1] / "analyzer")

    def _run(self) -> None:
        with open("/proc/self/statm") as fh:
            while not self._stop.is_set():
                fh.seek(0)
                rss = int(fh.read().split()[1]) * self.page
                if rss > self.max_mib:
                    self.max_mib = rss
                    frame = sys._current_frames().get(self.target)
                    where = []
                    while frame is not None and len(where) < 3:
                        co = frame.f_code
                        if co.co_filename.startswith(self._analyzer):
                            rel = co.co_filename[len(self._analyzer) - len("analyzer"):]
                            where.append(f"{rel}:{frame.f_lineno} {co.co_name}")
                        frame = frame.f_back
                    self.where = where
                time.sleep(self.interval)

    def __enter__(self):
        self._th.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._th.join()


def trace(base: str, fol: str, n: int = 8) -> dict:
    """Largest live allocations (by source line) at the highest traced memory of one compare.

    NumPy reports its buffers (and OpenCV's outputs, which NumPy allocates) to
    :mod:`tracemalloc`; a thread snapshots whenever traced memory grew by 20 MiB over the last
    snapshot. Run apart from the RSS measurement (tracing costs time and memory).
    """
    import threading
    import tracemalloc

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import analyzer.calibrate  # noqa: F401
    from analyzer.io import load_photo
    from analyzer.pipeline import compare

    tracemalloc.start(12)
    A, B = load_photo(base), load_photo(fol)
    best: list = [0, None]
    stop = threading.Event()

    def mon():
        while not stop.is_set():
            cur = tracemalloc.get_traced_memory()[0]
            if cur > best[0] + 20 * 2**20:
                best[0], best[1] = cur, tracemalloc.take_snapshot()
            time.sleep(0.002)

    th = threading.Thread(target=mon, daemon=True)
    th.start()
    compare(A, B)
    stop.set()
    th.join()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    import linecache

    repo = str(Path(__file__).resolve().parents[1]) + "/"
    sizes: dict[tuple, int] = {}
    for st in (best[1].statistics("traceback") if best[1] is not None else []):
        # charge each buffer to the innermost frame in the repository (NumPy internals skipped)
        fr = next((f for f in reversed(list(st.traceback)) if f.filename.startswith(repo + "analyzer")), None)
        key = (fr.filename, fr.lineno) if fr else ("(outside analyzer/: imports, models)", 0)
        sizes[key] = sizes.get(key, 0) + st.size
    top = []
    for (file, line), size in sorted(sizes.items(), key=lambda kv: -kv[1])[:n]:
        top.append({"where": f"{file.replace(repo, '')}:{line}" if line else file, "mib": size / 2**20,
                    "code": linecache.getline(file, line).strip() if line else ""})
    return {"traced_peak_mib": peak / 2**20, "snapshot_mib": best[0] / 2**20, "top": top}


def main(argv: list[str]) -> int:
    import resource

    if argv and argv[0] == "--trace":
        print(json.dumps(trace(argv[1], argv[2])))
        return 0

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import analyzer.calibrate  # noqa: F401 - imported up front so imports are not charged to a stage
    import analyzer.pipeline  # noqa: F401
    from analyzer.io import load_photo
    from analyzer.pipeline import compare
    from bench.stages import StageTimes, instrument

    base, fol = argv[:2]
    out: dict = {"rss_after_imports_mib": _status("VmRSS"), "stages": {}}
    peak = [_status("VmHWM") or 0.0]
    can_reset = _reset_hwm()
    out["per_stage"] = can_reset

    def fold() -> None:
        v = _status("VmHWM")
        if v is not None:
            peak[0] = max(peak[0], v)

    def enter(stage: str) -> None:
        fold()
        if can_reset:
            _reset_hwm()
        out.setdefault("_start", {})[stage] = _status("VmRSS")

    def leave(stage: str) -> None:
        v = _status("VmHWM") or 0.0
        if can_reset:
            s = out["stages"].setdefault(stage, {"peak_mib": 0.0, "rise_mib": 0.0})
            s["peak_mib"] = max(s["peak_mib"], v)
            s["rise_mib"] = max(s["rise_mib"], v - (out["_start"].get(stage) or v))
        fold()

    enter("load")
    A, B = load_photo(base), load_photo(fol)
    leave("load")
    out["rss_after_load_mib"] = _status("VmRSS")
    st = StageTimes()
    with PeakLocator() as loc, instrument(st, on_enter=enter, on_exit=leave):
        comp = compare(A, B)
    fold()
    out["sampled_peak_mib"] = loc.max_mib
    out["peak_where"] = loc.where  # innermost analyzer frames when resident memory was highest
    out.pop("_start", None)
    out["peak_mib"] = peak[0]
    out["ru_maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MIB
    out["alignment_ok"] = bool(comp.alignment.ok)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
