"""AppTest on every page: renders without exceptions, and the key interactions work.

Each test gets its own data folder (SKIN_PROGRESS_DATA_DIR). The demo is a half-size copy of
sample_images/ (tests/test_app_support.py), seeded once per module and copied per test.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from analyzer import ANALYZER_VERSION, auth, service
from tests.access_support import sign_in_practitioner
from tests.test_app_support import REPO, copy_data, make_small_demo, small_photos

APP = str(REPO / "app.py")
PAGES = ["app_pages/patients.py", "app_pages/sessions.py", "app_pages/review.py", "app_pages/progress.py",
         "app_pages/patient_view.py"]
PRACTITIONER_PAGES = ["app_pages/settings.py", "app_pages/access.py"]  # never in demo mode
TIMEOUT = 120


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    """Argon2 at test cost: signing in stays real, only cheaper."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    return make_small_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, demo_dir):
    data = tmp_path_factory.mktemp("seeded") / "data"
    s = service.open_store(data_dir=data)
    service.ensure_demo(s, sample_dir=demo_dir)
    s.close()
    return data


@pytest.fixture
def env(tmp_path, monkeypatch, demo_dir):
    monkeypatch.delenv("SKIN_PROGRESS_DATABASE_URL", raising=False)
    monkeypatch.setenv("SKIN_PROGRESS_SAMPLE_DIR", str(demo_dir))
    monkeypatch.chdir(REPO)
    return tmp_path


@pytest.fixture
def data(env, seeded, monkeypatch):
    d = copy_data(seeded, env / "data")
    monkeypatch.setenv("SKIN_PROGRESS_DATA_DIR", str(d))
    return d


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [t.value for t in at.title]
    parts += [e.value for e in at.info] + [e.value for e in at.warning] + [e.value for e in at.success]
    parts += [e.value for e in at.error]
    return "\n".join(str(p) for p in parts)


def charts(at: AppTest) -> list:
    return at.get("vega_lite_chart")


def store_of(d):
    return service.open_store(data_dir=d)


# ------------------------------------------------------------------ first run
def test_first_run_seeds_demo_and_opens_on_its_progress_chart(env, monkeypatch):
    d = env / "fresh"
    monkeypatch.setenv("SKIN_PROGRESS_DATA_DIR", str(d))
    at = new_app().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Progress"]
    assert len(charts(at)) >= 1
    body = texts(at)
    assert "DEMO-001" in body and "simulated" in body
    assert str(d.resolve()) in "\n".join(c.value for c in at.sidebar.caption)  # where the data lives
    s = store_of(d)
    assert [p.is_demo for p in s.list_patients()] == [True]


def test_every_page_renders(data):
    at = new_app().run()
    assert not at.exception
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.message for e in at.exception])
        assert at.title, page
    # demo mode: nobody is signed in, so Settings (database URL) and Access are not in the navigation
    for page in PRACTITIONER_PAGES:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)
    # a signed-in practitioner reaches them too
    at = sign_in_practitioner(new_app(), data)
    for page in PAGES + PRACTITIONER_PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.message for e in at.exception])
        assert at.title and "Practitioners only." not in texts(at), page


# ------------------------------------------------------------------ patients
def test_create_patient(data):
    at = sign_in_practitioner(new_app(), data)  # a real patient ends demo mode: sign in first
    at.switch_page("app_pages/patients.py").run()
    at.text_input(key="np_code").input("P-0042")
    at.text_input(key="np_name").input("Ann Example")
    at.checkbox(key="np_cp").check()
    at.checkbox(key="np_scr_keloid_history").check()  # intake screening
    at.button(key="FormSubmitter:new_patient-Create patient").click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    s = store_of(data)
    p = next(p for p in s.list_patients() if p.code == "P-0042")
    assert p.display_name == "Ann Example" and p.consent_photos
    assert p.screening["context"] == "intake" and p.screening["answers"]["keloid_history"] is True
    assert not any(p.screening["answers"][k] for k in p.screening["answers"] if k != "keloid_history")
    ser = s.list_series(p.id)
    assert len(ser) == 1 and ser[0].name == "Microneedling"
    assert at.session_state["patient_id"] == p.id and at.session_state["series_id"] == ser[0].id
    # the search finds it, and only it
    at.text_input(key="patient_search").input("0042").run()
    assert "Ann Example" in texts(at) and "DEMO-001" not in texts(at)


