"""The sign-in gate in Streamlit's AppTest: tests/apps/access_app.py (the real ui.auth gate in
front of a patient page that reads the real store through analyzer.service.scope.PatientScope, and that
also takes ids from the URL and session state, like a careless page would).

Each AppTest is one browser session; several share one data folder like tabs of one clinic.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from analyzer import auth
from analyzer.store import Store
from tests.test_auth import gps_jpeg

APP = str(Path(__file__).resolve().parent / "apps" / "access_app.py")
PW = "correct horse battery"


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def clinic(tmp_path, monkeypatch):
    """A data folder with Alice (P-A) and Bob (P-B), each with a photo; no account yet."""
    d = tmp_path / "data"
    monkeypatch.setenv("SKIN_PROGRESS_DATA_DIR", str(d))
    for k in ("SKIN_PROGRESS_DEMO", "SKIN_PROGRESS_SETUP_CODE", "SKIN_PROGRESS_IDLE_MINUTES"):
        monkeypatch.delenv(k, raising=False)
    store = Store(data_dir=d)
    ids = {}
    for code, name, seed in (("P-A", "Alice Alpha", 1), ("P-B", "Bob Beta", 2)):
        p = store.create_patient(code, name)
        s = store.create_series(p.id, body_area="face", concerns=["redness"], name=f"series of {code}")
        se = store.add_session(s.id, date=dt.date(2026, 1, 1))
        ph = store.add_photo(se.id, view="front", data=gps_jpeg(seed), filename=f"{code}.jpg")
        ids[code] = dict(patient=p.id, series=s.id, session=se.id, photo=ph.id)
    yield store, ids
    store.close()


def new_session() -> AppTest:
    return AppTest.from_file(APP, default_timeout=60)


def texts(at: AppTest) -> str:
    """Everything the session rendered (main and sidebar), as text."""
    out: list[str] = []

    def walk(node):
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(str(proto))
        for c in getattr(node, "children", {}).values():
            walk(c)

    walk(at._tree)
    return "\n".join(out)


def assert_nothing_of_bob(at: AppTest):
    t = texts(at)
    assert "Bob" not in t and "P-B" not in t and "series of P-B" not in t


def sign_in(at: AppTest, username="anna", password=PW) -> AppTest:
    at.text_input(key="_auth_user").input(username)
    at.text_input(key="_auth_pw").input(password)
    next(b for b in at.button if b.label == "Sign in").click()
    return at.run()


def make_practitioner(store):
    return auth.create_first_practitioner(store, "anna", PW, PW)


def patient_session(store, ids, code="P-A") -> tuple[AppTest, auth.IssuedLink]:
    link = auth.issue_patient_link(store, make_practitioner(store) if auth.needs_first_account(store)
                                   else auth.authenticate(store, "anna", PW), ids[code]["patient"])
    at = new_session()
    at.query_params["access"] = link.token
    return at.run(), link


# ---- first start, sign-in, sign-out ------------------------------------------------------------


def test_first_start_asks_for_the_first_practitioner_account(clinic):
    store, ids = clinic
    at = new_session().run()
    assert not at.exception
    assert "Create the first practitioner account" in texts(at)
    assert_nothing_of_bob(at)
    assert "Alice" not in texts(at)
    at.text_input(key="_auth_first_user").input("anna")
    at.text_input(key="_auth_first_pw").input("short")
    at.text_input(key="_auth_first_pw2").input("short")
    at.button[0].click().run()
    assert "at least 10 characters" in at.error[0].value
    assert auth.needs_first_account(store)
    at.text_input(key="_auth_first_user").input("anna")
    at.text_input(key="_auth_first_pw").input(PW)
    at.text_input(key="_auth_first_pw2").input(PW)
    at.button[0].click().run()
    assert not at.exception
    assert at.caption[0].value == "role: practitioner"
    assert "Signed in as **anna**" in texts(at)
    # a second browser now gets the sign-in form, not the first-account form
    other = new_session().run()
    assert "Create the first practitioner account" not in texts(other)
    assert [b.label for b in other.button][:2] == ["Sign in", "Open my progress"]


def test_sign_in_wrong_password_then_right(clinic):
    store, ids = clinic
    make_practitioner(store)
    at = sign_in(new_session().run(), password="not the password")
    assert at.error[0].value == "wrong username or password"
    assert "Alice" not in texts(at)
    at = sign_in(at)
    assert at.caption[0].value == "role: practitioner"
    assert "Alice Alpha (P-A)" in [h.value for h in at.header]
    # a practitioner may open any patient
    at.selectbox(key="pick").select(ids["P-B"]["patient"]).run()
    assert "Bob Beta (P-B)" in [h.value for h in at.header]


def test_signing_out_ends_access(clinic):
    store, ids = clinic
    make_practitioner(store)
    at = sign_in(new_session().run())
    assert "Alice Alpha (P-A)" in [h.value for h in at.header]
    kept = dict(at.session_state["_auth"])  # a copy of the signed-in session value
    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert not at.exception
    assert "You are signed out." in [i.value for i in at.info]
    assert "Alice" not in texts(at) and "_auth" not in at.session_state
    # replaying the old session value after sign-out is not a sign-in
    at.session_state["_auth"] = kept
    at.run()
    assert "Alice" not in texts(at) and [b.label for b in at.button][:1] == ["Sign in"]
    actions = [e.action for e in auth.list_audit(store, auth.authenticate(store, "anna", PW))]
    assert "sign_out" in actions


# ---- patient links -----------------------------------------------------------------------------


def test_patient_link_reaches_only_own_data_whatever_the_url_or_session_state(clinic):
    store, ids = clinic
    at, link = patient_session(store, ids)
    assert not at.exception
    assert at.caption[0].value == "role: patient"
    assert [h.value for h in at.header] == ["Alice Alpha (P-A)"]
    assert "access" not in at.query_params  # the token leaves the address at once
    assert link.token not in texts(at)
    assert_nothing_of_bob(at)
    b = ids["P-B"]
    # 1. ids in the URL
    for key, val in (("patient", b["patient"]), ("series", b["series"]), ("photo", b["photo"]),
                     ("patient", "P-B"), ("patient", "-1"), ("photo", "999")):
        at.query_params.clear()
        at.query_params[key] = str(val)
        at.run()
        assert not at.exception, (key, val)
        assert_nothing_of_bob(at)
        assert any("denied" in e.value for e in at.error), (key, val)
    at.query_params.clear()
    # 2. ids planted in session state (the app's own keys and the test page's)
    for key, val in (("patient_id", b["patient"]), ("patient_mode_id", b["patient"]),
                     ("series_id", b["series"]), ("photo_id", b["photo"]), ("pick", b["patient"])):
        at.session_state[key] = val
        at.run()
        assert not at.exception, key
        assert_nothing_of_bob(at)
        assert [h.value for h in at.header] in (["Alice Alpha (P-A)"], []), key
    assert at.session_state["patient_id"] == ids["P-A"]["patient"]  # pinned back by the gate
    assert at.session_state["series_id"] in (None, ids["P-A"]["series"])
    # 3. the signed session value itself, edited to point at Bob: no longer a sign-in at all
    v = at.session_state["_auth"]
    at.session_state["_auth"] = {**v, "p": {**v["p"], "patient_id": b["patient"]}}
    at.run()
    assert_nothing_of_bob(at)
    assert "Alice" not in texts(at) and at.header.len == 0
    # 4. a practitioner sign-in planted into a fresh session is not a sign-in either
    prac = auth.authenticate(store, "anna", PW)
    fresh = new_session()
    d = {**prac.to_dict(), "nonce": "0" * 32}
    fresh.session_state["_auth"] = {"p": d, "mac": "0" * 64, "seen": d["signed_in_at"]}
    fresh.run()
    assert "Alice" not in texts(fresh) and "Bob" not in texts(fresh)


def test_revoked_link_ends_an_open_patient_session(clinic):
    store, ids = clinic
    at, link = patient_session(store, ids)
    assert [h.value for h in at.header] == ["Alice Alpha (P-A)"]
    prac = auth.authenticate(store, "anna", PW)
    auth.revoke_patient_link(store, prac, link.id)
    at.run()
    assert "Alice" not in texts(at)
    assert any("withdrawn" in i.value for i in at.info)
    # and the link can't be used again
    again = new_session()
    again.query_params["access"] = link.token
    again.run()
    assert "Alice" not in texts(again) and any("not valid" in i.value for i in again.info)


def test_expired_link_is_refused(clinic):
    store, ids = clinic
    at, link = patient_session(store, ids)
    assert [h.value for h in at.header] == ["Alice Alpha (P-A)"]
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)
    with store.engine.begin() as c:
        c.execute(sa.text("UPDATE patient_tokens SET expires_at = :t"), {"t": past})
    at.run()
    assert "Alice" not in texts(at)
    assert any("expired or was withdrawn" in i.value for i in at.info)
    again = new_session()
    again.query_params["access"] = link.token
    again.run()
    assert "Alice" not in texts(again)


def test_code_entry_is_rate_limited(clinic):
    store, ids = clinic
    prac = make_practitioner(store)
    link = auth.issue_patient_link(store, prac, ids["P-A"]["patient"])
    at = new_session().run()

    def enter(code: str):
        at.text_input(key="_auth_code_input").input(code)
        next(b for b in at.button if b.label == "Open my progress").click()
        at.run()

    for i in range(5):
        enter(f"guess{i:027d}")
        assert at.error[0].value.startswith("this link or code is not valid")
    enter(link.token)  # the right code, but this session is locked out for now
    assert at.error[0].value.startswith("too many failed attempts: try again in")
    assert "Alice" not in texts(at)


def test_practitioner_issues_and_revokes_a_link_in_the_app(clinic):
    store, ids = clinic
    make_practitioner(store)
    at = sign_in(new_session().run())
    next(b for b in at.button if b.label == "Create link").click().run()
    token = at.code[0].value
    assert len(token) == 32
    pt = new_session()
    pt.query_params["access"] = token
    pt.run()
    assert [h.value for h in pt.header] == ["Alice Alpha (P-A)"]
    next(b for b in at.button if b.label == "Revoke").click().run()
    pt.run()
    assert "Alice" not in texts(pt)


# ---- demo mode --------------------------------------------------------------------------------


def test_demo_mode_is_marked_and_ends_when_a_real_patient_exists(tmp_path, monkeypatch):
    d = tmp_path / "demo"
    monkeypatch.setenv("SKIN_PROGRESS_DATA_DIR", str(d))
    monkeypatch.delenv("SKIN_PROGRESS_DEMO", raising=False)
    store = Store(data_dir=d)
    store.create_patient("DEMO-1", "Demo Person", is_demo=True)
    at = new_session().run()
    assert at.caption[0].value == "role: demo"
    assert "DEMO MODE — sample data, not for real patients" in texts(at)
    assert [h.value for h in at.header] == ["Demo Person (DEMO-1)"]
    real = store.create_patient("P-1", "Real Person")
    at.session_state["patient_id"] = real.id  # even pointed at it, the demo can't show it
    at.run()
    assert "Real Person" not in texts(at)
    assert any("demo mode has ended" in i.value for i in at.info)
    assert "Create the first practitioner account" in texts(at)
    # switching demo mode off: sign-in even with only demo data
    store.delete_patient(real.id)
    monkeypatch.setenv("SKIN_PROGRESS_DEMO", "0")
    off = new_session().run()
    assert "role: demo" not in texts(off) and "Demo Person" not in texts(off)
    store.close()


def test_no_patient_names_in_logs(clinic, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    store, ids = clinic
    at, link = patient_session(store, ids)
    at.query_params["patient"] = str(ids["P-B"]["patient"])
    at.run()
    at2 = sign_in(new_session().run())
    at2.selectbox(key="pick").select(ids["P-B"]["patient"]).run()
    out = capsys.readouterr()
    logged = caplog.text + out.out + out.err
    for secret in ("Alice", "Bob", link.token, PW):
        assert secret not in logged


# ---- the practitioners' Access page (pages/access.py) ---------------------------------------


def test_access_page_issues_and_revokes_links_and_shows_the_audit_log(clinic, monkeypatch):
    store, ids = clinic
    monkeypatch.delenv("SKIN_PROGRESS_DATABASE_URL", raising=False)
    make_practitioner(store)
    admin = str(Path(APP).parent / "admin_app.py")
    at = sign_in(AppTest.from_file(admin, default_timeout=60).run())
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Access"]
    at.session_state["patient_id"] = ids["P-B"]["patient"]  # the one patient picker: the sidebar's
    at.run()
    at.number_input(key="acc_days").set_value(7)
    next(b for b in at.button if b.label == "Create a link").click().run()
    assert not at.exception, at.exception
    token = at.code[0].value.split("?access=")[1]
    short = at.code[-1].value  # the short code to type: same patient, same expiry
    assert len(short) == 11 and short[5] == "-"
    assert auth.redeem_patient_link(store, short.lower().replace("-", " ")).patient_id == ids["P-B"]["patient"]
    pb = auth.redeem_patient_link(store, token)
    assert pb.patient_id == ids["P-B"]["patient"]
    links = auth.list_patient_links(store, auth.authenticate(store, "anna", PW), ids["P-B"]["patient"])
    link = next(x for x in links if not x.label.startswith(auth.SHORT_CODE_LABEL))
    assert all((x.expires_at - x.created_at) == dt.timedelta(days=7) for x in links) and len(links) == 2
    # the token is not shown again
    at.run()
    assert token not in texts(at) and short not in texts(at)
    at.button(key=f"acc_revoke_{link.id}_ask").click().run()
    auth.validate_principal(store, pb)  # not yet: revoking asks first
    at.button(key=f"acc_revoke_{link.id}_yes").click().run()
    with pytest.raises(auth.AccessDenied):
        auth.validate_principal(store, pb)
    # the audit log lists the link's life, by patient code
    df = at.dataframe[0].value
    assert {"link.issue", "sign_in.link", "link.revoke"} <= set(df["what"])
    assert set(df.loc[df["what"] == "link.issue", "patient"]) == {"P-B"}
    # a patient who reaches this page sees nothing of it
    pt = AppTest.from_file(admin, default_timeout=60)
    pt.query_params["access"] = auth.issue_patient_link(
        store, auth.authenticate(store, "anna", PW), ids["P-A"]["patient"]).token
    pt.run()
    assert [e.value for e in pt.error] == ["Practitioners only."]
    assert "Bob" not in texts(pt) and "link.issue" not in texts(pt)


# ---- configuration and source hygiene ----------------------------------------------------------


def test_upload_limit_xsrf_and_no_secrets_in_the_repository():
    import re
    import subprocess
    import tomllib

    repo = Path(APP).resolve().parents[2]
    cfg = tomllib.loads((repo / ".streamlit" / "config.toml").read_text())
    server = cfg.get("server", {})
    assert isinstance(server.get("maxUploadSize"), int) and 1 <= server["maxUploadSize"] <= 200
    assert server.get("enableXsrfProtection", True) is True
    assert server.get("enableCORS", True) is True
    assert ".streamlit/secrets.toml" in (repo / ".gitignore").read_text().split()
    try:
        tracked = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True,
                                 check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        tracked = []
    assert not [f for f in tracked if f.endswith("secrets.toml")]
    # no source file prints or logs a patient's name
    bad = re.compile(r"(\bprint|\blog\w*\.(debug|info|warning|error|exception|critical))\([^\n]*display_name")
    offenders = []
    for f in [repo / "app.py", *(repo / "analyzer").rglob("*.py"), *(repo / "pages").glob("*.py"),
              *(repo / "app_pages").glob("*.py"), *(repo / "ui").glob("*.py")]:
        for i, line in enumerate(f.read_text().splitlines(), 1):
            if bad.search(line):
                offenders.append(f"{f.relative_to(repo)}:{i}")
    assert not offenders


# ---- OIDC (st.login / st.user) ------------------------------------------------------------------

OIDC_SECRETS = {
    "auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 40,
             "client_id": "cid", "client_secret": "csecret",
             "server_metadata_url": "https://login.example/.well-known/openid-configuration"},
    "access": {"practitioner_domains": ["clinic.example"]},
}


def oidc_session(user: dict) -> AppTest:
    at = new_session()
    at.secrets = {k: dict(v) for k, v in OIDC_SECRETS.items()}
    at.user = dict(user)
    return at


def test_oidc_sign_in_allow_list_and_provider_sign_out(clinic):
    store, ids = clinic
    # not signed in with the provider: the provider button, no first-account form, no demo
    at = oidc_session({"is_logged_in": False}).run()
    assert not at.exception, at.exception
    assert [b.label for b in at.button][:1] == ["Sign in with the clinic's account"]
    assert "Create the first practitioner account" not in texts(at) and "Alice" not in texts(at)
    import importlib.util

    missing = importlib.util.find_spec("authlib") is None  # st.login needs it
    assert any("Authlib package is missing" in e.value for e in at.error) == missing
    # signed in, but not one of the clinic's practitioners
    out = oidc_session({"is_logged_in": True, "email": "someone@gmail.com", "email_verified": True}).run()
    assert "someone@gmail.com is not a practitioner account of this clinic" in [e.value for e in out.error]
    assert "Alice" not in texts(out) and "Bob" not in texts(out)
    # a practitioner of the clinic
    at = oidc_session({"is_logged_in": True, "email": "Dr.Who@clinic.example", "email_verified": True}).run()
    assert not at.exception, at.exception
    assert at.caption[0].value == "role: practitioner"
    assert "Alice Alpha (P-A)" in [h.value for h in at.header]
    # the provider session ends (cookie gone): so does access, at the next click
    at.user = {"is_logged_in": False}
    at.run()
    assert "Alice" not in texts(at)
    assert any("provider has ended" in i.value for i in at.info)
    # sign in again, then sign out: st.logout clears the provider identity too
    at.user = {"is_logged_in": True, "email": "dr.who@clinic.example", "email_verified": True}
    at.run()
    assert "Alice Alpha (P-A)" in [h.value for h in at.header]
    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert "Alice" not in texts(at)
    actions = [(e.actor, e.action) for e in auth.list_audit(store, auth.Principal(
        role="practitioner", via="oidc", name="x", signed_in_at=auth.utcnow()))]
    assert ("oidc:dr.who@clinic.example", "sign_in.oidc") in actions
    assert ("oidc:dr.who@clinic.example", "sign_out") in actions


def test_oidc_turns_demo_mode_off(tmp_path, monkeypatch):
    d = tmp_path / "demo"
    monkeypatch.setenv("SKIN_PROGRESS_DATA_DIR", str(d))
    monkeypatch.delenv("SKIN_PROGRESS_DEMO", raising=False)
    store = Store(data_dir=d)
    store.create_patient("DEMO-1", "Demo Person", is_demo=True)
    at = oidc_session({"is_logged_in": False}).run()
    assert "Demo Person" not in texts(at) and "DEMO MODE" not in texts(at)
    store.close()


def test_access_support_helpers_for_other_app_tests(clinic):
    from tests.access_support import open_patient_link, sign_in_practitioner

    store, ids = clinic
    data_dir = store.data_dir
    at = sign_in_practitioner(new_session(), data_dir)
    assert at.caption[0].value == "role: practitioner"
    pt = open_patient_link(new_session(), data_dir, ids["P-B"]["patient"])
    assert [h.value for h in pt.header] == ["Bob Beta (P-B)"]


def test_setup_code_guards_the_first_account(clinic, monkeypatch):
    store, ids = clinic
    monkeypatch.setenv("SKIN_PROGRESS_SETUP_CODE", "open sesame 42")
    at = new_session().run()

    def create(code: str):
        at.text_input(key="_auth_first_user").input("anna")
        at.text_input(key="_auth_first_pw").input(PW)
        at.text_input(key="_auth_first_pw2").input(PW)
        at.text_input(key="_auth_first_code").input(code)
        next(b for b in at.button if b.label == "Create account and sign in").click().run()

    create("guess")
    assert [e.value for e in at.error] == ["wrong setup code"]
    assert auth.needs_first_account(store)
    create("open sesame 42")
    assert at.caption[0].value == "role: practitioner"


def test_idle_session_is_signed_out(clinic, monkeypatch):
    import time

    store, ids = clinic
    make_practitioner(store)
    monkeypatch.setenv("SKIN_PROGRESS_IDLE_MINUTES", "0.05")  # 3 s
    at = sign_in(new_session().run())
    assert at.caption[0].value == "role: practitioner"
    at.run()  # a click within the idle time keeps the session
    assert at.caption[0].value == "role: practitioner"
    time.sleep(3.5)
    at.run()
    assert "Alice" not in texts(at)
    assert any("without activity" in i.value for i in at.info)
