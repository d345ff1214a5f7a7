"""Done-when figures of the verdict on real photos without a colour chart (analyzer.evaluation.repeat;
the same figures in bench/RESULTS.md and docs/metrics.md).

- Real no-change pairs (one unchanged face, no chart), through compare over the face and both
  cheeks: within a session (lisa i/j, zoom i/j, London neutral/smiling) and across two sessions
  (lisa <-> zoom): at most 5 % of metric changes are called beyond noise.
- A SIMULATED -3 a* on both cheeks of the follow-up of each lisa <-> zoom pair is called a
  decrease beyond noise by some redness measure in at least 80 % of the pairs, never an increase.

Slow (about 3 minutes of CPU). The cross-session pairs are taken in one direction here (16 pairs,
not the 32 of the bench: a pair and its mirror are the same two photos), and the two kinds of pair
are separate test items, so two workers share them; bench/RESULTS.md gives the figures on every
pair in both directions.
"""

from __future__ import annotations

import pytest

from analyzer.evaluation import repeat as rev

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pairs(photos_dir):
    return rev.repeat_pairs(photos_dir, both_directions=False)


@pytest.mark.parametrize("kind", ["within", "across"])
def test_no_false_changes_on_real_repeat_photos(pairs, kind):
    assert len(pairs[kind]) == {"within": 22, "across": 16}[kind]
    rows = rev.eval_repeat_pairs({kind: pairs[kind]})
    s = rev.summarise(rows)
    d = s[kind]
    assert d["all"]["n"] > 800
    assert d["all"]["beyond"] <= 0.05, (kind, d["all"])
    # and among the changes that were given a verdict (the rest can't be told)
    told = 1.0 - d["all"]["not_comparable"]
    assert told > 0.4, (kind, d["all"])
    assert d["all"]["beyond"] / told <= 0.05, (kind, d["all"])
    # absolute colour without a chart is never a verdict, the relative measures always are
    assert d["colour_absolute"]["not_comparable"] == 1.0
    for k in ("redness.a_star_reference_balanced", "redness.a_star_vs_reference"):
        assert d["per_metric"][k]["not_comparable"] == 0.0, k
    # every can't-tell has a plain reason
    assert all(r["verdict_reason"] for r in rows if r["metric"] and r["within_noise"] is None)


def test_injected_redness_decrease_is_caught_across_sessions(pairs):
    r = rev.eval_injected_redness(pairs["across"], da=-3.0)
    assert r["simulated"] and r["n"] == 2 * len(pairs["across"]) == 32
    assert r["decrease_share"] >= 0.8, r["decrease_share"]
    assert r["increase_share"] == 0.0, [k for k, v in r["per_pair"].items() if v["increase"]]