def test_duplicate_patient_code_is_one_line_error(data):
    at = new_app().run()
    at.switch_page("app_pages/patients.py").run()
    at.text_input(key="np_code").input("DEMO-001")
    at.text_input(key="np_name").input("Someone")
    at.button(key="FormSubmitter:new_patient-Create patient").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "\n" not in at.error[0].value
    assert len(store_of(data).list_patients()) == 1


# ------------------------------------------------------------------ sessions and uploads
def _new_patient(d):
    s = store_of(d)
    p, ser = service.create_patient_with_series(s, code="P-7", display_name="Upload Test", consent_photos=True,
                                                consent_reports=True)
    return p, ser


def test_add_session_and_upload_two_photos(data):
    p, ser = _new_patient(data)
    photos = small_photos()
    at = sign_in_practitioner(new_app(), data)
    at.session_state["patient_id"] = p.id
    at.session_state["series_id"] = ser.id
    at.run()
    at.switch_page("app_pages/sessions.py").run()
    assert not at.exception
    # session 1 (becomes the baseline), with its photo
    at.date_input(key="as_date").set_value(__import__("datetime").date(2026, 1, 10))
    at.text_input(key="as_device").input("Dermapen 4")
    at.button(key="FormSubmitter:add_session-Add session").click().run()
    assert not at.exception
    s = store_of(data)
    sessions = s.list_sessions(ser.id)
    assert len(sessions) == 1 and s.baseline_session(ser.id).id == sessions[0].id
    assert sessions[0].device == "Dermapen 4"
    up = at.file_uploader[0]
    assert up.accept_multiple_files
    up.set_value(("baseline.jpg", photos["baseline"], "image/jpeg"))
    at.button(key="FormSubmitter:upload_form-Upload and analyse").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    # session 2 with the follow-up photo
    at.date_input(key="as_date").set_value(__import__("datetime").date(2026, 2, 10))
    at.button(key="FormSubmitter:add_session-Add session").click().run()
    at.file_uploader[0].set_value(("later.jpg", photos["later"], "image/jpeg"))
    at.button(key="FormSubmitter:upload_form-Upload and analyse").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    # checked before it is kept: taken farther away than the baseline, so it waits with the fix
    assert not s.list_photos(sorted(s.list_sessions(ser.id), key=lambda x: x.date)[1].id)
    assert any("closer" in w.value for w in at.warning), [w.value for w in at.warning]
    at.button(key="prekeep_keep_0_later.jpg").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("stored and analysed" in x.value for x in at.success)
    sessions = sorted(s.list_sessions(ser.id), key=lambda x: x.date)
    assert len(sessions) == 2
    ph = s.list_photos(sessions[1].id)
    assert [x.filename for x in ph] == ["later.jpg"]
    a = s.get_analysis(ph[0].id, analyzer_version=ANALYZER_VERSION)
    assert a is not None and a.result["alignment"]["ok"] is True
    # the uncalibrated photo is said in plain words next to it, with its remedy
    assert any("colour" in w.value.lower() for w in at.warning)
    # the remedy: "Retake" points the upload form at this photo, replacing it
    at.button(key=f"retake_tl_{ph[0].id}").click().run()
    assert at.selectbox(key="up_session").value == sessions[1].id
    assert at.selectbox(key="up_view").value == "front" and at.checkbox(key="up_replace").value
    at.file_uploader[0].set_value(("retake.jpg", photos["redder"], "image/jpeg"))
    at.button(key="FormSubmitter:upload_form-Upload and analyse").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [x.filename for x in s.list_photos(sessions[1].id)] == ["retake.jpg"]
    # and the progress chart is there
    at.switch_page("app_pages/progress.py").run()
    assert not at.exception and len(charts(at)) >= 1


def test_corrupt_upload_is_one_line_error_and_nothing_stored(data):
    p, ser = _new_patient(data)
    s = store_of(data)
    sess, _, _ = service.add_session_with_photos(s, ser.id, date=__import__("datetime").date(2026, 1, 1))
    at = sign_in_practitioner(new_app(), data)
    at.session_state["patient_id"] = p.id
    at.session_state["series_id"] = ser.id
    at.run()
    at.switch_page("app_pages/sessions.py").run()
    at.file_uploader[0].set_value(("broken.jpg", b"\xff\xd8\xff this is not a jpeg", "image/jpeg"))
    at.button(key="FormSubmitter:upload_form-Upload and analyse").click().run()
    assert not at.exception
    assert len(at.error) == 1
    msg = at.error[0].value
    assert "broken.jpg" in msg and "\n" not in msg
    assert s.list_photos(sess.id) == []


