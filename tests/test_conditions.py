"""Capture conditions: validation, plain differences, stored with the photo (and in archives),
as is the verdict of the check before keeping."""

from __future__ import annotations

import datetime as dt

import pytest

from analyzer.conditions import CaptureConditions, conditions_from, differences, differences_text
from analyzer.errors import UsageError
from analyzer.store import InvalidInput, Store
from tests.conftest import photo_path


def test_validation_and_differences():
    assert conditions_from({}) is None
    assert conditions_from({"light_source": "flash"}) == CaptureConditions(light_source="flash")
    with pytest.raises(UsageError, match="light source 'candle'"):
        conditions_from({"light_source": "candle"})
    with pytest.raises(UsageError, match="makeup must be yes, no or not said"):
        conditions_from({"makeup": "a little"})
    with pytest.raises(UsageError, match="unknown field"):
        conditions_from({"flash": True})
    here = {"light_source": "daylight", "polarised": True, "makeup": True, "reference": "none"}
    base = {"light_source": "flash", "polarised": False, "makeup": False, "reference": "grey_card"}
    d = differences(here, base)
    assert d == ["light: daylight (window) here, flash at baseline", "polarised light: yes here, no at baseline",
                 "make-up: yes here, no at baseline", "colour reference: none here, grey card at baseline"]
    assert differences_text(d).startswith("Capture conditions differ from the baseline photo (light: daylight")
    # not said on one side: not compared; the same: nothing to say
    assert differences({"light_source": "flash"}, {"makeup": True}) == []
    assert differences(base, dict(base)) == [] and differences_text([]) is None
    assert differences(None, base) == []


def test_stored_with_the_photo_and_archived(tmp_path):
    data = photo_path("faces/lisa/lisa1.jpg").read_bytes()
    with Store(data_dir=tmp_path / "a") as st:
        p = st.create_patient("C-1", "Cond Test")
        ser = st.create_series(p.id, body_area="face", concerns=[])
        sess = st.add_session(ser.id, date=dt.date(2026, 1, 1))
        ph = st.add_photo(sess.id, view="front", data=data, filename="l1.jpg")
        assert ph.capture_conditions is None
        rec = st.set_capture_conditions(ph.id, {"light_source": "ring_light", "makeup": False})
        assert rec.capture_conditions == {"light_source": "ring_light", "polarised": None, "makeup": False,
                                          "reference": None}
        assert st.get_photo(ph.id).capture_conditions == rec.capture_conditions
        with pytest.raises(InvalidInput, match="light source"):
            st.set_capture_conditions(ph.id, {"light_source": "moon"})
        assert st.get_photo(ph.id).capture_conditions == rec.capture_conditions  # nothing written
        chk = {"ok": False, "verdict": "Hold still and let the camera focus on the face: the photo is blurred.",
               "failed": [{"name": "sharpness", "fix": "Hold still"}], "size": {"width": 600, "height": 800}}
        assert st.set_prekeep_check(ph.id, chk).prekeep_check == chk
        with pytest.raises(InvalidInput, match="ok and verdict"):
            st.set_prekeep_check(ph.id, {"ok": "maybe"})
        archive = tmp_path / "p.zip"
        st.export_patient(p.id, archive)
    with Store(data_dir=tmp_path / "b") as st2:
        q = st2.import_archive(archive)
        sess2 = st2.list_sessions(st2.list_series(q.id)[0].id)[0]
        assert st2.list_photos(sess2.id)[0].capture_conditions == rec.capture_conditions
        assert st2.list_photos(sess2.id)[0].prekeep_check == chk
        assert st2.set_capture_conditions(st2.list_photos(sess2.id)[0].id, None).capture_conditions is None
