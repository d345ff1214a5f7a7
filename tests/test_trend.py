"""The series verdict (analyzer.trend): improving, plateau since session N, worse, no measurable
change, on simulated series with noise at the size the noise band says, and on a real series of
repeat photos of one unchanged face (lisa 1-4: nothing may be called a change there).

The simulated series are SIMULATED: value = a known course + Gaussian noise whose 95th
percentile of |difference between two shots| is the noise band (sd = band / (1.96 * sqrt 2)).
Each course is drawn with 40 seeds; the share called right is asserted, not one lucky draw.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter

import numpy as np
import pytest

from analyzer.trend import series_verdict

BAND = 1.0
SIGMA = BAND / (1.96 * math.sqrt(2.0))
SEEDS = range(40)
SESSIONS = [1, 2, 3, 4, 5, 6]


def simulate(course, seed):
    rng = np.random.default_rng(seed)
    return list(np.asarray(course, float) + rng.normal(0.0, SIGMA, len(course)))


def texts(course, **kw):
    return Counter(series_verdict(SESSIONS[: len(course)], simulate(course, s), noise_band=BAND, **kw).text
                   for s in SEEDS)


def test_steady_improvement_is_improving_with_its_rate():
    course = [10.0 - 1.0 * i for i in range(6)]  # one noise band better per session
    c = texts(course)
    assert c["improving"] >= 0.9 * len(SEEDS), c
    assert c["worse"] == 0 and c["no measurable change"] == 0, c
    v = series_verdict(SESSIONS, simulate(course, 0), noise_band=BAND)
    assert v.verdict == "improving" and v.n_used == 6 and v.n_left_out == 0
    assert v.slope_low <= -1.0 <= v.slope_high and v.slope_high < 0  # the range holds the true -1 per session
    assert "per session (95% range" in v.range_text()


def test_plateau_after_session_3():
    course = [10.0, 8.0, 6.0, 6.0, 6.0, 6.0]  # two noise bands better per session, then flat
    c = texts(course)
    assert c["plateau since session 3"] >= 0.85 * len(SEEDS), c
    assert c["worse"] == 0 and c["no measurable change"] == 0, c
    v = series_verdict(SESSIONS, simulate(course, 0), noise_band=BAND)
    assert v.text == "plateau since session 3" and v.plateau_since == 3 and v.verdict == "plateau"


def test_pure_noise_is_no_measurable_change():
    c = texts([10.0] * 6)
    assert c["no measurable change"] >= 0.95 * len(SEEDS), c
    assert series_verdict(SESSIONS, simulate([10.0] * 6, 0), noise_band=BAND).text == "no measurable change"


def test_worse_and_direction():
    course = [10.0 + 1.0 * i for i in range(6)]
    assert texts(course)["worse"] >= 0.9 * len(SEEDS)
    # higher is better (e.g. hair strand density): the same course is improving
    assert texts(course, lower_is_better=False)["improving"] >= 0.9 * len(SEEDS)


def test_only_comparable_points_count_and_the_left_out_are_named():
    course = [10.0 - 1.0 * i for i in range(6)]
    vals = simulate(course, 1)
    vals[2] = 30.0  # a wild value at a can't-tell session: must not enter the fit
    comp = [True, True, False, True, True, True]
    vals[4] = None
    v = series_verdict(SESSIONS, vals, noise_band=BAND, comparable=comp,
                       reasons=[None, None, "can't tell: the lighting differs", None, None, None],
                       labels=[1, 3, 4, 6, 7, 8])
    assert v.n_used == 4 and v.n_left_out == 2
    assert v.left_out == ((4, "can't tell: the lighting differs"), (7, "no value"))
    assert v.verdict == "improving"
    # too few comparable points: can't tell, never a verdict
    v = series_verdict([1, 2, 3], [10.0, 5.0, 1.0], noise_band=BAND, comparable=[True, False, True])
    assert v.verdict == "cant_tell" and "2 comparable sessions" in v.text and math.isnan(v.slope)
    # no noise band: can't tell
    assert series_verdict([1, 2, 3], [3, 2, 1], noise_band=float("nan")).verdict == "cant_tell"


# ------------------------------------------------------------------ real repeat photos
@pytest.fixture(scope="module")
def repeat_series(tmp_path_factory, lisa_paths):
    """Lisa 1-4 (one unchanged face, repeat photos) as four sessions of one series, analysed."""
    from analyzer import service

    data = tmp_path_factory.mktemp("repeat") / "data"
    store = service.open_store(data_dir=data)
    pat, ser = service.create_patient_with_series(store, code="REP-1", display_name="Repeat",
                                                  concerns=["redness", "hyperpigmentation"], consent_photos=True)
    day = dt.date(2026, 1, 5)
    for i, p in enumerate(sorted(lisa_paths)[:4]):
        service.add_session_with_photos(store, ser.id, date=day + dt.timedelta(days=28 * i),
                                        photos=[("front", p.read_bytes(), p.name)])
    service.analyze_series(store, ser.id)
    yield store, ser
    store.close()


@pytest.mark.slow
def test_real_repeat_series_calls_nothing_a_change(repeat_series):
    from analyzer.rows import series_verdict_rows

    store, ser = repeat_series
    rows = series_verdict_rows(store, ser.id)
    assert len(rows) >= 5
    told = [r for r in rows if r["verdict"] != "cant_tell"]
    assert told, rows  # the comparable measures get a verdict
    assert all(r["verdict"] == "no_change" for r in told), [(r["metric"], r["text"]) for r in told]
    # absolute colour without a chart is can't-tell at every follow-up: those points are left out
    left = [r for r in rows if r["left_out"]]
    assert all("can't tell" in r["left_out_reasons"] for r in left)
    print({r["metric"]: (r["text"], r["used"], r["left_out"]) for r in rows})