# ------------------------------------------------------------------ review: regions
def test_pick_named_region_measures_it_on_every_session(data):
    at = new_app().run()
    at.switch_page("app_pages/review.py").run()
    assert not at.exception
    assert len(at.get("image")) >= 1  # aligned overlay
    assert len(at.get("iframe")) == 3  # the before/after slider; side by side, zoomable (issue 20)
    at.radio(key="roi_kind").set_value("Named face region").run()
    at.selectbox(key="roi_named").set_value("nose").run()
    at.button(key="roi_add").click().run()
    assert not at.exception
    s = store_of(data)
    p = service.demo_patient(s)
    ser = s.list_series(p.id)[0]
    assert {"kind": "named", "name": "nose"} in ser.regions
    rows = service.progress_table(s, ser.id)
    assert len({r["session_id"] for r in rows if r["region"] == "nose"}) == 3
    assert at.session_state["review_region"] == "nose"


def test_pick_rectangle_region(data):
    at = new_app().run()
    at.switch_page("app_pages/review.py").run()
    at.radio(key="roi_kind").set_value("Rectangle").run()
    at.number_input(key="roi_x").set_value(250)
    at.number_input(key="roi_y").set_value(380)
    at.number_input(key="roi_w").set_value(60)
    at.number_input(key="roi_h").set_value(40)
    at.text_input(key="roi_name").input("scar")
    at.button(key="roi_add").click().run()
    assert not at.exception
    ser = store_of(data).list_series(service.demo_patient(store_of(data)).id)[0]
    assert {"kind": "rect", "name": "scar", "x": 250, "y": 380, "w": 60, "h": 40}.items() <= ser.regions[-1].items()


# ------------------------------------------------------------------ progress
def test_progress_charts_cards_and_metric_switch(data):
    at = new_app().run()
    assert [t.value for t in at.title] == ["Progress"]
    n = len(charts(at))
    assert n == 2 * len(service.KEY_METRICS)  # per metric: its value, and its change with the noise band
    body = texts(at)
    assert "since the first session" in body
    assert "simulated" in body
    at.multiselect(key="pg_metrics").set_value(["redness.a_star_mean"]).run()
    assert not at.exception and len(charts(at)) == 2
    at.selectbox(key="pg_region").set_value("forehead").run()
    assert not at.exception and len(charts(at)) == 2
    # the demo series' concerns (redness, texture) lead: redness has measures of its own (cheeks and
    # nose), texture only general metrics; then the summary, the charts and the table
    heads = [h.value for h in at.subheader]
    assert heads == ["Redness and rosacea", "Texture", "Summary", "Series verdict (for the practitioner)", "Charts",
                     "Table"], heads
    first = at.dataframe[0].value
    lead = list(dict.fromkeys(first["Measure"]))[:2]  # its own cheeks-and-nose measures first
    assert lead == ["red area on cheeks and nose", "redness (a*) on cheeks and nose"], lead
    assert set(first["Region"]) == {"Forehead"}


# ------------------------------------------------------------------ patient view
def test_patient_view_shows_only_that_patient(data):
    s = store_of(data)
    other, _ = service.create_patient_with_series(s, code="OTHER-9", display_name="Zed Otherperson")
    demo = service.demo_patient(s)
    # a real patient exists, so demo mode is over: the practitioner opens the patient view
    assert "Your progress" not in texts(new_app().run())
    at = sign_in_practitioner(new_app(), data)
    at.session_state["patient_mode_id"] = demo.id
    at.run()
    assert not at.exception
    body = texts(at)
    assert "Your progress" in body and "Otherperson" not in body and "OTHER-9" not in body
    assert len(charts(at)) >= 1
    # the navigation holds only the patient's page: other pages can't be reached from it
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/patients.py")
    # and the page loads nothing about other patients: no patient list, no other patient's record
    from analyzer.store import Store

    calls = []
    orig_list, orig_get = Store.list_patients, Store.get_patient
    at = sign_in_practitioner(new_app(), data)
    at.session_state["patient_mode_id"] = demo.id
    at.session_state["_demo_checked"] = True
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Store, "list_patients", lambda self, *a, **k: calls.append("list") or orig_list(self, *a, **k))
        mp.setattr(Store, "get_patient", lambda self, i: calls.append(i) or orig_get(self, i))
        at.run()
    assert not at.exception and calls and set(calls) == {demo.id}
    at = sign_in_practitioner(new_app(), data)
    at.session_state["patient_mode_id"] = demo.id
    at.run()
    at.button(key="pv_report").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.get("download_button")
    at.sidebar.button(key="pv_exit").click().run()
    assert at.session_state["patient_mode_id"] is None


