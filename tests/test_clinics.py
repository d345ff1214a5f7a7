"""Several clinics in one installation (issue 22): a practitioner of clinic A can't reach a
patient, link, export, photo, account or audit row of clinic B, through the library
(auth, the store's queries, service.scope.PatientScope) and through the real app (AppTest);
an existing single-clinic database migrates into one default clinic (0008)."""
# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from analyzer import auth
from analyzer.auth import AccessDenied
from analyzer.service.scope import PatientScope
from analyzer.store import NotFound, Store
from analyzer.store.engine import current_revision, migrate, resolve_url
from tests.store_fixtures import data_dir, db_url, empty_db_url  # noqa: F401
from tests.test_auth import gps_jpeg

PW = "correct horse battery"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def make_two_clinics(store: Store) -> dict:
    """anna (first account: default clinic, installation admin) with Alice (P-A); bert, moved by
    anna to clinic "North", with Bob (P-B): a series, a session, a photo and a link each."""
    anna = auth.create_first_practitioner(store, "anna", PW, PW)
    north = auth.create_clinic(store, anna, "North")
    acc = auth.create_account(store, anna, "bert", PW, PW)
    auth.assign_account(store, anna, acc.id, north.id)
    bert = auth.authenticate(store, "bert", PW)
    out = {"anna": anna, "bert": bert, "north": north.id, "default": store.default_clinic_id()}
    for code, name, clinic, who, seed in (("P-A", "Alice Alpha", None, anna, 1),
                                          ("P-B", "Bob Beta", north.id, bert, 2)):
        p = store.create_patient(code, name, clinic_id=clinic, consent_photos=True)
        s = store.create_series(p.id, body_area="face", concerns=["redness"], name=f"series of {code}")
        se = store.add_session(s.id, date=dt.date(2026, 1, 1))
        ph = store.add_photo(se.id, view="front", data=gps_jpeg(seed, (96, 80)), filename=f"{code}.jpg")
        link = auth.issue_patient_link(store, who, p.id)
        auth.record_audit(store, who, "view.progress", p.id)
        out[code] = dict(patient=p.id, series=s.id, session=se.id, photo=ph.id, link=link)
    return out


def test_a_practitioner_reaches_nothing_of_another_clinic(db_url, data_dir):
    store = Store(db_url, data_dir=data_dir)
    try:
        w = make_two_clinics(store)
        anna, bert, a, b = w["anna"], w["bert"], w["P-A"], w["P-B"]
        assert (anna.clinic_id, anna.is_admin) == (w["default"], True)
        assert (bert.clinic_id, bert.is_admin) == (w["north"], False)
        sa_, sb = PatientScope(store, anna), PatientScope(store, bert)

        # patients: listed, searched, opened by id
        assert [p.code for p in sa_.patients()] == ["P-A"] and [p.code for p in sb.patients()] == ["P-B"]
        assert sa_.patients("bob") == [] and [p.code for p in sb.patients("bob")] == ["P-B"]
        assert sa_.patient(a["patient"]).code == "P-A"
        # every road to Bob from clinic A is the same refusal as a patient that does not exist
        roads = [
            lambda: sa_.patient(b["patient"]), lambda: sa_.series_of(b["patient"]),
            lambda: sa_.series(b["series"]), lambda: sa_.sessions(b["series"]),
            lambda: sa_.photos(b["session"]), lambda: sa_.photo(b["photo"]),
            lambda: sa_.photo_display_bytes(b["photo"]), lambda: sa_.photo_original_bytes(b["photo"]),
            lambda: sa_.progress_table(b["series"]), lambda: sa_.analyses_for_series(b["series"]),
            lambda: sa_.report_pdf(b["patient"]), lambda: sa_.csv_export(b["series"]),
            lambda: sa_.patient_archive(b["patient"], io.BytesIO()),
            lambda: sa_.check(10_000),
        ]
        for road in roads:
            with pytest.raises(AccessDenied, match="don't have access"):
                road()
        assert sb.photo_display_bytes(b["photo"])[:2] == b"\xff\xd8"  # bert reaches his own patient
        with pytest.raises(AccessDenied):
            auth.authorize(anna, b["patient"], store)
        with pytest.raises(AccessDenied):  # a principal of a named clinic, checked without a store
            auth.authorize(bert, b["patient"])

        # links: not made, not listed, not revoked across clinics (same words as "not found")
        with pytest.raises(NotFound, match=f"patient {b['patient']} not found"):
            auth.issue_patient_link(store, anna, b["patient"])
        with pytest.raises(NotFound):
            auth.issue_patient_code(store, anna, b["patient"])
        assert auth.list_patient_links(store, anna, b["patient"]) == []
        with pytest.raises(NotFound):
            auth.revoke_patient_link(store, anna, b["link"].id)
        with pytest.raises(NotFound):
            auth.revoke_all_links(store, anna, b["patient"])
        assert [li.state() for li in auth.list_patient_links(store, bert, b["patient"])] == ["active"]
        assert auth.redeem_patient_link(store, b["link"].token).patient_id == b["patient"]

        # accounts: another clinic's are neither listed nor disabled; no patient account for Bob
        assert [x.username for x in auth.list_accounts(store, anna)] == ["anna"]
        assert [x.username for x in auth.list_accounts(store, bert)] == ["bert"]
        with pytest.raises(NotFound):
            auth.set_account_disabled(store, anna, bert.user_id, True)
        with pytest.raises(NotFound):
            auth.create_account(store, anna, "bob", PW, PW, role="patient", patient_id=b["patient"])

        # the audit log: each clinic sees only its own rows
        log_a = auth.list_audit(store, anna, limit=1000)
        log_b = auth.list_audit(store, bert, limit=1000)
        assert b["patient"] not in {e.patient_id for e in log_a}
        assert a["patient"] not in {e.patient_id for e in log_b}
        assert {"link.issue", "view.progress", "sign_in.link"} <= {e.action for e in log_b}
        assert "export.archive" not in {e.action for e in log_a + log_b}  # a refused export writes nothing
        assert not [e for e in log_a if e.actor == "local:bert" and e.action == "view.progress"]
        assert auth.list_audit(store, anna, patient_id=b["patient"]) == []
        assert {r.clinic_id for r in store.list_audit(clinic_id=w["north"], limit=1000)} == {w["north"]}

        # clinics are the admin's: bert can't make one; a moved account's session ends
        with pytest.raises(AccessDenied):
            auth.create_clinic(store, bert, "South")
        with pytest.raises(AccessDenied):
            auth.list_clinics(store, bert)
        assert [c.name for c in auth.list_clinics(store, anna)] == ["Default clinic", "North"]
        auth.rename_clinic(store, anna, w["default"], "Main street")
        auth.assign_account(store, anna, bert.user_id, w["default"])
        with pytest.raises(AccessDenied, match="another clinic"):
            auth.validate_principal(store, bert)
        bert2 = auth.authenticate(store, "bert", PW)
        assert [p.code for p in PatientScope(store, bert2).patients()] == ["P-A"]
    finally:
        store.close()


