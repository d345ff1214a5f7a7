"""What a practitioner meets in the app (issue 18), through Streamlit's AppTest: forms that keep
what was typed after an error, consent that counts, settings out of reach before sign-in.

Same fixtures as tests/test_app.py: a half-size demo, a private data folder per test.
"""

from __future__ import annotations

import datetime as dt

from analyzer import service
from tests.access_support import sign_in_practitioner
from tests.test_app import (  # noqa: F401 - fixtures
    data,
    demo_dir,
    env,
    fast_hasher,
    new_app,
    seeded,
    texts,
)


def _store(d):
    return service.open_store(data_dir=d)


def test_new_patient_form_keeps_what_was_typed_after_a_validation_error(data):  # noqa: F811 - the fixture
    at = sign_in_practitioner(new_app(), data)
    at.switch_page("app_pages/patients.py").run()
    at.text_input(key="np_code").input("P-0777")
    at.text_input(key="np_name").input("Kept Input")
    at.number_input(key="np_birth").set_value(1984)
    at.selectbox(key="np_fitz").set_value(3)
    at.checkbox(key="np_cp").check()
    at.checkbox(key="np_cr").check()
    at.text_area(key="np_notes").input("prefers mornings")
    at.checkbox(key="np_scr_keloid_history").check()
    at.checkbox(key="np_scr_recent_botox").check()  # ticked, but no date: a validation error
    at.button(key="FormSubmitter:new_patient-Create patient").click().run()
    assert not at.exception
    assert [e.value for e in at.error] and "give the date" in at.error[0].value
    assert not any(p.code == "P-0777" for p in _store(data).list_patients())  # nothing stored
    # everything typed is still there
    assert at.text_input(key="np_code").value == "P-0777"
    assert at.text_input(key="np_name").value == "Kept Input"
    assert at.number_input(key="np_birth").value == 1984
    assert at.selectbox(key="np_fitz").value == 3
    assert at.checkbox(key="np_cp").value and at.checkbox(key="np_cr").value
    assert at.text_area(key="np_notes").value == "prefers mornings"
    assert at.checkbox(key="np_scr_keloid_history").value and at.checkbox(key="np_scr_recent_botox").value

    # the missing date given: the patient is created, the list shows it at once, the form is empty
    at.date_input(key="np_scr_recent_botox_date").set_value(dt.date.today() - dt.timedelta(days=3))
    at.button(key="FormSubmitter:new_patient-Create patient").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    p = next(p for p in _store(data).list_patients() if p.code == "P-0777")
    assert p.birth_year == 1984 and p.fitzpatrick == 3 and p.consent_photos and p.consent_reports
    assert "Created Kept Input (P-0777)" in texts(at)
    assert "Kept Input" in "\n".join(m.value for m in at.markdown)  # the list above, same run
    assert at.text_input(key="np_code").value == "" and not at.checkbox(key="np_cp").value


