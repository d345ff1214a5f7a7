"""The screening checklist: validation with one-line errors, plain-language flags."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from analyzer.errors import UsageError
from analyzer.screening import (
    PHYSICIAN_ADVICE,
    SCREENING_ITEMS,
    SCREENING_KEYS,
    empty_screening,
    flagged_keys,
    flags,
    is_flagged,
    validate_screening,
)

TODAY = dt.date(2026, 11, 20)


def test_every_item_the_issue_lists_is_on_the_checklist():
    text = " ".join(i.label.lower() for i in SCREENING_ITEMS)
    for word in ("pregnant", "breastfeeding", "active acne", "eczema", "psoriasis", "rosacea", "sunburn",
                 "infection", "open wounds", "keloid", "bleeding", "blood thinners", "radiation", "botox", "fillers"):
        assert word in text, word
    dated = {i.key for i in SCREENING_ITEMS if i.needs_date}
    assert dated == {"recent_radiation_therapy", "recent_botox", "recent_fillers"}
    assert len(set(SCREENING_KEYS)) == len(SCREENING_KEYS)


def test_normalised_form_is_complete_and_json_safe():
    s = validate_screening({"context": "intake", "answers": {"sunburn": True}, "notes": "  mild  "}, today=TODAY)
    assert set(s["answers"]) == set(SCREENING_KEYS)
    assert s["answers"]["sunburn"] is True and sum(s["answers"].values()) == 1
    assert s["notes"] == "mild" and s["context"] == "intake" and s["schema"] == "screening/1"
    assert json.loads(json.dumps(s)) == s
    assert validate_screening(s, today=TODAY) == s  # idempotent: a stored checklist reads back the same
    assert empty_screening()["answers"] == {k: False for k in SCREENING_KEYS}


def test_dates_parsed_and_kept_only_for_ticked_items():
    s = validate_screening({"answers": {"recent_botox": True},
                            "dates": {"recent_botox": dt.date(2026, 11, 1), "recent_fillers": "2026-10-01"}},
                           today=TODAY)
    assert s["dates"] == {"recent_botox": "2026-11-01"}
    s = validate_screening({"sunburn": True}, today=TODAY)  # top-level shortcut
    assert s["answers"]["sunburn"] is True


@pytest.mark.parametrize("bad,msg", [
    ({"answers": {"tattoo": True}}, "unknown screening item"),
    ({"sunburn": "yes"}, "yes or no"),
    ({"answers": {"sunburn": 1}}, "yes or no"),
    ({"answers": {"recent_fillers": True}}, "give the date"),
    ({"answers": {"recent_fillers": True}, "dates": {"recent_fillers": "last week"}}, "date like"),
    ({"answers": {"recent_fillers": True}, "dates": {"recent_fillers": "2026-12-01"}}, "in the future"),
    ({"dates": {"sunburn": "2026-11-01"}}, "takes no date"),
    ({"context": "discharge"}, "allowed: intake, pre_session"),
    ({"notes": "x" * 2001}, "too long"),
    ({"random": 1}, "unknown screening entry"),
    ("sunburn", "mapping"),
    (None, "missing"),
])
def test_bad_input_is_one_line_usage_error(bad, msg):
    with pytest.raises(UsageError, match=msg) as e:
        validate_screening(bad, today=TODAY)
    assert "\n" not in str(e.value)


def test_flags_are_plain_language_with_physician_advice():
    s = {"answers": {"pregnant_or_breastfeeding": True, "bleeding_disorder_or_blood_thinners": True,
                     "recent_radiation_therapy": True},
         "dates": {"recent_radiation_therapy": "2026-08-22"}}
    out = flags(s, on=TODAY)
    assert out == [
        f"Pregnant or breastfeeding: {PHYSICIAN_ADVICE}.",
        f"Bleeding disorder, or taking blood thinners: {PHYSICIAN_ADVICE}.",
        f"Recent radiation therapy (on 2026-08-22, 90 days before this session): {PHYSICIAN_ADVICE}.",
    ]
    assert flagged_keys(s) == ["pregnant_or_breastfeeding", "bleeding_disorder_or_blood_thinners",
                               "recent_radiation_therapy"]
    assert is_flagged(s)


def test_nothing_ticked_or_no_checklist_gives_no_flags():
    assert flags(None) == [] and flags({}) == [] and flags(empty_screening()) == []
    assert not is_flagged(empty_screening())
