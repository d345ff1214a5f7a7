"""Issue 17, items 3 and 9: the password limits are atomic; changing a password and the
first-account setup code go through the limiter; a password change ends the account's other
sessions; OIDC takes only ``email_verified is True``."""
# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)

from __future__ import annotations

import datetime as dt
import threading

import pytest
from argon2 import PasswordHasher

from analyzer import auth
from analyzer.auth import AccessDenied, InvalidCredentials, RateLimited
from analyzer.store import Store
from tests.store_fixtures import data_dir, db_url, store  # noqa: F401

T0 = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
PW = "correct horse battery"


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def test_simultaneous_wrong_guesses_are_counted_one_by_one(db_url, data_dir, monkeypatch):
    """40 wrong guesses at the same moment (each password check takes 0.2 s, as a real Argon2
    check does): only the 5 free ones are checked against the password; the rest wait."""
    setup = Store(db_url, data_dir=data_dir)
    auth.create_first_practitioner(setup, "anna", PW, PW, now=T0)
    setup.close()
    checked = []
    real = auth.verify_password

    def slow_verify(h, pw):
        checked.append(pw)
        threading.Event().wait(0.2)
        return real(h, pw)

    monkeypatch.setattr(auth, "verify_password", slow_verify)
    stores = [Store(db_url, data_dir=data_dir) for _ in range(4)]
    gate = threading.Barrier(40)
    outcome: list[str] = []
    lock = threading.Lock()

    def guess(i):
        gate.wait()
        try:
            auth.authenticate(stores[i % 4], "anna", f"wrong-guess-{i:04d}", session_key=f"tab{i}", now=T0)
        except Exception as exc:  # noqa: BLE001 - anything else is named in the assertion below
            with lock:
                outcome.append(type(exc).__name__ if isinstance(exc, InvalidCredentials | RateLimited)
                               else f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    for s in stores:
        s.close()
    assert len(outcome) == 40
    assert outcome.count("InvalidCredentials") == 5 and len(checked) == 5, outcome
    assert outcome.count("RateLimited") == 35


def test_change_password_goes_through_the_limiter(store):
    p = auth.create_first_practitioner(store, "anna", PW, PW, now=T0)
    for i in range(5):
        with pytest.raises(InvalidCredentials):
            auth.change_password(store, p, f"wrong-old-{i:03d}", "new password 123", "new password 123", now=T0)
    with pytest.raises(RateLimited):  # the right old password is not even checked now
        auth.change_password(store, p, PW, "new password 123", "new password 123", now=T0)
    # the same key as sign-in: guessing here also locks sign-in for that username
    with pytest.raises(RateLimited):
        auth.authenticate(store, "anna", PW, now=T0)


def test_setup_code_goes_through_the_limiter(store):
    for i in range(5):
        with pytest.raises(InvalidCredentials):
            auth.check_setup_code(store, f"guess{i}", "the-real-code", session_key=f"s{i}", now=T0)
    with pytest.raises(RateLimited):
        auth.check_setup_code(store, "the-real-code", "the-real-code", session_key="new", now=T0)
    later = T0 + dt.timedelta(hours=2)
    auth.check_setup_code(store, "the-real-code", "the-real-code", session_key="new", now=later)


def test_a_password_change_ends_the_other_sessions(store):
    auth.create_first_practitioner(store, "anna", PW, PW, now=T0)
    laptop = auth.authenticate(store, "anna", PW, session_key="laptop", now=T0)
    stolen = auth.authenticate(store, "anna", PW, session_key="elsewhere", now=T0)
    t = T0 + dt.timedelta(minutes=1)
    new = auth.change_password(store, laptop, PW, "brand new secret", "brand new secret", now=t)
    with pytest.raises(AccessDenied, match="password .* changed"):
        auth.validate_principal(store, stolen, now=t)
    with pytest.raises(AccessDenied):
        auth.validate_principal(store, laptop, now=t)  # the old copy of this session too
    assert auth.validate_principal(store, new, now=t) == new  # the session that changed it goes on
    # and the principal survives the session store's round trip
    assert auth.validate_principal(store, auth.Principal.from_dict(new.to_dict()), now=t) == new
    with pytest.raises(InvalidCredentials):
        auth.authenticate(store, "anna", PW, session_key="x", now=t)
    assert auth.authenticate(store, "anna", "brand new secret", session_key="x", now=t).is_practitioner


@pytest.mark.parametrize("verified", ["false", "False", 0, 1, "true", None, [], "yes"])
def test_oidc_takes_only_a_real_true(verified):
    claims = {"email": "dr@clinic.example", "email_verified": verified}
    with pytest.raises(AccessDenied, match="not verified"):
        auth.oidc_principal(claims, allowed_domains=["clinic.example"])
    claims.pop("email_verified")
    with pytest.raises(AccessDenied, match="not verified"):
        auth.oidc_principal(claims, allowed_domains=["clinic.example"])


def test_oidc_verified_true_is_let_in():
    p = auth.oidc_principal({"email": "dr@clinic.example", "email_verified": True},
                            allowed_domains=["clinic.example"])
    assert p.is_practitioner


def test_the_first_account_form_checks_the_setup_code_through_the_limiter(tmp_path, monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    d = tmp_path / "data"
    monkeypatch.setenv("SKIN_PROGRESS_DATA_DIR", str(d))
    for k in ("SKIN_PROGRESS_DEMO", "SKIN_PROGRESS_IDLE_MINUTES", "SKIN_PROGRESS_DATABASE_URL"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("SKIN_PROGRESS_SETUP_CODE", "open sesame 42")
    with Store(data_dir=d) as s:
        s.create_patient("P-A", "Alice")  # a real patient: no demo mode
    at = AppTest.from_file(str(Path(__file__).resolve().parent / "apps" / "access_app.py"), default_timeout=60).run()

    def create(code: str):
        at.text_input(key="_auth_first_user").input("anna")
        at.text_input(key="_auth_first_pw").input(PW)
        at.text_input(key="_auth_first_pw2").input(PW)
        at.text_input(key="_auth_first_code").input(code)
        next(b for b in at.button if b.label == "Create account and sign in").click().run()

    for i in range(5):
        create(f"guess {i}")
        assert [e.value for e in at.error] == ["wrong setup code"]
    create("open sesame 42")  # locked now: even the right code waits
    assert "too many failed attempts" in at.error[0].value
    with Store(data_dir=d) as s:
        assert auth.needs_first_account(s)


def test_changing_the_password_in_the_app_keeps_this_session_and_ends_the_others(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.access_support import PASSWORD, sign_in_practitioner
    from tests.test_app_support import REPO

    d = tmp_path / "data"
    monkeypatch.setenv("SKIN_PROGRESS_DATA_DIR", str(d))
    monkeypatch.setenv("SKIN_PROGRESS_SAMPLE_DIR", str(tmp_path / "no-demo"))
    for k in ("SKIN_PROGRESS_DEMO", "SKIN_PROGRESS_SETUP_CODE", "SKIN_PROGRESS_DATABASE_URL"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.chdir(REPO)
    with Store(data_dir=d) as s:
        s.create_patient("P-A", "Alice")
    app = str(REPO / "app.py")
    laptop = sign_in_practitioner(AppTest.from_file(app, default_timeout=120), d)
    other = sign_in_practitioner(AppTest.from_file(app, default_timeout=120), d)
    laptop.switch_page("app_pages/access.py").run()
    laptop.text_input(key="acc_old").input(PASSWORD)
    laptop.text_input(key="acc_new").input("a brand new secret")
    laptop.text_input(key="acc_new2").input("a brand new secret")
    next(b for b in laptop.button if b.label == "Change password").click().run()
    assert not laptop.exception and any("Password changed" in e.value for e in laptop.success)
    laptop.run()
    assert not any(b.label == "Sign in" for b in laptop.button)  # still signed in
    other.run()
    assert any(b.label == "Sign in" for b in other.button)  # the other session was signed out
    assert any("password of this account was changed" in e.value for e in other.info)