def test_photos_and_reports_are_refused_without_consent_with_a_plain_message(data):  # noqa: F811 - the fixture
    import pytest

    from analyzer.errors import UsageError
    from tests.test_app_support import small_photos

    s = _store(data)
    p, ser = service.create_patient_with_series(s, code="NC-1", display_name="No Consent",
                                                consent_photos=False, consent_reports=False)
    photo = small_photos()["baseline"]
    # the use cases refuse, in one plain line, and store nothing
    with pytest.raises(UsageError, match="no photo consent") as e:
        service.add_session_with_photos(s, ser.id, date=dt.date(2026, 1, 10), photos=[("front", photo, "a.jpg")])
    assert "\n" not in str(e.value) and "Consents to photos being stored" in str(e.value)
    assert s.list_sessions(ser.id) == []  # not even the session
    sess, _, _ = service.add_session_with_photos(s, ser.id, date=dt.date(2026, 1, 10))  # a session alone is fine
    with pytest.raises(UsageError, match="no photo consent"):
        service.add_photos(s, sess.id, [("front", photo, "a.jpg")])
    assert s.list_photos(sess.id) == []
    with pytest.raises(UsageError, match="no report consent"):
        service.patient_report_pdf(s, p.id, ser.id)
    from analyzer import report

    with pytest.raises(UsageError, match="no report consent"):  # the patient's own download goes here too
        report.report_from_store(s, p.id, ser.id)

    # the app says it where the upload would be, and offers no uploader
    at = sign_in_practitioner(new_app(), data)
    at.session_state["patient_id"] = p.id
    at.session_state["series_id"] = ser.id
    at.switch_page("app_pages/sessions.py").run()
    assert not at.exception
    assert any("no photo consent" in w.value for w in at.warning)
    assert not at.get("file_uploader") and not at.get("camera_input")
    # the patient view of an analysed patient without report consent (the demo patient, consent
    # withdrawn) says so where the report button would be, and offers no report
    demo = service.demo_patient(s)
    s.update_patient(demo.id, consent_reports=False)
    at = sign_in_practitioner(new_app(), data)
    at.session_state["patient_mode_id"] = demo.id
    at.run()
    assert not at.exception and "Your progress" in texts(at)
    assert any("no report consent" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "pv_report"] and not at.get("download_button")

    # consents are editable after creation: given, photos and reports are accepted
    at = sign_in_practitioner(new_app(), data)
    at.session_state["patient_id"] = p.id
    at.session_state["series_id"] = ser.id
    at.switch_page("app_pages/patients.py").run()
    at.checkbox(key=f"ep{p.id}_cp").check()
    at.checkbox(key=f"ep{p.id}_cr").check()
    at.text_input(key=f"ep{p.id}_name").input("Now Consenting")
    at.button(key=f"FormSubmitter:edit_patient_{p.id}-Save changes").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    q = _store(data).get_patient(p.id)
    assert q.consent_photos and q.consent_reports and q.display_name == "Now Consenting"
    added, errors = service.add_photos(s, sess.id, [("front", photo, "a.jpg")])
    assert len(added) == 1 and not errors
    assert service.patient_report_pdf(s, p.id, ser.id)[:4] == b"%PDF"
    at.switch_page("app_pages/sessions.py").run()
    assert at.get("file_uploader") and not any("no photo consent" in w.value for w in at.warning)


def test_settings_cannot_be_changed_or_seen_before_sign_in(data, monkeypatch):  # noqa: F811 - the fixture
    from tests.access_support import ensure_practitioner

    ensure_practitioner(data)  # a clinic: the gate asks for a sign-in
    at = new_app().run()
    assert not at.exception
    with __import__("pytest").raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/settings.py")
    shown = texts(at)
    assert "Database URL" not in shown and "SQLite" not in shown and str(data) not in shown
    assert not any(k.startswith("set_") for k in [getattr(w, "key", "") or "" for w in at.text_input])
    assert service.read_settings(data) == {}

    # signed in: an unreachable database URL is refused after a connection test, and not saved
    at = sign_in_practitioner(new_app(), data)
    at.switch_page("app_pages/settings.py").run()
    at.text_input(key="set_db_url").input("postgresql+psycopg://nobody@127.0.0.1:1/none")
    at.button(key="FormSubmitter:db_settings-Save").click().run()
    assert not at.exception
    assert [e.value for e in at.error] and at.error[0].value.startswith("Not saved")
    assert service.read_settings(data) == {}
    url = f"sqlite:///{data / 'other.sqlite3'}"  # a database that opens is saved, tested first
    at.text_input(key="set_db_url").input(url)
    at.button(key="FormSubmitter:db_settings-Save").click().run()
    assert not at.error and any("Connection tested" in x.value for x in at.success)
    assert service.read_settings(data) == {"database_url": url}