def test_a_fresh_install_needs_no_clinic_at_all(db_url, data_dir):
    """Nobody names a clinic: the first account, its colleagues and every patient share the
    default clinic, and everything reads as before."""
    store = Store(db_url, data_dir=data_dir)
    try:
        anna = auth.create_first_practitioner(store, "anna", PW, PW)
        auth.create_account(store, anna, "carl", PW, PW)
        carl = auth.authenticate(store, "carl", PW)
        p = store.create_patient("P-1", "Dana")
        assert [x.code for x in PatientScope(store, carl).patients()] == ["P-1"]
        oidc = auth.Principal(role="practitioner", via="oidc", name="dr@x.example", signed_in_at=auth.utcnow())
        assert PatientScope(store, oidc).patient(p.id).code == "P-1"  # (an OIDC sign-in: the default clinic)
        auth.issue_patient_link(store, carl, p.id)
        assert [c.name for c in store.list_clinics()] == ["Default clinic"]
        assert {a.username for a in auth.list_accounts(store, anna)} == {"anna", "carl"}
    finally:
        store.close()


def _insert_0005_data(url: str, pw_hash: str) -> None:
    """A single-clinic installation as the app wrote it before 0008 (raw SQL)."""
    now = dt.datetime(2025, 3, 1, 9, 0)
    eng = sa.create_engine(resolve_url(url), poolclass=sa.pool.NullPool)
    with eng.begin() as c:
        c.execute(sa.text(
            "INSERT INTO patients (id, code, display_name, consent_photos, consent_reports, notes, is_demo,"
            " created_at) VALUES (1, 'P-1', 'Anna', true, true, '', false, :t),"
            " (2, 'P-2', 'Ben', false, false, '', false, :t)"), {"t": now})
        c.execute(sa.text(
            "INSERT INTO users (id, username, role, password_hash, patient_id, created_at, failed_attempts)"
            " VALUES (1, 'dr', 'practitioner', :h, NULL, :t, 0), (2, 'nurse', 'practitioner', :h, NULL, :t, 0),"
            " (3, 'anna', 'patient', :h, 1, :t, 0)"), {"h": pw_hash, "t": now})
        c.execute(sa.text(
            "INSERT INTO patient_tokens (id, token_hash, patient_id, label, created_at, expires_at)"
            " VALUES (1, :th, 2, '', :t, :e)"),
            {"th": auth.hash_token("x" * 32), "t": now, "e": dt.datetime(2099, 1, 1)})
        c.execute(sa.text(
            "INSERT INTO audit_log (id, at, actor, action, patient_id, detail) VALUES"
            " (1, :t, 'local:dr', 'view.progress', 1, ''), (2, :t, 'unknown', 'sign_in.failed', NULL, '')"),
            {"t": now})
        if eng.dialect.name == "postgresql":
            for t in ("patients", "users", "patient_tokens", "audit_log"):
                c.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))"))
    eng.dispose()


