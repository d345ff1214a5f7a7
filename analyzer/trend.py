"""The series verdict: is a measure still improving, on a plateau, getting worse, or not
measurably changing, judged against its noise band.

:func:`series_verdict` takes one measure's values over the sessions of a series (arrays in) and
returns a :class:`SeriesVerdict` (frozen). It uses only the *comparable* points: a point whose
per-change verdict can't be told (``comparable=False``: the lighting differed without a colour
reference, a resolution or blur mismatch, a refused alignment) or whose value is missing is left
out, and the verdict says how many.

Method
------
- **Change per session:** the Theil–Sen slope (median of the pairwise slopes; robust to one bad
  point) with its 95 % confidence interval (Sen's rank interval, :func:`scipy.stats.theilslopes`).
- **Plateau since session N:** a session N such that N and every later comparable session (at
  least 3 of them) lie within the noise band of their median, their own trend over that stretch
  is within the noise band (or its interval holds 0) and less than half the slope before N, and the plateau level differs
  from the first session by more than the noise band in the better direction (a level that is
  worse is "worse"). When several sessions qualify, the one whose hinge (a straight line from
  the first session to the level at N, flat after) fits the points best.
- **Improving / worse:** no plateau, the slope's interval excludes 0 and the fitted change over
  the series is larger than the noise band.
- **Improving / worse (unclear pattern):** no plateau or clear trend, but the median of the
  last 3 comparable sessions differs from the first by more than the noise band.
- **No measurable change:** otherwise (the fitted change is within the noise band, or its
  interval holds 0).
- **Can't tell:** fewer than :data:`MIN_POINTS` comparable sessions, or no noise band.

The noise band is the 95th percentile of |difference| between repeat photos of unchanged skin
(``analyzer.metric_defs`` / ``analyzer.concerns``), so two points of an unchanged face differ
by more than the band about 1 time in 20. The verdict is a description of the measurements for
the practitioner, never advice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from analyzer.results import finite_or_none

__all__ = ["SeriesVerdict", "series_verdict", "MIN_POINTS", "VERDICTS"]

#: Fewer comparable sessions than this: can't tell.
MIN_POINTS = 3
#: A plateau holds at least this many comparable sessions (its first included).
MIN_PLATEAU = 3
VERDICTS = ("improving", "plateau", "worse", "no_change", "changing", "cant_tell")
METHOD = ("Theil-Sen slope per session with Sen's 95% interval (scipy.stats.theilslopes) over the comparable "
          "sessions; plateau = the earliest session from which >= 3 sessions stay within the noise band of their "
          "median with no trend beyond it, after a change beyond the noise band")


@dataclass(frozen=True)
class SeriesVerdict:
    """One measure's series verdict.

    Attributes
    ----------
    verdict : str
        ``improving``, ``plateau``, ``worse``, ``no_change``, ``changing`` (beyond noise but the
        measure has no better direction) or ``cant_tell``.
    text : str
        The verdict in words: "improving", "plateau since session 3", "worse",
        "no measurable change", "can't tell: ...".
    plateau_since : int or None
        The session label where the plateau starts.
    slope, slope_low, slope_high : float
        Change per session (the measure's unit) and its 95 % interval; NaN when not estimated.
    total_change : float
        The fitted change from the first to the last comparable session.
    n_used, n_left_out : int
        Comparable sessions used; sessions left out (missing value or can't-tell verdict).
    left_out : tuple of (session label, reason)
    noise_band : float
    reason : str or None
        Why it can't tell, or a note on the verdict.
    """

    metric: str
    unit: str
    verdict: str
    text: str
    plateau_since: int | None
    slope: float
    slope_low: float
    slope_high: float
    total_change: float
    n_used: int
    n_left_out: int
    left_out: tuple[tuple[int, str], ...]
    noise_band: float
    lower_is_better: bool | None
    reason: str | None = None
    simulated: bool = False
    method: str = field(default=METHOD)

    def range_text(self, fmt: str = ".3g") -> str:
        """``-0.52 per session (95% range -0.71 to -0.33)`` or ``—``."""
        if not math.isfinite(self.slope):
            return "—"
        rng = (f" (95% range {self.slope_low:+{fmt}} to {self.slope_high:+{fmt}})"
               if math.isfinite(self.slope_low) and math.isfinite(self.slope_high) else "")
        return f"{self.slope:+{fmt}} per session{rng}"

    def to_dict(self) -> dict:
        return {
            "metric": self.metric, "unit": self.unit, "verdict": self.verdict, "text": self.text,
            "plateau_since": self.plateau_since, "slope_per_session": finite_or_none(self.slope),
            "slope_low": finite_or_none(self.slope_low), "slope_high": finite_or_none(self.slope_high),
            "total_change": finite_or_none(self.total_change), "n_used": self.n_used,
            "n_left_out": self.n_left_out, "left_out": [list(x) for x in self.left_out],
            "noise_band": finite_or_none(self.noise_band), "lower_is_better": self.lower_is_better,
            "reason": self.reason, "simulated": self.simulated, "method": self.method,
        }


def _theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    from scipy.stats import theilslopes

    r = theilslopes(y, x, alpha=0.95)
    return float(r.slope), float(r.low_slope), float(r.high_slope)


def _direction(delta: float, lower_is_better: bool | None) -> str:
    if lower_is_better is None:
        return "changing"
    better = delta < 0 if lower_is_better else delta > 0
    return "improving" if better else "worse"


def series_verdict(
    sessions: Sequence[int],
    values: Sequence[float | None],
    *,
    noise_band: float,
    lower_is_better: bool | None = True,
    comparable: Sequence[bool] | None = None,
    reasons: Sequence[str | None] | None = None,
    labels: Sequence[int] | None = None,
    metric: str = "",
    unit: str = "",
    simulated: bool = False,
) -> SeriesVerdict:
    """The series verdict of one measure.

    Parameters
    ----------
    sessions : sequence of int
        The session labels (e.g. 1, 2, 3 ...), in time order; used as the x axis (change is
        per session) and to name the plateau's start.
    values : sequence of float or None
        The measure at each session (the first is the baseline). None/NaN: missing.
    noise_band : float
        The measure's noise band (same unit).
    lower_is_better : bool or None
        Which direction is better; None: neither (the verdict is then ``changing``).
    comparable : sequence of bool, optional
        False where the per-change verdict was null (can't tell); those points are left out.
    reasons : sequence of str, optional
        Why each left-out point can't be told (reported in ``left_out``).
    labels : sequence of int, optional
        How each session is named on screen (e.g. its number among all the series' sessions,
        recovery visits included) when it differs from ``sessions``.

    Examples
    --------
    >>> v = series_verdict([1, 2, 3, 4, 5], [10, 9, 8, 7, 6], noise_band=0.5)
    >>> v.text, round(v.slope, 2)
    ('improving', -1.0)
    """
    xs = [int(s) for s in sessions]
    if len(values) != len(xs):
        raise ValueError("sessions and values must have the same length")
    name = dict(zip(xs, [int(x) for x in labels], strict=True)) if labels is not None else {x: x for x in xs}
    comp = list(comparable) if comparable is not None else [True] * len(xs)
    why = list(reasons) if reasons is not None else [None] * len(xs)
    used_x: list[float] = []
    used_y: list[float] = []
    left: list[tuple[int, str]] = []
    for s, v, c, r in zip(xs, values, comp, why, strict=True):
        fv = float("nan") if v is None else float(v)
        if not math.isfinite(fv):
            left.append((name[s], r or "no value"))
        elif not c:
            left.append((name[s], r or "can't tell"))
        else:
            used_x.append(float(s))
            used_y.append(fv)
    nan = float("nan")
    band = float(noise_band) if noise_band is not None else nan
    kw = dict(metric=metric, unit=unit, n_used=len(used_x), n_left_out=len(left), left_out=tuple(left),
              noise_band=band, lower_is_better=lower_is_better, simulated=simulated)
    if not (math.isfinite(band) and band > 0):
        return SeriesVerdict(verdict="cant_tell", text="can't tell: no noise band measured for this measure",
                             plateau_since=None, slope=nan, slope_low=nan, slope_high=nan, total_change=nan,
                             reason="no noise band measured for this measure", **kw)
    if len(used_x) < MIN_POINTS:
        msg = (f"can't tell yet: {len(used_x)} comparable session{'s' if len(used_x) != 1 else ''}"
               f", at least {MIN_POINTS} are needed")
        return SeriesVerdict(verdict="cant_tell", text=msg, plateau_since=None, slope=nan, slope_low=nan,
                             slope_high=nan, total_change=nan, reason=msg.removeprefix("can't tell yet: "), **kw)
    x = np.asarray(used_x)
    y = np.asarray(used_y)
    slope, lo, hi = _theil_sen(x, y)
    total = slope * float(x[-1] - x[0])
    base = dict(slope=slope, slope_low=lo, slope_high=hi, total_change=total, **kw)

    # plateau: a session from which the measure stays put, after a change beyond noise; among the
    # sessions that qualify, the one whose hinge (a line from the first session to the level, then
    # flat) fits best
    n = len(x)
    best: tuple[float, int, float] | None = None  # (squared error, k, level)
    for k in range(1, n - MIN_PLATEAU + 1):
        seg_x, seg_y = x[k:], y[k:]
        level = float(np.median(seg_y))
        if float(np.max(np.abs(seg_y - level))) > band:
            continue
        seg_slope, seg_lo, seg_hi = _theil_sen(seg_x, seg_y)
        if abs(seg_slope * float(seg_x[-1] - seg_x[0])) > band and (seg_lo > 0 or seg_hi < 0):
            continue  # a trend beyond the noise band, and clear
        step = level - float(y[0])
        if abs(step) <= band:
            continue
        pre_slope = step / float(x[k] - x[0])
        if abs(seg_slope) > 0.5 * abs(pre_slope):
            continue
        fit = np.where(x < x[k], y[0] + pre_slope * (x - x[0]), level)
        sse = float(np.sum((y - fit) ** 2))
        if best is None or sse < best[0]:
            best = (sse, k, level)
    if best is not None:
        _, k, level = best
        d = _direction(level - float(y[0]), lower_is_better)
        label = name[int(x[k])]
        if d == "improving":
            return SeriesVerdict(verdict="plateau", text=f"plateau since session {label}", plateau_since=label,
                                 reason=f"within the noise band of its level since session {label}", **base)
        if d == "worse":
            return SeriesVerdict(verdict="worse", text="worse", plateau_since=label,
                                 reason=f"worse than the first session, stable since session {label}", **base)
        return SeriesVerdict(verdict="changing", text=f"changed, stable since session {label}", plateau_since=label,
                             reason="this measure has no better direction", **base)
    clear = lo > 0 or hi < 0
    if clear and abs(total) > band:
        d = _direction(total, lower_is_better)
        text = {"improving": "improving", "worse": "worse", "changing": "changing"}[d]
        return SeriesVerdict(verdict=d, text=text, plateau_since=None, **base)
    recent = float(np.median(y[-MIN_PLATEAU:])) - float(y[0])
    if abs(recent) > band:  # no clean trend or plateau, but the last sessions sit beyond the noise band
        d = _direction(recent, lower_is_better)
        return SeriesVerdict(verdict=d, text=d, plateau_since=None,
                             reason="the last sessions differ from the first by more than the noise band; "
                                    "the pattern is not a clear trend or plateau", **base)
    note = ("the fitted change over the series is within the noise band" if abs(total) <= band
            else "the trend's 95% range includes no change")
    return SeriesVerdict(verdict="no_change", text="no measurable change", plateau_since=None, reason=note, **base)