def _shrunk(path, side: int = 700) -> bytes:
    import io

    from PIL import Image

    im = Image.open(path).convert("RGB")
    im.thumbnail((side, side))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def test_wrong_person_photo_is_not_green_says_check_the_patient_and_can_be_deleted(data):  # noqa: F811
    from tests.conftest import photo_path
    from tests.test_app_support import small_photos

    s = _store(data)
    p, ser = service.create_patient_with_series(s, code="WP-1", display_name="Wrong Person",
                                                consent_photos=True)
    base, _, _ = service.add_session_with_photos(s, ser.id, date=dt.date(2026, 1, 10),
                                                 photos=[("front", small_photos()["baseline"], "base.jpg")])
    service.analyze_series(s, ser.id)
    later, _, _ = service.add_session_with_photos(s, ser.id, date=dt.date(2026, 2, 10))
    other = _shrunk(photo_path("faces/london_neutral/081_03.jpg"))  # another person

    at = sign_in_practitioner(new_app(), data)
    at.session_state["patient_id"] = p.id
    at.session_state["series_id"] = ser.id
    at.switch_page("app_pages/sessions.py").run()
    assert at.selectbox(key="up_session").value == later.id
    at.file_uploader[0].set_value(("other.jpg", other, "image/jpeg"))
    at.button(key="FormSubmitter:upload_form-Upload and analyse").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    # the check before keeping says it first: nothing is stored until the practitioner decides
    assert not s.list_photos(later.id)
    first = "\n".join(w.value for w in at.warning)
    assert "another person" in first and "check the patient" in first, first
    at.button(key="prekeep_keep_0_other.jpg").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert not any("stored and analysed" in x.value for x in at.success)  # never green
    warn = "\n".join(w.value for w in at.warning)
    assert "left out of the charts" in warn and "another person" in warn and "check the patient" in warn
    assert "same pose" not in warn
    (ph,) = s.list_photos(later.id)
    # delete it, after a question
    at.button(key=f"del_up_{ph.id}_ask").click().run()
    assert any("Delete the front photo" in w.value for w in at.warning)
    assert s.list_photos(later.id)  # not yet
    at.button(key=f"del_up_{ph.id}_yes").click().run()
    assert not at.exception and s.list_photos(later.id) == []
    assert [x.filename for x in s.list_photos(base.id)] == ["base.jpg"]

    # a session, after a question; Cancel keeps it
    at.button(key=f"del_session_{later.id}_ask").click().run()
    at.button(key=f"del_session_{later.id}_no").click().run()
    assert len(s.list_sessions(ser.id)) == 2
    at.button(key=f"del_session_{later.id}_ask").click().run()
    at.button(key=f"del_session_{later.id}_yes").click().run()
    assert not at.exception and [x.id for x in s.list_sessions(ser.id)] == [base.id]

    # a series and the patient, from the Patients page
    at.switch_page("app_pages/patients.py").run()
    at.button(key=f"del_series_{ser.id}_ask").click().run()
    at.button(key=f"del_series_{ser.id}_yes").click().run()
    assert not at.exception and s.list_series(p.id) == []
    at.button(key=f"del_patient_{p.id}_ask").click().run()
    at.button(key=f"del_patient_{p.id}_yes").click().run()
    assert not at.exception and not any(x.code == "WP-1" for x in s.list_patients())
    actions = [e.action for e in __import__("analyzer.auth", fromlist=["x"]).list_audit(
        s, __import__("analyzer.auth", fromlist=["x"]).authenticate(s, "anna", "correct horse battery"),
        patient_id=p.id)]
    assert {"delete.photo", "delete.session", "delete.series", "delete.patient"} <= set(actions)


def test_intake_botox_after_a_session_is_not_carried_onto_it(data):  # noqa: F811 - the fixture
    from analyzer.screening import flags

    scr = {"context": "intake", "answers": {"recent_botox": True}, "dates": {"recent_botox": "2026-11-27"}}
    assert flags(scr, on=dt.date(2026, 11, 1)) == []  # a session before the Botox: nothing to flag
    assert "Recent Botox" in flags(scr, on=dt.date(2026, 12, 1))[0]

    s = _store(data)
    from analyzer.screening import validate_screening

    p, ser = service.create_patient_with_series(s, code="BX-1", display_name="Later Injection")

    s.update_patient(p.id, screening=validate_screening(scr, today=dt.date(2026, 12, 4)))
    at = sign_in_practitioner(new_app(), data)
    at.session_state["patient_id"] = p.id
    at.session_state["series_id"] = ser.id
    at.switch_page("app_pages/sessions.py").run()
    assert at.checkbox(key="as_scr_recent_botox").value  # the intake is pre-filled
    at.date_input(key="as_date").set_value(dt.date(2026, 11, 1))
    at.button(key="FormSubmitter:add_session-Add session").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (sess,) = s.list_sessions(ser.id)
    assert sess.screening["answers"]["recent_botox"] is False and "recent_botox" not in sess.screening["dates"]
    assert not any("Screening flags" in w.value for w in at.warning), [w.value for w in at.warning]
    assert any("nothing flagged" in x.value for x in at.success)