def test_open_patient_view_from_patients_page(data):
    at = new_app().run()
    at.switch_page("app_pages/patients.py").run()
    demo = service.demo_patient(store_of(data))
    at.button(key=f"pview_{demo.id}").click().run()
    assert not at.exception
    assert at.session_state["patient_mode_id"] == demo.id
    assert "Your progress" in texts(at)


# ------------------------------------------------------------------ settings
def test_settings_shows_location_and_saves_database_url(data):
    at = sign_in_practitioner(new_app(), data)  # Settings is for practitioners only
    at.switch_page("app_pages/settings.py").run()
    body = texts(at)
    assert str(data.resolve()) in body and "SQLite" in body
    at.text_input(key="set_db_url").input("nonsense://x")
    at.button(key="FormSubmitter:db_settings-Save").click().run()
    assert not at.exception and len(at.error) == 1
    assert service.read_settings(data) == {}
    url = f"sqlite:///{data / 'other.sqlite3'}"
    at.text_input(key="set_db_url").input(url)
    at.button(key="FormSubmitter:db_settings-Save").click().run()
    assert not at.exception and not at.error
    assert service.read_settings(data) == {"database_url": url}


def test_unusable_database_url_is_one_line_and_recoverable(env, monkeypatch):
    d = env / "bad"
    monkeypatch.setenv("SKIN_PROGRESS_DATA_DIR", str(d))
    service.write_settings(d, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    at = new_app().run()
    assert not at.exception
    assert len(at.error) == 1 and "\n" not in at.error[0].value
    # before anyone signs in: no host, port or database name, and nothing that rewrites the settings
    shown = texts(at)
    assert "127.0.0.1" not in shown and "none" not in shown.split() and ":1" not in shown
    assert not at.button and not at.text_input
    assert service.read_settings(d) != {}
    # the administrator, with the setup code, goes back to the embedded SQLite database
    monkeypatch.setenv("SKIN_PROGRESS_SETUP_CODE", "long setup code 42")
    at = new_app().run()
    at.text_input(key="db_reset_code").input("wrong")
    at.button(key="FormSubmitter:db_reset_form-Use the embedded SQLite database in the data folder instead").click()
    at.run()
    assert service.read_settings(d) != {} and "not the setup code" in texts(at)
    at.text_input(key="db_reset_code").input("long setup code 42")
    at.button(key="FormSubmitter:db_reset_form-Use the embedded SQLite database in the data folder instead").click()
    at.run()
    assert not at.exception
    assert service.read_settings(d) == {}
    assert [t.value for t in at.title] == ["Progress"]


# ------------------------------------------------------------------ concerns, screening, recovery
def test_flagged_screening_item_warns_on_the_real_session_page(data):
    at = new_app().run()  # demo mode: the demo series
    at.switch_page("app_pages/sessions.py").run()
    assert not at.exception
    flagged = [w.value for w in at.warning if "consult a physician before treatment" in w.value]
    assert flagged == []  # the demo sessions carry no ticked checklist item
    at.date_input(key="as_date").set_value(__import__("datetime").date(2026, 4, 1))
    at.checkbox(key="as_scr_sunburn").check()
    at.button(key="FormSubmitter:add_session-Add session").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    s = store_of(data)
    ser = s.list_series(service.demo_patient(s).id)[0]
    new = next(x for x in s.list_sessions(ser.id) if x.date.isoformat() == "2026-04-01")
    assert new.screening["answers"]["sunburn"] is True and new.screening["context"] == "pre_session"
    flagged = [w.value for w in at.warning if "consult a physician before treatment" in w.value]
    assert len(flagged) == 1 and "Sunburn" in flagged[0]
    # a dated item ticked without its date: one line, and nothing stored
    n = len(s.list_sessions(ser.id))
    at.date_input(key="as_date").set_value(__import__("datetime").date(2026, 4, 2))
    at.checkbox(key="as_scr_recent_botox").check()
    at.button(key="FormSubmitter:add_session-Add session").click().run()
    assert not at.exception and len(at.error) == 1 and "\n" not in at.error[0].value
    assert len(s.list_sessions(ser.id)) == n


def test_acne_scar_series_progress_leads_with_acne_scar_measures(data):
    import datetime as dt

    s = store_of(data)
    photos = small_photos()
    p, ser = service.create_patient_with_series(s, code="SCAR-1", display_name="Scar Series",
                                                concerns=["acne_scars", "redness"], consent_photos=True)
    for day, key, grade in ((dt.date(2026, 1, 10), "baseline", 3), (dt.date(2026, 2, 10), "later", 2)):
        service.add_session_with_photos(s, ser.id, date=day, photos=[("front", photos[key], f"{key}.jpg")],
                                        scar_grade=grade)
    service.analyze_series(s, ser.id)
    rows = service.progress_table(s, ser.id)
    grades = sorted((r["session_index"], r["value"]) for r in rows
                    if r["metric"] == "acne_scars.clinician_grade" and r["region"] == service.DEFAULT_REGION)
    assert grades == [(1, 3.0), (2, 2.0)]  # as recorded; the follow-up's change is -1
    assert any(r["metric"] == "acne_scars.scar_count" and r["noise_band"] == 13.3 for r in rows)
    at = sign_in_practitioner(new_app(), data)
    at.session_state["patient_id"] = p.id
    at.session_state["series_id"] = ser.id
    at.run()
    at.switch_page("app_pages/progress.py").run()
    assert not at.exception
    heads = [h.value for h in at.subheader]
    assert heads[:2] == ["Acne scars", "Redness and rosacea"], heads  # before the summary and charts
    assert heads.index("Acne scars") < heads.index("Summary") < heads.index("Charts")
    table = at.dataframe[0].value  # the first table on the page: the acne-scar measures
    assert list(table["Measure"])[:2] == ["number of scars", "number of scars"]
    assert "clinician's scar grade (Goodman & Baron 1-4)" in set(table["Measure"])
    assert set(table["Measure"]) <= {"number of scars", "scar area (shaded part)", "share of skin with scars",
                                     "clinician's scar grade (Goodman & Baron 1-4)"}
    assert at.multiselect(key="pg_metrics").options[0].startswith("number of scars")


def test_recovery_visit_shows_the_recovery_chart_on_the_session_page(data):
    import datetime as dt

    s = store_of(data)
    ser = s.list_series(service.demo_patient(s).id)[0]
    last = max(s.list_sessions(ser.id), key=lambda x: x.date)  # 2026-03-11, a treatment session
    service.add_session_with_photos(s, ser.id, date=last.date + dt.timedelta(days=2), kind="recovery",
                                    parent_session_id=last.id,
                                    photos=[("front", small_photos()["baseline"], "day2.jpg")])
    service.analyze_series(s, ser.id)
    at = new_app().run()
    at.switch_page("app_pages/sessions.py").run()
    assert not at.exception
    heads = [h.value for h in at.subheader]
    # the demo's last session carries a simulated change: the chart says so
    assert heads.count("Redness after the session (SIMULATED)") == 2  # the treatment and its recovery visit
    assert any("2 day(s) after the session of 2026-03-11" in c.value for c in at.caption)
    assert len(at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")) >= 2


def test_series_verdict_on_progress_for_the_practitioner_never_in_the_patient_view(data):
    at = new_app().run()  # the demo opens on Progress
    assert not at.exception
    assert "Series verdict (for the practitioner)" in [h.value for h in at.subheader]
    table = next(d.value for d in at.dataframe if "Verdict" in d.value.columns)
    assert len(table) >= 1 and set(table["Sessions used"]) <= {0, 1, 2, 3}
    assert all(("SIMULATED" in v) for v in table["Verdict"])  # the demo's third session is simulated
    assert all(v.startswith(("improving", "plateau", "worse", "no measurable", "can't tell", "chang"))
               for v in table["Verdict"])
    demo = service.demo_patient(store_of(data))
    at = new_app()
    at.session_state["patient_mode_id"] = demo.id
    at.run()
    assert not at.exception and "Your progress" in texts(at)
    body = texts(at) + "\n".join(h.value for h in at.subheader)
    for word in ("Series verdict", "plateau", "no measurable change", "per session (95% range"):
        assert word not in body, word
    assert not any("Verdict" in d.value.columns for d in at.dataframe)
