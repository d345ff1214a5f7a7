"""Shared pieces of the bench: figures with targets, timing, machine description.

A :class:`Figure` is one row of ``bench/RESULTS.md``: a measured value, its unit, the target
it is held to (or none) and whether the target is met. Benchmarks never raise for being
slow: a missed target is a row marked "not met", never an exception.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "bench"
#: The real photos the bench measures: the repository's copy, or SKIN_PROGRESS_PHOTOS.
PHOTOS = Path(os.environ.get("SKIN_PROGRESS_PHOTOS") or REPO / "tests" / "data" / "photos").resolve()

Op = Literal["<=", ">=", "<", ">", "=="]


@dataclass(frozen=True)
class Target:
    """A bound a figure is held to: ``value <op> limit``."""

    op: Op
    limit: float
    text: str | None = None  # how to print it when the bare bound is not clear enough

    def met(self, value: float | None) -> bool | None:
        if value is None or not math.isfinite(float(value)):
            return None
        v = float(value)
        if self.op == "<=":
            return v <= self.limit
        if self.op == ">=":
            return v >= self.limit
        if self.op == "<":
            return v < self.limit
        if self.op == ">":
            return v > self.limit
        return v == self.limit

    def label(self, unit: str = "") -> str:
        if self.text:
            return self.text
        return f"{self.op} {self.limit:g}{(' ' + unit) if unit else ''}"


@dataclass
class Figure:
    """One measured figure (one table row)."""

    section: str
    name: str
    value: float | None
    unit: str = ""
    target: Target | None = None
    note: str = ""
    digits: int | None = None  # fixed decimals for the value (None: automatic)

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.target.met(self.value)

    @property
    def status(self) -> str:
        if self.target is None:
            return "info"
        m = self.met
        if m is None:
            return "not measured"
        return "met" if m else "NOT MET"

    def value_text(self) -> str:
        if self.value is None or (isinstance(self.value, float) and not math.isfinite(self.value)):
            return "n/a"
        return fmt_num(self.value, self.digits) + (f" {self.unit}" if self.unit else "")


@dataclass
class Section:
    """A group of figures plus free text printed under its table."""

    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    def add(self, name: str, value: float | None, unit: str = "", target: Target | None = None,
            note: str = "", digits: int | None = None) -> Figure:
        f = Figure(self.key, name, value, unit, target, note, digits)
        self.figures.append(f)
        return f


def fmt_num(v: float, digits: int | None = None) -> str:
    """Compact number formatting for tables."""
    v = float(v)
    if digits is not None:
        return f"{v:.{digits}f}"
    if v == 0:
        return "0"
    if float(v).is_integer() and abs(v) < 1e6:
        return str(int(v))
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    if a >= 0.01:
        return f"{v:.3f}"
    return f"{v:.2g}"


# --------------------------------------------------------------------------- timing


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call, wall clock (``time.perf_counter``)."""
    t = time.perf_counter()
    r = fn()
    return time.perf_counter() - t, r


def median(xs) -> float:
    xs = [float(x) for x in xs if x is not None and math.isfinite(float(x))]
    return statistics.median(xs) if xs else float("nan")


def spread(xs) -> str:
    """``median (min-max, n=N)`` in seconds, for notes."""
    xs = [float(x) for x in xs]
    if not xs:
        return "no runs"
    if len(xs) == 1:
        return f"1 run: {xs[0]:.3f} s"
    return f"median of {len(xs)}: {median(xs):.3f} s (min {min(xs):.3f}, max {max(xs):.3f})"


# --------------------------------------------------------------------------- machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def cores() -> int:
    n = getattr(os, "process_cpu_count", os.cpu_count)() or 1
    return int(n)


def git_commit() -> str:
    """Short commit, with ``+dirty`` when the working tree has changes."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=20).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=20).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for mod, name in (("numpy", "numpy"), ("cv2", "opencv"), ("dlib", "dlib"), ("streamlit", "streamlit"),
                      ("skimage", "scikit-image"), ("PIL", "Pillow")):
        try:
            m = __import__(mod)
            out[name] = str(getattr(m, "__version__", "?"))
        except Exception:  # noqa: BLE001 - a missing optional module is just not listed
            pass
    try:
        from analyzer import __version__

        out["analyzer"] = __version__
    except Exception:  # noqa: BLE001
        pass
    return out


def machine_info() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores": cores(),
        "ram_gib": ram_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "versions": versions(),
        "python_exe": sys.executable,
    }


# --------------------------------------------------------------------------- configuration


@dataclass
class Config:
    """What one bench run does (``--quick`` shrinks every input and repeat count)."""

    quick: bool = False
    work: Path = BENCH_DIR / "_work"
    runs: int = 5  # repeats of the fast measurements (median reported)
    slow_runs: int = 3  # repeats of the slow ones (a whole batch, an app start)
    pair_size: tuple[int, int] = (3000, 4000)  # 12 MP, width x height
    series_sessions: int = 20
    series_views: tuple[str, ...] = ("front", "left45", "right45")
    series_long_side: int = 1200
    parallel_workers: int = 2
    profile: bool = True

    @classmethod
    def make(cls, *, quick: bool, work: Path | None = None, runs: int | None = None) -> Config:
        if quick:
            c = cls(quick=True, runs=1, slow_runs=1, pair_size=(480, 640), series_sessions=2,
                    series_views=("front",), series_long_side=480, profile=True)
        else:
            c = cls()
        if work is not None:
            c.work = Path(work)
        if runs is not None:
            c.runs = max(1, int(runs))
            c.slow_runs = max(1, min(c.slow_runs, c.runs))
        return c

    @property
    def pair_mp(self) -> float:
        return self.pair_size[0] * self.pair_size[1] / 1e6
