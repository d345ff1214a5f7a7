"""ui.concerns in Streamlit's AppTest (tests/apps/concerns_app.py, a small session page):
the checklist's flags show on the session page; the recovery chart of a simulated 1-3-7-day
series; the series' concern leads the measures."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analyzer.recovery import recovery_curve
from analyzer.screening import PHYSICIAN_ADVICE, validate_screening

APP = str(Path(__file__).parent / "apps" / "concerns_app.py")


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def _warnings(at: AppTest) -> str:
    return "\n".join(w.value for w in at.warning)


def test_no_flags_when_nothing_ticked():
    at = _app()
    assert "No screening checklist was recorded" in "\n".join(i.value for i in at.info)
    at.button[0].click().run()  # save an empty checklist
    assert not at.exception
    assert not at.warning
    assert any("nothing flagged" in s.value for s in at.success)


def test_ticked_items_show_physician_warning_on_session_page():
    at = _app()
    at.checkbox(key="scr_sunburn").check()
    at.checkbox(key="scr_recent_fillers").check()
    at.date_input(key="scr_recent_fillers_date").set_value("2026-11-06")
    at.button[0].click().run()
    assert not at.exception
    text = _warnings(at)
    assert PHYSICIAN_ADVICE in text
    assert "Sunburn" in text
    assert "Recent dermal fillers (on 2026-11-06, 14 days before this session)" in text
    assert "Pregnant" not in text  # only the ticked items
    stored = at.session_state["stored_screening"]
    assert stored["answers"]["sunburn"] is True and stored["dates"] == {"recent_fillers": "2026-11-06"}
    assert len(at.session_state["flags_shown"]) == 2


def test_dated_item_without_date_is_a_one_line_error_and_nothing_stored():
    at = _app()
    at.checkbox(key="scr_recent_botox").check()
    at.button[0].click().run()
    assert not at.exception
    assert len(at.error) == 1 and "give the date" in at.error[0].value
    assert "\n" not in at.error[0].value
    assert "stored_screening" not in at.session_state


def test_stored_checklist_flags_show_without_the_form():
    """A checklist stored with the session earlier (e.g. read back from the store) is shown."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["stored_screening"] = validate_screening(
        {"context": "pre_session", "answers": {"pregnant_or_breastfeeding": True, "keloid_history": True}})
    at.run()
    assert not at.exception
    text = _warnings(at)
    assert "Pregnant or breastfeeding: consult a physician before treatment." in text
    assert "History of keloid scars: consult a physician before treatment." in text


def test_recovery_chart_from_simulated_1_3_7_day_series():
    # SIMULATED: two earlier sessions settle with a half-life of ~1.5 days, this one ~3 days
    prev = [recovery_curve([(1, 10 + 6 * 2 ** (-1 / 1.5)), (3, 10 + 6 * 2 ** (-3 / 1.5)), (7, 10 + 6 * 2 ** (-7 / 1.5))],
                           baseline=10.0, label=f"Session {i}", noise=0.3, simulated=True) for i in (1, 2)]
    cur = recovery_curve([(1, 10 + 6 * 2 ** (-1 / 3)), (3, 10 + 6 * 2 ** (-3 / 3)), (7, 10 + 6 * 2 ** (-7 / 3))],
                         baseline=10.0, label="Session 3", noise=0.3, simulated=True)
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["recovery_curves"] = prev + [cur]
    at.run()
    assert not at.exception
    assert any("SIMULATED" in s.value for s in at.subheader)
    msg = at.session_state["recovery_message"]
    assert msg is not None and "slower" in msg and "3.0 days" in msg and "1.5 days" in msg
    assert msg in _warnings(at)
    caps = "\n".join(c.value for c in at.caption)
    assert "Session 3: redness halves in 3.0 days" in caps
    assert "Swelling is not measured" in caps
    assert len(at.get("vega_lite_chart")) == 1


def test_concern_measures_lead_for_an_acne_scar_series():
    rows = []
    for i, (cnt, rough) in enumerate(((12, 2.0), (9, 1.8)), start=1):
        rows += [
            {"metric": "texture.roughness", "value": rough, "unit": "L*", "session_index": i,
             "session_date": f"2026-0{i}-01", "region": "face", "label": "texture roughness"},
            {"metric": "acne_scars.scar_count", "value": cnt, "unit": "count", "session_index": i,
             "session_date": f"2026-0{i}-01", "region": "face"},
            {"metric": "redness.a_star_mean", "value": 12.0, "unit": "a*", "session_index": i,
             "session_date": f"2026-0{i}-01", "region": "face", "label": "redness"},
        ]
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["rows"] = rows
    at.session_state["concerns"] = ["acne_scars"]
    at.run()
    assert not at.exception
    order = at.session_state["order_shown"]
    assert order[0] == "acne_scars.scar_count"
    assert order.index("texture.roughness") < order.index("redness.a_star_mean")
    heads = [s.value for s in at.subheader]
    assert "Acne scars" in heads


@pytest.mark.parametrize("concern,first", [("redness", "redness.red_area_fraction"),
                                           ("pigmentation", "pigmentation.spot_area_fraction")])
def test_concern_without_own_rows_lets_its_general_metrics_lead(concern, first):
    rows = [{"metric": k, "value": 1.0, "unit": "", "session_index": 1, "session_date": "2026-01-01",
             "region": "face"} for k in ("texture.roughness", "redness.a_star_mean", "redness.red_area_fraction",
                                         "pigmentation.spot_area_fraction")]
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["rows"] = rows
    at.session_state["concerns"] = [concern]
    at.run()
    assert not at.exception
    order = at.session_state["order_shown"]
    assert order.index(first) < order.index("texture.roughness")
