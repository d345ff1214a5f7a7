"""Recovery tracking: how fast the redness after a session settles.

Photos taken 1-7 days after a session (recovery sessions linked to it by ``parent_session_id``)
are measured like any other photo, on the same region aligned to the series baseline. The
*excess* redness of a recovery photo is its mean a* minus the **pre-session** value (the photo
taken on the treatment day, before needling). The excess is modelled as an exponential decay

    excess(t) = A * 2 ** (-t / T_half)

fitted by least squares on log(excess) over the points whose excess is above the noise floor.
``T_half`` (days) is the half-life; ``days_to_settle`` is when the fitted excess falls to the
noise floor. Exponential settling of post-procedure erythema is a modelling choice (the simplest
one-parameter decay), not a clinical law; the fit is reported with its points so it can be
checked by eye.

Swelling: a single 2-D photo can't measure swelling (oedema is a change in volume; without a 3-D
capture or a tape measure there is no honest photo number for it; face width relative to the eye
distance moves more with pose and expression than with post-needling oedema). Swelling is
therefore **not measured**; the practitioner can record it in the session notes.
:data:`SWELLING_NOTE` says so in plain words for the page.

"Slower than before": :func:`compare_recovery` compares the half-life with the median of the
patient's own previous sessions and speaks when it is more than :data:`SLOWER_MARGIN` (50 %)
longer, or when the redness is not settling at all.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from analyzer.errors import UsageError
from analyzer.results import finite_or_none

__all__ = [
    "RecoveryCurve",
    "recovery_curve",
    "compare_recovery",
    "curves_from_sessions",
    "noise_floor",
    "SLOWER_MARGIN",
    "DEFAULT_NOISE_A_STAR",
    "MAX_RECOVERY_DAYS",
    "SWELLING_NOTE",
    "SYMPTOM_GRADED",
    "SYMPTOM_SIGN",
    "SYMPTOM_LEVELS",
    "SYMPTOM_LABELS",
    "validate_symptoms",
    "symptom_flags",
]

#: A half-life this much longer than the previous median (fraction) is "slower".
SLOWER_MARGIN = 0.5
#: Noise floor of a* when analyzer.metrics has no measured band: CIELAB a* units.
DEFAULT_NOISE_A_STAR = 1.0
#: Recovery photos are taken at most this many days after the session.
MAX_RECOVERY_DAYS = 14
SWELLING_NOTE = (
    "Swelling is not measured: a flat photo can't measure a change in volume. "
    "Note visible swelling in the session notes."
)


def noise_floor(metric: str = "redness.a_star_mean") -> float:
    """The noise band of ``metric`` from :func:`analyzer.metrics.noise_band` (re-photographing the
    same skin), or :data:`DEFAULT_NOISE_A_STAR` when none is measured."""
    try:
        from analyzer.metrics import noise_band

        nb = float(noise_band(metric))
    except Exception:  # metrics not importable or key unknown: the documented default
        nb = float("nan")
    return nb if math.isfinite(nb) and nb > 0 else DEFAULT_NOISE_A_STAR


@dataclass(frozen=True)
class RecoveryCurve:
    """The settling of one session's redness, from its recovery photos.

    Attributes
    ----------
    label : str
        Which session (e.g. ``"Session 3, 2026-11-02"``).
    metric, unit : str
        What was measured (default ``redness.a_star_mean``, CIELAB a*).
    baseline : float
        The pre-session value (treatment-day photo before needling).
    points : tuple of (days_after, value)
        The recovery photos' values, sorted by day.
    half_life_days : float
        NaN with ``reason`` when it can't be estimated.
    amplitude : float
        Fitted excess at day 0 (same unit as the metric).
    days_to_settle : float
        Day when the fitted excess reaches the noise floor (NaN when not estimated).
    noise : float
        The noise floor used (excess at or below it counts as settled).
    settling : bool or None
        False when the excess did not go down; None when unknown.
    upper_bound : bool
        True when the half-life is an upper bound (the excess fell below the noise floor after
        only one measurable point).
    simulated : bool
        The values come from a simulation (must be labelled wherever shown).
    """

    label: str
    metric: str
    unit: str
    baseline: float
    points: tuple[tuple[float, float], ...]
    half_life_days: float
    amplitude: float
    days_to_settle: float
    noise: float
    settling: bool | None
    upper_bound: bool = False
    reason: str | None = None
    simulated: bool = False
    method: str = field(default="log-linear least squares of excess over the pre-session value: "
                        "excess(t) = A * 2**(-t/T_half), points above the noise floor")

    @property
    def excess(self) -> tuple[tuple[float, float], ...]:
        """(day, value - baseline) for every point."""
        return tuple((d, v - self.baseline) for d, v in self.points)

    @property
    def ok(self) -> bool:
        return math.isfinite(self.half_life_days)

    def fitted(self, day: float) -> float:
        """Fitted excess at ``day`` (NaN when there is no fit)."""
        if not (self.ok and math.isfinite(self.amplitude)):
            return float("nan")
        return float(self.amplitude * 2.0 ** (-day / self.half_life_days))

    def chart_rows(self, *, n_fit: int = 29) -> list[dict]:
        """Long rows for a chart: measured excess per photo and the fitted curve, days 0-7+.

        ``{"session": label, "day": d, "excess": value or None, "series": "measured"|"fitted",
        "simulated": bool}``.
        """
        rows = [{"session": self.label, "day": float(d), "excess": finite_or_none(e), "series": "measured",
                 "simulated": self.simulated} for d, e in self.excess]
        if self.ok:
            last = max([7.0] + [d for d, _ in self.points])
            for d in np.linspace(0.0, last, n_fit):
                rows.append({"session": self.label, "day": float(d), "excess": finite_or_none(self.fitted(d)),
                             "series": "fitted", "simulated": self.simulated})
        return rows

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "metric": self.metric,
            "unit": self.unit,
            "baseline": finite_or_none(self.baseline),
            "points": [[float(d), finite_or_none(v)] for d, v in self.points],
            "half_life_days": finite_or_none(self.half_life_days),
            "amplitude": finite_or_none(self.amplitude),
            "days_to_settle": finite_or_none(self.days_to_settle),
            "noise": finite_or_none(self.noise),
            "settling": self.settling,
            "upper_bound": self.upper_bound,
            "reason": self.reason,
            "simulated": self.simulated,
            "method": self.method,
        }


def recovery_curve(
    points: Iterable[tuple[float, float]],
    *,
    baseline: float,
    label: str = "",
    metric: str = "redness.a_star_mean",
    unit: str = "CIELAB a* (D65)",
    noise: float | None = None,
    simulated: bool = False,
) -> RecoveryCurve:
    """Fit the settling of excess redness after one session.

    Parameters
    ----------
    points : iterable of (days_after, value)
        Recovery photos: days after the session (0 < days <= 14) and the metric's value on the
        aligned region. Points with a NaN value are kept for display and ignored in the fit.
    baseline : float
        The pre-session value of the same metric and region.
    noise : float, optional
        Excess at or below this is "settled" (default :func:`noise_floor` of ``metric``).

    Returns
    -------
    RecoveryCurve
        ``half_life_days`` NaN with a reason when fewer than 2 points are usable, when the
        redness was already settled at the first photo, or when it did not go down.

    Raises
    ------
    UsageError
        A day outside (0, 14], a duplicate day, or a non-numeric baseline.

    Examples
    --------
    >>> c = recovery_curve([(1, 16.0), (3, 13.0), (7, 11.0)], baseline=10.0, noise=0.5)
    >>> round(c.half_life_days, 2)
    2.35
    """
    try:
        base = float(baseline)
    except (TypeError, ValueError):
        raise UsageError(f"the pre-session value must be a number, got {baseline!r}") from None
    pts: list[tuple[float, float]] = []
    for p in points:
        try:
            d, v = float(p[0]), float(p[1]) if p[1] is not None else float("nan")
        except (TypeError, ValueError, IndexError):
            raise UsageError(f"a recovery point must be (days_after, value), got {p!r}") from None
        if not (0 < d <= MAX_RECOVERY_DAYS):
            raise UsageError(f"recovery photo at day {d:g}: days after the session must be 1-{MAX_RECOVERY_DAYS}")
        pts.append((d, v))
    pts.sort()
    days = [d for d, _ in pts]
    if len(set(days)) != len(days):
        raise UsageError("two recovery photos on the same day: keep one per day")
    nz = float(noise) if noise is not None else noise_floor(metric)
    kw = dict(label=label, metric=metric, unit=unit, baseline=base, points=tuple(pts), noise=nz,
              simulated=simulated)
    nan = float("nan")
    if not math.isfinite(base):
        return RecoveryCurve(half_life_days=nan, amplitude=nan, days_to_settle=nan, settling=None,
                             reason="no pre-session value to compare with", **kw)
    usable = [(d, v - base) for d, v in pts if math.isfinite(v)]
    if len(usable) < 2:
        return RecoveryCurve(half_life_days=nan, amplitude=nan, days_to_settle=nan, settling=None,
                             reason=f"{len(usable)} usable recovery photo(s): at least 2 are needed", **kw)
    above = [(d, e) for d, e in usable if e > nz]
    if not above:
        return RecoveryCurve(half_life_days=nan, amplitude=nan, days_to_settle=0.0, settling=True,
                             reason="no excess redness above the noise floor: already settled", **kw)
    if usable[0][1] <= nz:
        return RecoveryCurve(half_life_days=nan, amplitude=nan, days_to_settle=usable[0][0], settling=True,
                             reason="already settled at the first recovery photo", **kw)
    upper = False
    fit_pts = above
    if len(above) < 2:
        # one measurable point, then settled: put the first settled point at the floor -> an upper bound
        later = [(d, e) for d, e in usable if d > above[0][0]]
        fit_pts = [above[0], (later[0][0], nz)] if later else above
        upper = True
    if len(fit_pts) < 2:
        return RecoveryCurve(half_life_days=nan, amplitude=nan, days_to_settle=nan, settling=None,
                             reason="only one recovery photo shows excess redness", **kw)
    x = np.array([d for d, _ in fit_pts])
    y = np.log(np.array([max(e, 1e-9) for _, e in fit_pts]))
    k, c = np.polyfit(x, y, 1)
    if k >= 0:
        return RecoveryCurve(half_life_days=nan, amplitude=float(np.exp(c)), days_to_settle=nan, settling=False,
                             reason="the redness did not go down over the recovery photos", **kw)
    t_half = float(math.log(2) / -k)
    amp = float(math.exp(c))
    settle = float(t_half * math.log2(amp / nz)) if amp > nz else 0.0
    return RecoveryCurve(half_life_days=t_half, amplitude=amp, days_to_settle=settle, settling=True,
                         upper_bound=upper,
                         reason="upper bound: only one photo showed excess redness" if upper else None, **kw)


def compare_recovery(current: RecoveryCurve, previous: Sequence[RecoveryCurve], *,
                     margin: float = SLOWER_MARGIN) -> str | None:
    """A plain sentence when this session's redness settles slower than the patient's own
    previous sessions, else None.

    "Slower" = the half-life exceeds the median half-life of the previous sessions by more than
    ``margin`` (default 50 %), or the redness is not going down at all while it did before.
    Previous sessions without a half-life are ignored; with none left, nothing is said.
    """
    prev = [p.half_life_days for p in previous if p.ok and not p.upper_bound]
    if not prev:
        return None
    med = statistics.median(prev)
    sim = " (simulated data)" if current.simulated or any(p.simulated for p in previous) else ""
    if current.settling is False:
        return ("Recovery is slower than after this patient's previous sessions: the redness is not going down "
                f"yet (it usually halves in {med:.1f} days){sim}.")
    if not current.ok:
        return None
    if current.half_life_days > med * (1.0 + margin):
        return (f"Recovery is slower than after this patient's previous sessions: the redness halves in "
                f"{current.half_life_days:.1f} days, against {med:.1f} days usually{sim}.")
    return None


def _get(obj, name: str):
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def curves_from_sessions(
    rows: Iterable[dict],
    sessions: Iterable,
    *,
    metric: str | None = None,
    region: str | None = None,
    view: str | None = None,
) -> list[RecoveryCurve]:
    """One :class:`RecoveryCurve` per treatment session that has recovery sessions, oldest first.

    Parameters
    ----------
    rows : iterable of dict
        Tidy progress rows (``service.progress_table``): ``session_id``, ``metric``, ``value``,
        ``unit``, ``region``, ``view``, ``simulated``.
    sessions : iterable
        Session records (``analyzer.store`` ``SessionRec`` or dicts) with ``id``, ``date``,
        ``kind`` ("treatment" | "recovery") and ``parent_session_id``.
    metric : str, optional
        Default: ``redness.cheeks_nose.a_star_mean`` when present in the rows, else
        ``redness.a_star_mean``.
    region, view : str, optional
        Use only these rows (default: every row; several photos of a session are averaged).

    Returns
    -------
    list of RecoveryCurve
        The baseline of each curve is the treatment session's own value (its photos are taken
        before needling); days after = recovery session date - treatment date.
    """
    rows = [r for r in rows if (region is None or r.get("region") == region) and (view is None or r.get("view") == view)]
    if metric is None:
        present = {r.get("metric") for r in rows}
        metric = "redness.cheeks_nose.a_star_mean" if "redness.cheeks_nose.a_star_mean" in present else "redness.a_star_mean"
    vals: dict = {}
    index = {r.get("session_id"): r.get("session_index") for r in rows if r.get("session_index") is not None}
    unit = ""
    sim: dict = {}
    for r in rows:
        if r.get("metric") != metric:
            continue
        unit = unit or (r.get("unit") or "")
        if r.get("simulated"):
            sim[r.get("session_id")] = True
        v = r.get("value")
        if v is not None and math.isfinite(float(v)):
            vals.setdefault(r.get("session_id"), []).append(float(v))
    mean = {k: float(np.mean(v)) for k, v in vals.items()}
    sess = list(sessions)
    children: dict = {}
    for s in sess:
        if _get(s, "kind") == "recovery" and _get(s, "parent_session_id") is not None:
            children.setdefault(_get(s, "parent_session_id"), []).append(s)
    out = []
    treat = sorted((s for s in sess if _get(s, "kind") != "recovery" and _get(s, "id") in children),
                   key=lambda s: (_get(s, "date"), _get(s, "id")))
    for t in treat:
        tid, tdate = _get(t, "id"), _get(t, "date")
        pts = []
        for c in sorted(children[tid], key=lambda s: _get(s, "date")):
            days = (_get(c, "date") - tdate).days
            if 0 < days <= MAX_RECOVERY_DAYS:
                pts.append((days, mean.get(_get(c, "id"), float("nan"))))
        seen: dict = {}
        for d, v in pts:  # one value per day (two recovery sessions on a day: their mean)
            seen.setdefault(d, []).append(v)
        pts = [(d, float(np.nanmean(v)) if any(math.isfinite(x) for x in v) else float("nan")) for d, v in seen.items()]
        simulated = bool(sim.get(tid) or any(sim.get(_get(c, "id")) for c in children[tid]))
        out.append(recovery_curve(pts, baseline=mean.get(tid, float("nan")), label=(f"Session {index[tid]} ({tdate.isoformat()})" if tid in index
                                                            else f"Session of {tdate.isoformat()}"),
                                  metric=metric, unit=unit or "CIELAB a* (D65)", simulated=simulated))
    return out


# ---- symptoms the patient reports at a check-in ------------------------------------------------

#: Graded symptoms (0 none, 1 mild, 2 moderate, 3 severe) and the yes/no sign.
SYMPTOM_GRADED: tuple[str, ...] = ("redness", "swelling", "pain", "itching")
SYMPTOM_SIGN = "blistering_or_infection"
SYMPTOM_LEVELS: tuple[str, ...] = ("none", "mild", "moderate", "severe")
SYMPTOM_LABELS = {
    "redness": "redness", "swelling": "swelling", "pain": "pain", "itching": "itching",
    SYMPTOM_SIGN: "blistering, crusting with pus, spreading warmth or fever (a sign of infection)",
}
#: A graded symptom at or above this level raises a flag (moderate).
FLAG_LEVEL = 2
#: From this day on, any symptom still reported (even mild) raises a flag: it should have settled.
LATE_DAY = 5


def validate_symptoms(symptoms) -> dict:
    """``{"redness": 0-3, "swelling": 0-3, "pain": 0-3, "itching": 0-3,
    "blistering_or_infection": bool}`` checked and completed (a missing graded symptom is 0, the
    sign False); anything else raises a one-line :class:`UsageError`."""
    if not isinstance(symptoms, dict):
        raise UsageError("symptoms must be given as a mapping of symptom to level")
    unknown = sorted(set(symptoms) - set(SYMPTOM_GRADED) - {SYMPTOM_SIGN})
    if unknown:
        raise UsageError(f"unknown symptom {unknown[0]!r}: use {', '.join(SYMPTOM_GRADED + (SYMPTOM_SIGN,))}")
    out: dict = {}
    for k in SYMPTOM_GRADED:
        lv = symptoms.get(k, 0)
        if isinstance(lv, str) and lv in SYMPTOM_LEVELS:
            lv = SYMPTOM_LEVELS.index(lv)
        if isinstance(lv, bool) or not isinstance(lv, int) or not 0 <= lv <= 3:
            raise UsageError(f"{k}: choose none, mild, moderate or severe")
        out[k] = lv
    sign = symptoms.get(SYMPTOM_SIGN, False)
    if not isinstance(sign, bool):
        raise UsageError(f"{SYMPTOM_SIGN}: yes or no")
    out[SYMPTOM_SIGN] = sign
    return out


def symptom_flags(symptoms: dict | None, day: int) -> list[str]:
    """Plain sentences for the practitioner: a blistering/infection sign, a moderate or severe
    symptom, or any symptom still there from day :data:`LATE_DAY`. Empty when none."""
    if not symptoms:
        return []
    out = []
    if symptoms.get(SYMPTOM_SIGN):
        out.append(f"day {day}: the patient reports blistering or a sign of infection")
    for k in SYMPTOM_GRADED:
        lv = int(symptoms.get(k) or 0)
        if lv >= FLAG_LEVEL:
            out.append(f"day {day}: {SYMPTOM_LEVELS[lv]} {SYMPTOM_LABELS[k]}")
        elif lv >= 1 and day >= LATE_DAY:
            out.append(f"day {day}: {SYMPTOM_LABELS[k]} still there ({SYMPTOM_LEVELS[lv]})")
    return out