def test_upgrade_puts_existing_data_in_one_default_clinic(empty_db_url, data_dir):
    u = resolve_url(empty_db_url)
    migrate(u, "0005")
    _insert_0005_data(empty_db_url, auth.hash_password(PW))
    store = Store(empty_db_url, data_dir=data_dir)  # opening upgrades
    try:
        eng = sa.create_engine(u, poolclass=sa.pool.NullPool)
        assert current_revision(eng) == "0008"
        eng.dispose()
        (clinic,) = store.list_clinics()
        assert clinic.name == "Default clinic"
        dr = auth.authenticate(store, "dr", PW)
        nurse = auth.authenticate(store, "nurse", PW)
        assert (dr.clinic_id, dr.is_admin, nurse.clinic_id, nurse.is_admin) == (clinic.id, True, clinic.id, False)
        for who in (dr, nurse):  # every existing account still reaches every existing record
            assert [p.code for p in PatientScope(store, who).patients()] == ["P-1", "P-2"]
            assert [li.id for li in auth.list_patient_links(store, who, 2)] == [1]
            assert {(e.action, e.patient_id) for e in auth.list_audit(store, who)} >= {("view.progress", 1)}
        assert ("sign_in.failed", None) in {(e.action, e.patient_id) for e in auth.list_audit(store, dr)}
        patient = auth.authenticate(store, "anna", PW)
        assert PatientScope(store, patient).patient(1).code == "P-1"
        assert auth.redeem_patient_link(store, "x" * 32).patient_id == 2
        # a new clinic starts empty, and new patients of the old one join it
        north = auth.create_clinic(store, dr, "North")
        assert store.list_patients(clinic_id=north.id) == []
        assert store.create_patient("P-3", "Cleo").clinic_id == clinic.id
    finally:
        store.close()


def test_real_app_shows_a_practitioner_only_their_clinic(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.test_access_app import texts

    d = tmp_path / "data"
    monkeypatch.setenv("SKIN_PROGRESS_DATA_DIR", str(d))
    monkeypatch.setenv("SKIN_PROGRESS_SAMPLE_DIR", str(tmp_path / "no-demo"))
    for k in ("SKIN_PROGRESS_DATABASE_URL", "SKIN_PROGRESS_DEMO"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.chdir(REPO)
    with Store(data_dir=d) as store:
        w = make_two_clinics(store)
    b = w["P-B"]

    def no_bob(at):
        assert not at.exception, at.exception
        t = texts(at)
        assert "Bob" not in t and "P-B" not in t and "series of P-B" not in t

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    at.text_input(key="_auth_user").input("anna")
    at.text_input(key="_auth_pw").input(PW)
    next(x for x in at.button if x.label == "Sign in").click().run()
    no_bob(at)
    at.switch_page("app_pages/patients.py").run()
    t = texts(at)
    assert "Alice Alpha" in t
    no_bob(at)
    # a direct selection of Bob by id (planted in the session) is refused, and shows nothing of him
    for key, val in (("patient_id", b["patient"]), ("patient_mode_id", b["patient"]), ("series_id", b["series"])):
        at.session_state[key] = val
        at.run()
        no_bob(at)
        if key != "series_id":
            assert any("don't have access" in e.value for e in at.error), key
            assert at.session_state[key] is None
    for page in ("progress", "sessions", "review", "access", "patient_view"):
        at.session_state["patient_id"] = b["patient"]
        at.switch_page(f"app_pages/{page}.py").run()
        no_bob(at)
    # the admin's section lists both clinics; bert's page has no such section
    at.switch_page("app_pages/access.py").run()
    no_bob(at)
    assert "North" in texts(at) and "Clinics" in [h.value for h in at.subheader]
    at2 = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    at2.text_input(key="_auth_user").input("bert")
    at2.text_input(key="_auth_pw").input(PW)
    next(x for x in at2.button if x.label == "Sign in").click().run()
    at2.switch_page("app_pages/access.py").run()
    assert not at2.exception, at2.exception
    t2 = texts(at2)
    assert "Alice" not in t2 and "P-A" not in t2 and "Clinics" not in [h.value for h in at2.subheader]
