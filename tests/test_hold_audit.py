"""Issue 17, item 5: every view of a patient's photos is audited (Series & sessions and Review,
as Progress and the patient view were), and every read of an original photo."""
# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from analyzer import auth, service
from analyzer.service.scope import scope
from tests.access_support import sign_in_practitioner
from tests.store_fixtures import data_dir, db_url, png_bytes, store  # noqa: F401
from tests.test_app_support import REPO, copy_data, make_small_demo


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def test_every_read_of_an_original_is_audited(store):
    p = store.create_patient("P-1", "Anna")
    se = store.create_series(p.id, body_area="face", concerns=["redness"])
    ss = store.add_session(se.id, date=dt.date(2026, 1, 1))
    ph = store.add_photo(ss.id, view="front", data=png_bytes(1), filename="a.png")
    pr = auth.create_first_practitioner(store, "anna", "long enough pw", "long enough pw")
    sc = scope(store, pr)
    assert sc.photo_original_bytes(ph.id) == png_bytes(1)
    sc.photo_original_bytes(ph.id)
    reads = [e for e in store.list_audit(patient_id=p.id) if e.action == "read.original"]
    assert len(reads) == 2 and reads[0].actor == "local:anna" and reads[0].detail == f"photo {ph.id}"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    demo = make_small_demo(tmp_path_factory.mktemp("demo"))
    data = tmp_path_factory.mktemp("seeded") / "data"
    s = service.open_store(data_dir=data)
    service.ensure_demo(s, sample_dir=demo)
    s.close()
    return data, demo


@pytest.mark.parametrize("page,action", [("app_pages/sessions.py", "view.sessions"),
                                         ("app_pages/review.py", "view.review")])
def test_photo_pages_are_audited(page, action, seeded, tmp_path, monkeypatch):
    data_src, demo = seeded
    monkeypatch.delenv("SKIN_PROGRESS_DATABASE_URL", raising=False)
    monkeypatch.setenv("SKIN_PROGRESS_SAMPLE_DIR", str(demo))
    monkeypatch.chdir(REPO)
    d = copy_data(data_src, tmp_path / "data")
    monkeypatch.setenv("SKIN_PROGRESS_DATA_DIR", str(d))
    at = sign_in_practitioner(AppTest.from_file(str(REPO / "app.py"), default_timeout=120), d)
    at.switch_page(page).run()
    assert not at.exception
    with service.open_store(data_dir=d) as s:
        pid = s.list_patients()[0].id
        sid = s.list_series(pid)[0].id
        hits = [e for e in s.list_audit(patient_id=pid) if e.action == action]
    assert len(hits) == 1 and hits[0].actor == "local:anna" and hits[0].detail == f"series {sid}"
    at.run()  # a rerun of the same view is not a new entry
    with service.open_store(data_dir=d) as s:
        assert len([e for e in s.list_audit(patient_id=pid) if e.action == action]) == 1
