"""The real app (app.py + app_pages/) behind the sign-in gate, in AppTest.

``SKIN_PROGRESS_ACCESS_APP`` points it at another entry script in the repository root (used
to check a wiring before it lands in app.py).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from analyzer import auth
from analyzer.store import Store
from tests.test_access_app import PW, texts
from tests.test_auth import gps_jpeg

REPO = Path(__file__).resolve().parents[1]
APP = Path(os.environ.get("SKIN_PROGRESS_ACCESS_APP") or REPO / "app.py")
# The folder with the page files (app_pages/; never pages/, see the test below).
PAGES = next((d.name for d in sorted(APP.parent.iterdir()) if (d / "patient_view.py").exists()), "app_pages")


def test_gate_is_wired_and_no_pages_folder_mode():
    """app.py calls the gate, and no folder named pages/ sits next to it: with one, Streamlit
    runs in its old "pages folder" mode, where a first request at a page URL (and every AppTest
    rerun) executes the page file directly, without app.py and its gate."""
    assert "require_user(" in APP.read_text()
    assert not (APP.parent / "pages").exists()
    assert PAGES == "app_pages"


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def clinic(tmp_path, monkeypatch):
    d = tmp_path / "data"
    monkeypatch.setenv("SKIN_PROGRESS_DATA_DIR", str(d))
    monkeypatch.setenv("SKIN_PROGRESS_SAMPLE_DIR", str(tmp_path / "no-demo"))
    monkeypatch.delenv("SKIN_PROGRESS_DATABASE_URL", raising=False)
    monkeypatch.delenv("SKIN_PROGRESS_DEMO", raising=False)
    monkeypatch.chdir(REPO)
    store = Store(data_dir=d)
    ids = {}
    for code, name, seed in (("P-A", "Alice Alpha", 1), ("P-B", "Bob Beta", 2)):
        p = store.create_patient(code, name)
        s = store.create_series(p.id, body_area="face", concerns=["redness"], name=f"series of {code}")
        se = store.add_session(s.id, date=dt.date(2026, 1, 1))
        store.add_photo(se.id, view="front", data=gps_jpeg(seed, (480, 360)), filename=f"{code}.jpg")
        ids[code] = dict(patient=p.id, series=s.id, session=se.id)
    yield store, ids
    store.close()


def new_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=120)


def no_bob(at: AppTest) -> None:
    t = texts(at)
    assert "Bob" not in t and "P-B" not in t


def test_real_app_asks_for_first_account_then_practitioner_sees_all(clinic):
    at = new_app().run()
    assert not at.exception, at.exception
    t = texts(at)
    assert "Create the first practitioner account" in t and "Alice" not in t and "Bob" not in t
    at.text_input(key="_auth_first_user").input("anna")
    at.text_input(key="_auth_first_pw").input(PW)
    at.text_input(key="_auth_first_pw2").input(PW)
    next(b for b in at.button if b.label == "Create account and sign in").click().run()
    assert not at.exception, at.exception
    assert "Signed in as **anna**" in texts(at)
    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert not at.exception, at.exception
    assert "Alice" not in texts(at) and "Bob" not in texts(at)
    # sign in again with the form; the practitioner reaches every patient
    at.text_input(key="_auth_user").input("anna")
    at.text_input(key="_auth_pw").input(PW)
    next(b for b in at.button if b.label == "Sign in").click().run()
    at.switch_page(f"{PAGES}/patients.py").run()  # (AppTest drops the sidebar after switch_page)
    t = texts(at)
    assert "Alice Alpha" in t and "Bob Beta" in t


def test_real_app_patient_link_sees_only_own_patient(clinic):
    store, ids = clinic
    prac = auth.create_first_practitioner(store, "anna", PW, PW)
    link = auth.issue_patient_link(store, prac, ids["P-A"]["patient"])
    at = new_app()
    at.query_params["access"] = link.token
    at.run()
    assert not at.exception, at.exception
    assert "Alice Alpha" in texts(at)
    no_bob(at)
    b = ids["P-B"]
    for key, val in (("patient_mode_id", b["patient"]), ("patient_id", b["patient"]),
                     ("series_id", b["series"]), ("_pick_patient", b["patient"])):
        # (the series picker's own key is left alone: AppTest itself formats a planted value)
        at.session_state[key] = val
        at.run()
        assert not at.exception, (key, at.exception)
        no_bob(at)
    leave = [x for x in at.sidebar.button if x.label == "Back to the practitioner view"]
    if leave:
        leave[0].click().run()
        no_bob(at)
        assert "Alice Alpha" in texts(at)
    for page in ("patients", "progress", "sessions", "review", "settings"):
        try:
            at.switch_page(f"{PAGES}/{page}.py").run()
        except Exception:  # a page outside the patient's navigation may refuse to open at all
            continue
        no_bob(at)
        assert "Patients" not in [t.value for t in at.title]
    auth.revoke_patient_link(store, prac, link.id)
    at.run()
    assert "Alice" not in texts(at)