def test_assign_views_of_several_files():
    v = ["front", "left45", "right45"]
    assert service.assign_views(["a.jpg"], "left45", v) == ["left45"]
    assert service.assign_views(["a.jpg", "b.jpg"], "left45", v) == ["left45", "front"]
    assert service.assign_views(["p_right45.jpg", "p_front.jpg"], "left45", v) == ["right45", "front"]
    assert service.assign_views(["x.jpg", "y_front.jpg", "z.jpg"], "right45", v) == ["right45", "front", "left45"]


SNAKE = __import__("re").compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")
METRIC_KEY = __import__("re").compile(r"\b[a-z_]+\.[a-z_]+(\.[a-z_*]+)?\b")


def _cells(df) -> list[str]:
    return [str(c) for c in df.columns] + [str(v) for v in df.astype(str).to_numpy().ravel()]


def test_tables_and_patient_charts_speak_plain_words(data):  # noqa: F811 - the fixture
    import json

    at = new_app().run()  # demo mode: the demo's progress page
    assert [t.value for t in at.title] == ["Progress"]
    for df in at.dataframe:
        cells = _cells(df.value)
        bad = [c for c in cells if c in ("None", "nan", "NaN") or SNAKE.search(c) or METRIC_KEY.fullmatch(c)]
        assert not bad, bad[:10]
    table = next(d.value for d in at.dataframe if "Measure" in d.value.columns and "Noise band (%)" in d.value.columns)
    assert "Session" in table.columns and "session_index" not in table.columns
    # the summary card and the chart give the noise band as the same figure
    card = next(m.value for m in at.markdown if "redness" in m.value and "noise band" in m.value)
    spec = json.dumps([c.proto.spec for c in at.get("vega_lite_chart")])
    band = __import__("re").search(r"(\d+)% noise band", card).group(1)
    assert f"\\u00b1{band} %" in spec or f"±{band} %" in spec, (card, band)

    # the patient's charts: no colour-science units
    at.switch_page("app_pages/patient_view.py").run()
    at.button(key="pv_enter").click().run()
    assert "Your progress" in texts(at)
    spec = json.dumps([c.proto.spec for c in at.get("vega_lite_chart")], ensure_ascii=False)
    assert spec and "CIELAB" not in spec and "MI units" not in spec and "D65" not in spec


def test_practitioner_gets_the_pdf_from_progress(data):  # noqa: F811 - the fixture
    at = new_app().run()  # demo mode: the demo's Progress page
    btn = [b for b in at.get("download_button") if b.proto.label == "Download the patient report (PDF)"]
    assert len(btn) == 1
    s = _store(data)
    demo = service.demo_patient(s)
    s.update_patient(demo.id, consent_reports=False)
    at = new_app().run()
    assert not [b for b in at.get("download_button") if "PDF" in b.proto.label]
    assert "no report consent" in texts(at)


