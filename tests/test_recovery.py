"""Recovery curves: half-life of the excess redness after a session, from a simulated
1-3-7-day series, and the "slower than your previous sessions" message."""

from __future__ import annotations

import math

import pytest

from analyzer.errors import UsageError
from analyzer.recovery import (
    SLOWER_MARGIN,
    compare_recovery,
    curves_from_sessions,
    noise_floor,
    recovery_curve,
)


def simulated(half_life, *, amp=6.0, base=10.0, days=(1, 3, 7), label="", wobble=0.0):
    """SIMULATED recovery series: a* = base + amp * 2**(-t/T) (+ a fixed wobble at day 3)."""
    pts = [(d, base + amp * 2 ** (-d / half_life) + (wobble if d == 3 else 0.0)) for d in days]
    return recovery_curve(pts, baseline=base, label=label, noise=0.3, simulated=True)


@pytest.mark.parametrize("t_half", [0.8, 1.5, 3.0])
def test_half_life_recovered_from_1_3_7_day_series(t_half):
    c = simulated(t_half)
    # points above the noise floor only: at T=0.8 day 7 is settled, the fit uses days 1 and 3
    assert c.half_life_days == pytest.approx(t_half, rel=1e-6)
    assert c.amplitude == pytest.approx(6.0, rel=1e-6)
    assert c.days_to_settle == pytest.approx(t_half * math.log2(6.0 / 0.3), rel=1e-6)
    assert c.settling is True and c.ok and not c.upper_bound
    rows = c.chart_rows()
    meas = [r for r in rows if r["series"] == "measured"]
    assert [r["day"] for r in meas] == [1.0, 3.0, 7.0] and all(r["simulated"] for r in rows)
    assert meas[0]["excess"] == pytest.approx(6.0 * 2 ** (-1 / t_half))
    fit = [r for r in rows if r["series"] == "fitted"]
    assert fit[0]["day"] == 0 and fit[0]["excess"] == pytest.approx(6.0, rel=1e-6)


def test_noisy_series_still_close():
    c = simulated(2.0, wobble=0.3)  # +0.3 a* at day 3 (a re-photographing error)
    assert c.half_life_days == pytest.approx(2.0, rel=0.15)


def test_slower_than_previous_sessions_is_said_in_plain_words():
    prev = [simulated(1.5, label="S1"), simulated(1.7, label="S2"), simulated(1.4, label="S3")]
    cur = simulated(3.0, label="S4")
    msg = compare_recovery(cur, prev)
    assert msg and msg.startswith("Recovery is slower than after this patient's previous sessions")
    assert "3.0 days" in msg and "1.5 days" in msg and "simulated" in msg
    # within the margin: nothing said
    assert compare_recovery(simulated(1.5 * (1 + SLOWER_MARGIN) * 0.95), prev) is None
    assert compare_recovery(simulated(1.0), prev) is None
    # no previous sessions: nothing to compare with
    assert compare_recovery(cur, []) is None


def test_not_settling_is_slower():
    cur = recovery_curve([(1, 14.0), (3, 14.5), (7, 15.0)], baseline=10.0, noise=0.3)
    assert cur.settling is False and math.isnan(cur.half_life_days) and "did not go down" in cur.reason
    msg = compare_recovery(cur, [simulated(1.5)])
    assert msg and "not going down" in msg


def test_not_computable_is_nan_with_reason():
    one = recovery_curve([(2, 15.0)], baseline=10.0, noise=0.3)
    assert math.isnan(one.half_life_days) and "at least 2" in one.reason
    settled = recovery_curve([(1, 10.1), (3, 10.0)], baseline=10.0, noise=0.3)
    assert math.isnan(settled.half_life_days) and settled.settling is True and "settled" in settled.reason
    nobase = recovery_curve([(1, 12.0), (3, 11.0)], baseline=float("nan"), noise=0.3)
    assert math.isnan(nobase.half_life_days) and "pre-session" in nobase.reason
    d = nobase.to_dict()
    assert d["half_life_days"] is None and d["baseline"] is None


def test_single_measurable_point_gives_an_upper_bound():
    c = recovery_curve([(1, 14.0), (3, 10.1)], baseline=10.0, noise=0.5)
    assert c.upper_bound and c.half_life_days == pytest.approx(2 / math.log2(4.0 / 0.5))
    # an upper bound is not used as a "usual" half-life
    assert compare_recovery(simulated(3.0), [c]) is None


@pytest.mark.parametrize("pts", [[(0, 12.0), (3, 11.0)], [(1, 12.0), (15, 11.0)], [(1, 12.0), (1, 11.0)],
                                 [(1, "x"), (2, 11.0)], [(1,)]])
def test_bad_points_are_one_line_errors(pts):
    with pytest.raises(UsageError) as e:
        recovery_curve(pts, baseline=10.0)
    assert "\n" not in str(e.value)


def test_noise_floor_is_positive():
    assert noise_floor() > 0 and noise_floor("no.such_metric") > 0


def test_curves_from_sessions_and_rows():
    """Recovery sessions linked to their treatment session by parent_session_id (SIMULATED values)."""
    import datetime as dt

    d0 = dt.date(2026, 3, 1)
    sessions = [
        {"id": 1, "date": d0, "kind": "treatment", "parent_session_id": None},
        {"id": 2, "date": d0 + dt.timedelta(days=1), "kind": "recovery", "parent_session_id": 1},
        {"id": 3, "date": d0 + dt.timedelta(days=3), "kind": "recovery", "parent_session_id": 1},
        {"id": 4, "date": d0 + dt.timedelta(days=7), "kind": "recovery", "parent_session_id": 1},
        {"id": 5, "date": d0 + dt.timedelta(days=30), "kind": "treatment", "parent_session_id": None},
        {"id": 6, "date": d0 + dt.timedelta(days=31), "kind": "recovery", "parent_session_id": 5},
        {"id": 7, "date": d0 + dt.timedelta(days=33), "kind": "recovery", "parent_session_id": 5},
        {"id": 8, "date": d0 + dt.timedelta(days=60), "kind": "treatment", "parent_session_id": None},
    ]
    val = {1: 10.0, 2: 10 + 6 * 2 ** (-1 / 1.5), 3: 10 + 6 * 2 ** (-3 / 1.5), 4: 10 + 6 * 2 ** (-7 / 1.5),
           5: 11.0, 6: 11 + 6 * 2 ** (-1 / 3), 7: 11 + 6 * 2 ** (-3 / 3), 8: 10.5}
    rows = [{"session_id": k, "session_index": k, "metric": "redness.cheeks_nose.a_star_mean", "value": v,
             "unit": "CIELAB a* (D65)", "region": "face", "view": "front", "simulated": "simulated"}
            for k, v in val.items()]
    rows.append({"session_id": 2, "metric": "redness.a_star_mean", "value": 99.0, "region": "face"})
    curves = curves_from_sessions(rows, sessions)
    assert [c.label for c in curves] == ["Session 1 (2026-03-01)", "Session 5 (2026-03-31)"]
    assert curves[0].metric == "redness.cheeks_nose.a_star_mean" and curves[0].simulated
    assert [d for d, _ in curves[0].points] == [1.0, 3.0, 7.0]
    assert curves[0].half_life_days == pytest.approx(1.5, rel=0.05)
    assert curves[1].baseline == 11.0 and curves[1].half_life_days == pytest.approx(3.0, rel=0.05)
    assert "slower" in compare_recovery(curves[1], curves[:1])
