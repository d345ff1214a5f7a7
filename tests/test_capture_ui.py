"""The app's capture steps (AppTest): the check before keeping on uploads, Retake, the views a
session still lacks, and the capture guide (page, and inline before a new series' first upload)."""

from __future__ import annotations

import datetime as dt

from analyzer import service
from analyzer.views import missing_views, required_views, view_choices, view_label
from tests.access_support import sign_in_practitioner
from tests.conftest import photo_path
from tests.test_app import data, demo_dir, env, fast_hasher, new_app, seeded, store_of, texts  # noqa: F401


def test_required_and_missing_views():
    assert required_views([]) == ["front", "left45", "right45"]
    assert required_views(["closeup:left_cheek", "front"]) == ["front", "closeup:left_cheek"]
    assert missing_views(["front", "left45"], ["left45"]) == ["front"]
    assert {"left90", "right90", "closeup:scalp"} <= set(view_choices())
    assert view_label("closeup:upper_arm") == "Close-up: upper arm"
    assert service is not None


def _open_sessions(data_dir, patient, series):
    at = sign_in_practitioner(new_app(), data_dir)
    at.session_state["patient_id"] = patient.id
    at.session_state["series_id"] = series.id
    at.run()
    at.switch_page("app_pages/sessions.py").run()
    assert not at.exception
    return at


def test_capture_guide_page(data):  # noqa: F811 - the fixture of tests.test_app
    at = sign_in_practitioner(new_app(), data)
    at.switch_page("app_pages/capture_guide.py").run()
    assert not at.exception
    body = texts(at)
    assert "grey card" in body and "Hair back" in body and "Front" in body
    assert len(at.get("download_button")) == 1


def test_first_upload_of_new_series_shows_guide_then_checks_before_keeping(data):  # noqa: F811
    s = store_of(data)
    p, ser = service.create_patient_with_series(s, code="CAP-1", display_name="Capture Test",
                                                consent_photos=True)
    base, _, _ = service.add_session_with_photos(s, ser.id, date=dt.date(2026, 1, 10))
    at = _open_sessions(data, p, ser)
    # no photo in the series yet: the guide is open above the upload
    assert "Hair back" in texts(at)
    # the baseline photo: checked on its own, passes, kept at once
    at.file_uploader[0].set_value(("z30.jpg", photo_path("faces/zoom/30cm.jpg").read_bytes(), "image/jpeg"))
    at.button(key="FormSubmitter:upload_form-Upload and analyse").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [x.filename for x in s.list_photos(base.id)] == ["z30.jpg"]
    assert "Hair back" not in texts(at)  # the guide was for the first upload
    # a second session: front is required (the baseline has it) and still missing
    later, _, _ = service.add_session_with_photos(s, ser.id, date=dt.date(2026, 2, 10))
    at.run()
    assert "Views still missing: Front." in texts(at)
    # a photo taken farther away waits with the one fix; Retake discards it
    at.selectbox(key="up_session").set_value(later.id).run()
    at.file_uploader[0].set_value(("z60.jpg", photo_path("faces/zoom/60cm.jpg").read_bytes(), "image/jpeg"))
    at.button(key="FormSubmitter:upload_form-Upload and analyse").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert s.list_photos(later.id) == []
    warn = [w.value for w in at.warning if "closer" in w.value]
    assert warn and warn[0].startswith("Move about") and "cm closer" in warn[0], [w.value for w in at.warning]
    at.button(key="prekeep_retake_0_z60.jpg").click().run()
    assert not at.exception
    assert s.list_photos(later.id) == []
    assert not any("closer" in w.value for w in at.warning)
    # a matching photo passes and is kept at once
    at.file_uploader[0].set_value(("z30b.jpg", photo_path("faces/zoom/30cm.jpg").read_bytes(), "image/jpeg"))
    at.button(key="FormSubmitter:upload_form-Upload and analyse").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [x.filename for x in s.list_photos(later.id)] == ["z30b.jpg"]
    assert "Views still missing: Front." not in texts(at)


def test_conditions_recorded_and_a_difference_is_said(data):  # noqa: F811
    s = store_of(data)
    p, ser = service.create_patient_with_series(s, code="CAP-2", display_name="Conditions Test",
                                                consent_photos=True)
    z30 = photo_path("faces/zoom/30cm.jpg").read_bytes()
    base, _, _ = service.add_session_with_photos(s, ser.id, date=dt.date(2026, 1, 10),
                                                 photos=[("front", z30, "base.jpg")])
    s.set_capture_conditions(s.list_photos(base.id)[0].id, {"light_source": "flash", "makeup": False})
    later, _, _ = service.add_session_with_photos(s, ser.id, date=dt.date(2026, 2, 10))
    at = _open_sessions(data, p, ser)
    assert at.selectbox(key="cond_light").value == "flash"  # the series' last conditions by default
    at.selectbox(key="up_session").set_value(later.id).run()
    at.selectbox(key="cond_light").set_value("daylight").run()
    at.file_uploader[0].set_value(("later.jpg", z30, "image/jpeg"))
    at.button(key="FormSubmitter:upload_form-Upload and analyse").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    kept = s.list_photos(later.id)
    assert [x.filename for x in kept] == ["later.jpg"]
    assert kept[0].capture_conditions == {"light_source": "daylight", "polarised": None, "makeup": False,
                                          "reference": None}
    assert kept[0].prekeep_check["ok"] is True and kept[0].prekeep_check["failed"] == []
    warn = [w.value for w in at.warning if w.value.startswith("Capture conditions differ")]
    assert warn and "light: daylight (window) here, flash at baseline" in warn[0]


def test_kept_photo_that_failed_keeps_its_caveat(data):  # noqa: F811
    s = store_of(data)
    p, ser = service.create_patient_with_series(s, code="CAP-3", display_name="Keep Anyway",
                                                consent_photos=True)
    z30 = photo_path("faces/zoom/30cm.jpg").read_bytes()
    service.add_session_with_photos(s, ser.id, date=dt.date(2026, 1, 10), photos=[("front", z30, "base.jpg")])
    later, _, _ = service.add_session_with_photos(s, ser.id, date=dt.date(2026, 2, 10))
    at = _open_sessions(data, p, ser)
    at.selectbox(key="up_session").set_value(later.id).run()
    at.file_uploader[0].set_value(("far.jpg", photo_path("faces/zoom/60cm.jpg").read_bytes(), "image/jpeg"))
    at.button(key="FormSubmitter:upload_form-Upload and analyse").click().run()
    assert s.list_photos(later.id) == []
    at.button(key="prekeep_keep_0_far.jpg").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    kept = s.list_photos(later.id)
    assert [x.filename for x in kept] == ["far.jpg"]
    c = kept[0].prekeep_check
    assert c["ok"] is False and c["failed"][0]["name"] == "distance" and "closer" in c["verdict"]
    assert c["size"] == {"width": 1152, "height": 1536}
    warn = [w.value for w in at.warning if "Kept although the check before keeping said" in w.value]
    assert warn and "cm closer" in warn[0]