def test_change_maps_have_a_colour_bar_and_red_means_more_pigment(data):  # noqa: F811 - the fixture
    import numpy as np

    from analyzer.render import heatmap
    from ui.common import MAP_NAMES, colour_bar_html

    # a patch that darkened (ΔL* < 0) is drawn red on the pigmentation map
    title, legend, kind, sign, ends, unit = MAP_NAMES["delta_L_star"]
    rgb = heatmap(sign * np.full((4, 4), -6.0, np.float32), kind=kind, alpha=1.0)
    assert rgb[0, 0, 0] > rgb[0, 0, 2] + 0.3  # red, not blue
    assert "red = darker" in legend and ends == ("lighter", "darker")
    bar = colour_bar_html(kind, ends, unit)
    assert "linear-gradient" in bar and "+10 L* (darker)" in bar and "−10 L* (lighter)" in bar

    at = new_app().run()
    at.switch_page("app_pages/review.py").run()
    assert not at.exception
    bars = [h for h in at.get("html") if "linear-gradient" in h.proto.body]
    assert len(bars) == 3  # one under each change map


def test_colour_reference_patch_can_be_drawn_on_the_photo(data):  # noqa: F811 - the fixture
    import numpy as np

    from ui.common import drawable_photo_spec, patch_from_selection

    # a box dragged on the photo (Vega-Lite interval selection, in the photo's own pixels)
    ev = {"selection": {"patch": {"x": [411.5, 285.2], "y": [140.2, 235.9]}}}
    assert patch_from_selection(ev, (600, 400)) == {"x": 285, "y": 140, "w": 127, "h": 96}
    assert patch_from_selection({"selection": {"patch": {"x": [590, 700], "y": [-5, 30]}}}, (600, 400)) == \
        {"x": 590, "y": 0, "w": 10, "h": 30}  # clipped to the photo
    assert patch_from_selection({"selection": {}}, (600, 400)) is None
    assert patch_from_selection({"selection": {"patch": {"x": [5, 6], "y": [5, 50]}}}, (600, 400)) is None
    spec = drawable_photo_spec(np.zeros((40, 60, 3), np.float32), (600, 400))
    assert spec["encoding"]["x"]["scale"]["domain"] == [0, 600] and spec["encoding"]["y"]["scale"]["domain"] == [400, 0]
    assert spec["width"] == "container"

    at = new_app().run()  # demo mode: the demo series
    at.switch_page("app_pages/sessions.py").run()
    s = _store(data)
    ser = s.list_series(service.demo_patient(s).id)[0]
    photo = s.list_photos(sorted(s.list_sessions(ser.id), key=lambda x: x.date)[1].id)[0]
    n = len(at.get("vega_lite_chart"))
    at.toggle(key=f"ref_draw_{photo.id}").set_value(True).run()
    assert not at.exception
    charts = at.get("vega_lite_chart")
    assert len(charts) == n + 1  # the photo to draw on


def test_upload_error_names_the_session_as_the_page_does(data):  # noqa: F811 - the fixture
    from tests.test_app_support import small_photos

    s = _store(data)
    p, ser = service.create_patient_with_series(s, code="UE-1", display_name="Upload Error", consent_photos=True)
    for day in (10, 20, 30):  # three sessions: the record id of the third is not 3 in this database
        sess, _, _ = service.add_session_with_photos(s, ser.id, date=dt.date(2026, 1, day))
    photos = small_photos()
    service.add_photos(s, sess.id, [("front", photos["baseline"], "first.jpg")])
    at = sign_in_practitioner(new_app(), data)
    at.session_state["patient_id"] = p.id
    at.session_state["series_id"] = ser.id
    at.switch_page("app_pages/sessions.py").run()
    at.selectbox(key="up_session").set_value(sess.id)
    at.file_uploader[0].set_value(("second.jpg", photos["redder"], "image/jpeg"))  # same view, no "replace"
    at.button(key="FormSubmitter:upload_form-Upload and analyse").click().run()
    assert not at.exception
    msg = at.error[0].value
    assert "Session 3 · 2026-01-30" in msg and f"session {sess.id} " not in msg, msg


def test_one_name_per_measure_in_the_concern_tables(data):  # noqa: F811 - the fixture
    at = new_app().run()  # demo: the series' concerns are redness and texture
    names = set()
    for df in at.dataframe:
        if "Measure" in df.value.columns:
            names |= set(df.value["Measure"])
    # the general redness metric keeps the name the charts and cards give it
    assert "redness" in names and not any("a star" in n or "Redness and rosacea:" in n for n in names), names
