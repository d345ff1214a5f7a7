"""Stage timing of the real :func:`analyzer.pipeline.compare`, without copying its code.

:func:`instrument` temporarily wraps the functions ``compare`` calls (face detection,
alignment, warp, calibration, skin mask, metrics, region geometry) by name in the modules it
looks them up in, so the figures come from the exact code path the app and the command line
run. Only the outermost wrapped call counts (no double counting when one stage calls
another); whatever is not wrapped shows up as ``other``. A name the pipeline no longer uses
is simply not timed.
"""

from __future__ import annotations

import contextlib
import importlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterator

#: (module, attribute, stage). ``calibrate`` is also wrapped on its home module, for a
#: ``compare`` that imports it inside the function.
STAGE_PATCHES: tuple[tuple[str, str, str], ...] = (
    ("analyzer.pipeline", "detect_face", "face detection"),
    ("analyzer.pipeline", "detect_main_face", "face detection"),
    ("analyzer.pipeline", "align", "align"),
    ("analyzer.pipeline", "warp_to_baseline", "warp"),
    ("analyzer.pipeline", "calibrate", "calibrate"),
    ("analyzer.pipeline", "reference_patch_lab", "calibrate"),
    ("analyzer.calibrate", "calibrate", "calibrate"),
    ("analyzer.pipeline", "calibrate_pair", "calibrate"),
    ("analyzer.pipeline", "skin_mask", "skin mask"),
    ("analyzer.pipeline", "_skin_in_region", "skin mask"),
    ("analyzer.pipeline", "measure", "metrics"),
    ("analyzer.pipeline", "change", "metrics"),
    ("analyzer.pipeline", "measure_photo", "metrics"),
    ("analyzer.pipeline", "roi_polygon", "regions"),
    ("analyzer.pipeline", "polygon_mask", "regions"),
)

STAGE_ORDER = ("face detection", "align", "warp", "calibrate", "skin mask", "metrics", "regions", "other")


class StageTimes:
    """Seconds per stage for one instrumented call (outermost wrapped calls only)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.depth = 0
        self.total = 0.0

    def as_dict(self) -> dict[str, float]:
        d = {k: self.seconds.get(k, 0.0) for k in STAGE_ORDER if k != "other"}
        d["other"] = max(0.0, self.total - sum(d.values()))
        return d


@contextlib.contextmanager
def instrument(times: StageTimes, *, on_enter: Callable[[str], None] | None = None,
               on_exit: Callable[[str], None] | None = None) -> Iterator[StageTimes]:
    """Wrap the pipeline's stage functions while the block runs; fill ``times``.

    ``on_enter``/``on_exit`` are called around each outermost stage call (the memory bench
    uses them to read the peak resident memory of each stage).
    """
    saved = []

    def wrap(fn, stage):
        def wrapper(*a, **kw):
            if times.depth:
                return fn(*a, **kw)
            if on_enter:
                on_enter(stage)
            times.depth += 1
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                times.seconds[stage] += time.perf_counter() - t
                times.calls[stage] += 1
                times.depth -= 1
                if on_exit:
                    on_exit(stage)

        wrapper.__wrapped__ = fn
        return wrapper

    try:
        for mod_name, attr, stage in STAGE_PATCHES:
            mod = importlib.import_module(mod_name)
            if not hasattr(mod, attr):
                continue
            orig = getattr(mod, attr)
            saved.append((mod, attr, orig))
            setattr(mod, attr, wrap(orig, stage))
        t0 = time.perf_counter()
        try:
            yield times
        finally:
            times.total = time.perf_counter() - t0
    finally:
        for mod, attr, orig in reversed(saved):
            setattr(mod, attr, orig)
