"""analyzer.auth: accounts, password hashing, patient links, rate limiting, authorization, audit.

Runs on SQLite and (with SKIN_PROGRESS_TEST_PG_URL) PostgreSQL through the storage fixtures.
Time is a fake clock (every call takes ``now``).
"""
# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from PIL import Image

from analyzer import __version__, auth
from analyzer.auth import AccessDenied, AccountError, InvalidCredentials, RateLimited
from analyzer.service.scope import scope
from analyzer.store import Conflict
from tests.store_fixtures import data_dir, db_url, store  # noqa: F401

T0 = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
PW = "correct horse battery"


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    """Cheap Argon2 parameters for speed (test_password_never_stored_plain uses the real ones)."""
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(auth, "_dummy_hash", None)


def gps_jpeg(seed: int = 0, size=(240, 200)) -> bytes:
    """A JPEG whose EXIF carries a GPS position (48.8584 N, 2.2945 E) and a camera make."""
    import numpy as np

    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x010F] = "GPSCam"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 30.24)
    gps[3] = "E"
    gps[4] = (2.0, 17.0, 40.2)
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif, quality=90)
    return buf.getvalue()


def has_gps(data: bytes) -> bool:
    im = Image.open(io.BytesIO(data))
    exif = im.getexif()
    return bool(exif.get_ifd(0x8825)) or 0x8825 in exif


def two_patients(store):
    """Alice (P-A) and Bob (P-B), each with one series, one session and one photo with GPS."""
    out = {}
    for code, name, seed in (("P-A", "Alice Alpha", 1), ("P-B", "Bob Beta", 2)):
        p = store.create_patient(code, name)
        s = store.create_series(p.id, body_area="face", concerns=["redness"])
        se = store.add_session(s.id, date=dt.date(2026, 1, 1))
        ph = store.add_photo(se.id, view="front", data=gps_jpeg(seed), filename=f"{code}.jpg")
        out[code] = (p, s, se, ph)
    return out


def practitioner(store, now=T0):
    return auth.create_first_practitioner(store, "anna", PW, PW, now=now)


def raw_rows(store, table: str) -> list[tuple]:
    with store.engine.connect() as c:
        return [tuple(r) for r in c.execute(sa.text(f"SELECT * FROM {table}"))]


# ---- passwords and accounts -------------------------------------------------------------------


def test_password_never_stored_plain(store, monkeypatch):
    monkeypatch.setattr(auth, "_hasher", PasswordHasher())  # production parameters
    p = auth.create_first_practitioner(store, "Anna", PW, PW, now=T0)
    assert p.is_practitioner and p.name == "anna"
    rows = raw_rows(store, "users")
    assert len(rows) == 1
    stored = [str(v) for v in rows[0]]
    assert all(PW not in v for v in stored)
    (h,) = [v for v in stored if v.startswith("$argon2")]
    assert h.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    # the same password hashes differently each time (salted) and verifies
    assert auth.hash_password(PW) != auth.hash_password(PW)
    assert auth.verify_password(h, PW) and not auth.verify_password(h, PW + "x")
    # nowhere else either: audit, failures, and the raw SQLite file
    for table in ("audit_log", "auth_failures", "patient_tokens"):
        assert all(PW not in str(v) for r in raw_rows(store, table) for v in r)
    if store.backend == "sqlite":
        from pathlib import Path

        db = Path(store.engine.url.database)
        store.close()
        raw = b"".join(f.read_bytes() for f in db.parent.glob(db.name + "*"))
        assert raw
        assert PW.encode() not in raw and h.encode() in raw


def test_first_account_only_once_and_password_rules(store):
    assert auth.needs_first_account(store)
    with pytest.raises(AccountError, match="at least 10"):
        auth.create_first_practitioner(store, "anna", "short", "short")
    with pytest.raises(AccountError, match="differ"):
        auth.create_first_practitioner(store, "anna", PW, PW + "!")
    with pytest.raises(AccountError, match="username"):
        auth.create_first_practitioner(store, "anna smith", PW, PW)
    with pytest.raises(AccountError, match="username"):
        auth.create_first_practitioner(store, "annaanna12", "annaanna12", "annaanna12")
    assert auth.needs_first_account(store)  # nothing was written
    p = practitioner(store)
    assert not auth.needs_first_account(store)
    with pytest.raises(Conflict, match="already exists"):
        auth.create_first_practitioner(store, "mallory", PW, PW)
    # further accounts only by a practitioner
    acc = auth.create_account(store, p, "ben", PW, PW)
    assert acc.role == "practitioner" and not acc.disabled
    with pytest.raises(Conflict, match="taken"):
        auth.create_account(store, p, "BEN", PW, PW)
    with pytest.raises(AccessDenied):
        auth.create_account(store, auth.demo_principal(T0), "eve", PW, PW)
    assert [a.username for a in auth.list_accounts(store, p)] == ["anna", "ben"]
    assert not any(hasattr(a, "password_hash") for a in auth.list_accounts(store, p))


def test_authenticate_and_same_error_for_unknown_user(store):
    practitioner(store)
    p = auth.authenticate(store, " ANNA ", PW, now=T0)
    assert p.is_practitioner and p.via == "local" and p.user_id is not None
    with pytest.raises(InvalidCredentials) as wrong:
        auth.authenticate(store, "anna", PW + "x", now=T0)
    with pytest.raises(InvalidCredentials) as unknown:
        auth.authenticate(store, "nobody", PW, now=T0)
    assert str(wrong.value) == str(unknown.value) == "wrong username or password"


def test_change_password_and_disable_account_ends_sessions(store):
    p = practitioner(store)
    b_acc = auth.create_account(store, p, "ben", PW, PW)
    ben = auth.authenticate(store, "ben", PW, now=T0)
    new = "another long secret"
    with pytest.raises(InvalidCredentials):
        auth.change_password(store, ben, "wrong old pw", new, new, now=T0)
    auth.change_password(store, ben, PW, new, new, now=T0)
    with pytest.raises(InvalidCredentials):
        auth.authenticate(store, "ben", PW, now=T0)
    ben = auth.authenticate(store, "ben", new, now=T0)
    assert auth.validate_principal(store, ben, now=T0) == ben
    auth.set_account_disabled(store, p, b_acc.id, True, now=T0)
    with pytest.raises(AccessDenied, match="no longer active"):
        auth.validate_principal(store, ben, now=T0)
    with pytest.raises(InvalidCredentials):
        auth.authenticate(store, "ben", new, now=T0 + dt.timedelta(hours=2))
    with pytest.raises(AccountError, match="last practitioner"):
        auth.set_account_disabled(store, p, p.user_id, True, now=T0)


# ---- rate limiting ---------------------------------------------------------------------------


def test_password_brute_force_is_slowed_down(store):
    practitioner(store)
    t = T0
    for _ in range(5):  # the free allowance
        with pytest.raises(InvalidCredentials):
            auth.authenticate(store, "anna", "guess-guess-1", now=t, session_key="s1")
    # locked now: even the right password is not checked
    with pytest.raises(RateLimited) as e:
        auth.authenticate(store, "anna", PW, now=t, session_key="s1")
    assert e.value.retry_after == pytest.approx(5, abs=0.01)
    # a fresh browser session doesn't help: the username itself is locked
    with pytest.raises(RateLimited):
        auth.authenticate(store, "anna", PW, now=t + dt.timedelta(seconds=4), session_key="s2")
    # each further failure doubles the wait: 5 s, 10 s, 20 s, 40 s
    waits = []
    for _ in range(4):
        t = t + dt.timedelta(seconds=auth.retry_after(store, auth.login_keys("anna", "s1"), now=t) + 0.001)
        with pytest.raises(InvalidCredentials):
            auth.authenticate(store, "anna", "guess-guess-2", now=t, session_key="s1")
        waits.append(round(auth.retry_after(store, auth.login_keys("anna", "s1"), now=t)))
    assert waits == [10, 20, 40, 80]
    # the account shows the failures; after the wait the right password works and resets them
    t = t + dt.timedelta(seconds=81)
    p = auth.authenticate(store, "anna", PW, now=t, session_key="s3")
    assert p.is_practitioner
    assert auth.list_accounts(store, p)[0].failed_attempts == 0


def test_code_brute_force_is_slowed_down_per_session_and_globally(store):
    pats = two_patients(store)
    p = practitioner(store)
    link = auth.issue_patient_link(store, p, pats["P-A"][0].id, now=T0)
    t = T0
    for i in range(5):
        with pytest.raises(InvalidCredentials):
            auth.redeem_patient_link(store, f"wrong-code-{i:020d}", session_key="tab1", now=t)
    with pytest.raises(RateLimited):  # the real code is refused while locked: guessing stalls
        auth.redeem_patient_link(store, link.token, session_key="tab1", now=t)
    assert auth.redeem_patient_link(store, link.token, session_key="tab2", now=t).patient_id == pats["P-A"][0].id
    # an attacker opening a new session per guess hits the global limit (30 per hour)
    for i in range(25):  # 5 + 25 = 30 failures
        with pytest.raises(InvalidCredentials):
            auth.redeem_patient_link(store, f"x{i:030d}", session_key=f"fresh{i}", now=t)
    with pytest.raises(RateLimited) as e:
        auth.redeem_patient_link(store, link.token, session_key="brand-new", now=t)
    assert 1 <= e.value.retry_after <= 2.01
    # after the global lock passes, one more failure doubles it
    t2 = t + dt.timedelta(seconds=2.01)
    with pytest.raises(InvalidCredentials):
        auth.redeem_patient_link(store, "y" * 32, session_key="other", now=t2)
    assert auth.retry_after(store, auth.code_keys(), now=t2) == pytest.approx(4, abs=0.01)
    # an hour later the window has passed
    later = t + dt.timedelta(hours=1, seconds=5)
    assert auth.redeem_patient_link(store, link.token, session_key="tab1", now=later).is_patient


def test_lockout_schedule():
    pol = auth.POLICIES["session"]
    assert [pol.lockout(n).total_seconds() for n in range(4, 9)] == [0, 5, 10, 20, 40]
    assert pol.lockout(40) == pol.cap
    assert str(RateLimited(5)) == "too many failed attempts: try again in 5 s"
    assert str(RateLimited(600)) == "too many failed attempts: try again in 10 min"


# ---- patient links ---------------------------------------------------------------------------


def test_patient_token_is_random_hashed_and_shown_once(store):
    pats = two_patients(store)
    p = practitioner(store)
    a = pats["P-A"][0].id
    links = [auth.issue_patient_link(store, p, a, now=T0, label="phone") for _ in range(3)]
    for li in links:
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", li.token)  # 24 random bytes = 192 bits
        assert li.query == f"?access={li.token}"
        assert li.expires_at == T0 + dt.timedelta(days=30)
    assert len({li.token for li in links}) == 3
    stored = [str(v) for r in raw_rows(store, "patient_tokens") for v in r]
    for li in links:
        assert li.token not in " ".join(stored)
        assert hashlib.sha256(li.token.encode()).hexdigest() in stored
    for r in raw_rows(store, "audit_log"):
        assert all(li.token not in str(v) for li in links for v in r)
    # code pasted with spaces or as the whole link works
    pa = auth.redeem_patient_link(store, f"  https://clinic.example/?access={links[0].token}  ", now=T0)
    assert pa.is_patient and pa.patient_id == a and pa.token_id == links[0].id
    assert auth.list_patient_links(store, p, a)[-1].last_used_at == T0
    with pytest.raises(AccessDenied):
        auth.issue_patient_link(store, pa, a, now=T0)  # a patient can't mint links
    with pytest.raises(AccountError):
        auth.issue_patient_link(store, p, a, days=0)


def test_expired_token_is_refused(store):
    pats = two_patients(store)
    p = practitioner(store)
    link = auth.issue_patient_link(store, p, pats["P-A"][0].id, days=1, now=T0)
    just_before = T0 + dt.timedelta(days=1) - dt.timedelta(seconds=1)
    pa = auth.redeem_patient_link(store, link.token, now=just_before)
    assert auth.validate_principal(store, pa, now=just_before) == pa
    after = T0 + dt.timedelta(days=1)
    with pytest.raises(AccessDenied, match="expired or was withdrawn"):  # a session already open
        auth.validate_principal(store, pa, now=after)
    with pytest.raises(InvalidCredentials, match="not valid"):  # a new sign-in
        auth.redeem_patient_link(store, link.token, now=after)
    assert auth.list_patient_links(store, p, pats["P-A"][0].id)[0].state(after) == "expired"


def test_revoked_token_is_refused_at_once(store):
    pats = two_patients(store)
    p = practitioner(store)
    a = pats["P-A"][0].id
    keep = auth.issue_patient_link(store, p, a, now=T0)
    gone = auth.issue_patient_link(store, p, a, now=T0)
    pa = auth.redeem_patient_link(store, gone.token, now=T0)
    auth.revoke_patient_link(store, p, gone.id, now=T0 + dt.timedelta(minutes=1))
    t = T0 + dt.timedelta(minutes=1)
    with pytest.raises(AccessDenied):
        auth.validate_principal(store, pa, now=t)
    with pytest.raises(InvalidCredentials):
        auth.redeem_patient_link(store, gone.token, now=t)
    assert auth.redeem_patient_link(store, keep.token, now=t).patient_id == a  # the other link lives
    assert auth.revoke_all_links(store, p, a, now=t) == 1
    with pytest.raises(InvalidCredentials):
        auth.redeem_patient_link(store, keep.token, now=t)
    states = {li.id: li.state(t) for li in auth.list_patient_links(store, p, a)}
    assert states == {keep.id: "revoked", gone.id: "revoked"}
    # a principal with a token hash moved to another patient is refused too
    other = auth.issue_patient_link(store, p, a, now=t)
    po = auth.redeem_patient_link(store, other.token, now=t)
    forged = auth.Principal(**{**po.__dict__, "patient_id": pats["P-B"][0].id})
    with pytest.raises(AccessDenied):
        auth.validate_principal(store, forged, now=t)


def test_deleting_patient_deletes_links(store):
    pats = two_patients(store)
    p = practitioner(store)
    link = auth.issue_patient_link(store, p, pats["P-B"][0].id, now=T0)
    pb = auth.redeem_patient_link(store, link.token, now=T0)
    store.delete_patient(pats["P-B"][0].id)
    with pytest.raises(AccessDenied):
        auth.validate_principal(store, pb, now=T0)


# ---- authorization -------------------------------------------------------------------------


def test_patient_token_never_reaches_another_patients_data(store):
    pats = two_patients(store)
    p = practitioner(store)
    (pa_, sa_, sea, pha), (pb_, sb, seb, phb) = pats["P-A"], pats["P-B"]
    link = auth.issue_patient_link(store, p, pa_.id, now=T0)
    alice = auth.redeem_patient_link(store, link.token, now=T0)
    sc = scope(store, alice)
    # own data: yes
    assert [x.code for x in sc.patients()] == ["P-A"]
    assert sc.patient(pa_.id).display_name == "Alice Alpha"
    assert [x.id for x in sc.series_of(pa_.id)] == [sa_.id]
    assert [x.id for x in sc.photos(sea.id)] == [pha.id]
    assert sc.photo_display_bytes(pha.id)[:2] == b"\xff\xd8"
    # anything of Bob's, or any id that isn't an int, or doesn't exist: the same refusal
    attempts = [
        lambda: sc.patient(pb_.id), lambda: sc.series_of(pb_.id), lambda: sc.series(sb.id),
        lambda: sc.sessions(sb.id), lambda: sc.photos(seb.id), lambda: sc.photo(phb.id),
        lambda: sc.photo_display_bytes(phb.id), lambda: sc.progress_table(sb.id),
        lambda: sc.analyses_for_series(sb.id, analyzer_version="x"), lambda: sc.csv_export(sb.id),
        lambda: sc.report_pdf(pb_.id), lambda: sc.report_pdf(pa_.id, sb.id),
        lambda: sc.patient(str(pb_.id)), lambda: sc.patient(str(pa_.id)), lambda: sc.patient(True),
        lambda: sc.patient(10_000), lambda: sc.photo(10_000), lambda: sc.series(None),
    ]
    for i, f in enumerate(attempts):
        with pytest.raises(AccessDenied, match="don't have access") as e:
            f()
        assert "Bob" not in str(e.value) and "P-B" not in str(e.value), i
    # originals (with camera metadata) are for practitioners only, even the patient's own
    with pytest.raises(AccessDenied, match="practitioners only"):
        sc.photo_original_bytes(pha.id)
    prac = scope(store, p)
    assert {x.code for x in prac.patients()} == {"P-A", "P-B"}
    assert has_gps(prac.photo_original_bytes(phb.id))


def test_authorize_rules(store):
    demo = store.create_patient("DEMO-1", "Demo Person", is_demo=True)
    real = store.create_patient("P-1", "Real Person")
    now = T0
    pr = auth.Principal(role="practitioner", via="oidc", name="dr@clinic.example", signed_in_at=now)
    pt = auth.Principal(role="patient", via="link", name="link-1", signed_in_at=now, patient_id=real.id)
    dm = auth.demo_principal(now)
    assert auth.authorize(pr, real.id) == real.id and auth.authorize(pr, demo.id) == demo.id
    assert auth.authorize(pt, real.id) == real.id
    assert auth.authorize(dm, demo.id, store) == demo.id
    for who, pid in ((pt, demo.id), (dm, real.id), (dm, demo.id), (None, real.id), (pr, "1"),
                     (pr, 1.0), (pt, None)):
        with pytest.raises(AccessDenied):
            auth.authorize(who, pid)  # demo without a store is refused too
    assert not auth.may_see_originals(pt) and not auth.may_see_originals(dm) and auth.may_see_originals(pr)


def test_demo_mode_is_off_once_real_patients_or_accounts_exist(store):
    assert auth.demo_mode_available(store)
    store.create_patient("DEMO-1", "Demo Person", is_demo=True)
    assert auth.demo_mode_available(store)
    assert not auth.demo_mode_available(store, oidc_configured=True)
    assert not auth.demo_mode_available(store, disabled=True)
    dm = auth.demo_principal(T0)
    assert auth.validate_principal(store, dm, now=T0) == dm
    real = store.create_patient("P-1", "Real Person")
    assert not auth.demo_mode_available(store)
    with pytest.raises(AccessDenied, match="demo mode has ended"):
        auth.validate_principal(store, dm, now=T0)
    store.delete_patient(real.id)
    assert auth.demo_mode_available(store)
    practitioner(store)
    assert not auth.demo_mode_available(store)


def test_session_idle_and_age_limits(store):
    p = practitioner(store)
    assert auth.validate_principal(store, p, now=T0 + dt.timedelta(minutes=59), last_seen=T0) == p
    with pytest.raises(AccessDenied, match="without activity"):
        auth.validate_principal(store, p, now=T0 + dt.timedelta(minutes=61), last_seen=T0)
    with pytest.raises(AccessDenied, match="expired"):
        auth.validate_principal(store, p, now=T0 + dt.timedelta(hours=13),
                                last_seen=T0 + dt.timedelta(hours=12, minutes=50))
    # a principal naming another user id (tampered) is refused
    forged = auth.Principal(**{**p.__dict__, "user_id": p.user_id + 1})
    with pytest.raises(AccessDenied):
        auth.validate_principal(store, forged, now=T0)
    assert auth.Principal.from_dict(p.to_dict()) == p


def test_oidc_needs_an_allow_list():
    claims = {"email": "Dr.Who@Clinic.example", "email_verified": True, "name": "Dr Who"}
    with pytest.raises(AccessDenied, match="no practitioner e-mails"):
        auth.oidc_principal(claims, now=T0)
    p = auth.oidc_principal(claims, allowed_domains=["@clinic.example"], now=T0)
    assert p.is_practitioner and p.via == "oidc" and p.name == "dr.who@clinic.example"
    assert auth.oidc_principal(claims, allowed_emails=["dr.who@clinic.example"], now=T0).is_practitioner
    with pytest.raises(AccessDenied, match="not a practitioner"):
        auth.oidc_principal({"email": "x@gmail.com", "email_verified": True}, allowed_domains=["clinic.example"],
                            now=T0)
    with pytest.raises(AccessDenied, match="not verified"):
        auth.oidc_principal({**claims, "email_verified": False}, allowed_domains=["clinic.example"])
    with pytest.raises(AccessDenied, match="e-mail"):
        auth.oidc_principal({"sub": "123"}, allowed_domains=["clinic.example"])


# ---- audit and privacy -------------------------------------------------------------------------


def test_audit_log_records_who_viewed_or_exported_which_patient(store, caplog):
    caplog.set_level("DEBUG")
    pats = two_patients(store)
    p = practitioner(store)
    a, b = pats["P-A"][0].id, pats["P-B"][0].id
    link = auth.issue_patient_link(store, p, a, now=T0)
    alice = auth.redeem_patient_link(store, link.token, now=T0)
    auth.record_audit(store, alice, "view.progress", a, now=T0 + dt.timedelta(seconds=1))
    scope(store, p).csv_export(pats["P-B"][1].id)
    log = auth.list_audit(store, p)
    assert [(e.actor, e.action, e.patient_id) for e in log[:3]] == [
        ("local:anna", "export.csv", b),
        ("link:1", "view.progress", a),
        ("link:1", "sign_in.link", a),
    ]
    assert all(e.at.tzinfo is not None for e in log)
    assert [e.action for e in auth.list_audit(store, p, patient_id=b)] == ["export.csv"]
    with pytest.raises(AccessDenied):
        auth.list_audit(store, alice)
    with pytest.raises(ValueError):
        auth.record_audit(store, p, "View Progress!", a)
    with pytest.raises(ValueError):
        auth.record_audit(store, p, "view.progress", "Alice Alpha")
    # the trail names ids, never a patient's name or code; nor does any log line
    text = " ".join(str(v) for r in raw_rows(store, "audit_log") for v in r)
    for secret in ("Alice", "Bob", "P-A", "P-B", link.token, PW):
        assert secret not in text
        assert secret not in caplog.text


def test_exports_contain_no_gps(store):
    pats = two_patients(store)
    p = practitioner(store)
    _, s, _, ph = pats["P-A"]
    original = store.photo_original_bytes(ph.id)
    assert has_gps(original)  # the fixture does carry GPS
    sc = scope(store, p)
    display = sc.photo_display_bytes(ph.id)
    assert not has_gps(display)
    assert not Image.open(io.BytesIO(display)).getexif()  # no EXIF at all
    assert b"GPSCam" not in display and b"Exif" not in display[:200]
    csv_text = sc.csv_export(s.id)
    assert "48.8" not in csv_text and "GPS" not in csv_text


def test_csv_export_is_the_series_own_patient_when_ids_differ(store):
    # Series ids and patient ids drift apart as soon as a patient has two series: the export
    # must follow the series to its own patient, never read the series id as a patient id.
    a = store.create_patient("P-A", "Alice Alpha")
    store.create_series(a.id, body_area="face", concerns=["redness"])
    store.create_series(a.id, body_area="neck", concerns=["texture"])
    b = store.create_patient("P-B", "Bob Beta")
    sb = store.create_series(b.id, body_area="face", concerns=["redness"])
    assert sb.id != b.id
    se = store.add_session(sb.id, date=dt.date(2026, 1, 1))
    ph = store.add_photo(se.id, view="front", data=gps_jpeg(5), filename="b.jpg")
    store.save_analysis(ph.id, baseline_photo_id=None, transform=None, region="face",
                        result={"baseline": {"redness": {"a_star_mean": 9.5}, "meta": {}}},
                        analyzer_version=__version__)
    text = scope(store, practitioner(store)).csv_export(sb.id)
    assert "P-B" in text and "P-A" not in text


def test_report_pdf_contains_no_gps_and_is_audited(store):
    from pypdf import PdfReader

    p = store.create_patient("P-A", "Alice Alpha", consent_photos=True, consent_reports=True)
    s = store.create_series(p.id, body_area="face", concerns=["redness"])
    se = store.add_session(s.id, date=dt.date(2026, 1, 1))
    store.add_photo(se.id, view="front", data=gps_jpeg(3, (800, 600)), filename="a.jpg")
    prac = practitioner(store)
    link = auth.issue_patient_link(store, prac, p.id, now=T0)
    alice = auth.redeem_patient_link(store, link.token)
    pdf = scope(store, alice).report_pdf(p.id, s.id)  # the patient's own report
    assert pdf.startswith(b"%PDF")
    images = [im for page in PdfReader(io.BytesIO(pdf)).pages for im in page.images]
    assert images, "the report should show the photo"
    for im in images:
        assert b"Exif" not in im.data and b"GPSCam" not in im.data
        assert not Image.open(io.BytesIO(im.data)).getexif()
    assert b"GPSCam" not in pdf and b"GPSInfo" not in pdf
    assert [(e.actor, e.action, e.patient_id) for e in auth.list_audit(store, prac)][0] == (
        f"link:{link.id}", "export.report", p.id)


def test_patient_archive_with_originals_is_practitioner_only(store, tmp_path):
    pats = two_patients(store)
    p = practitioner(store)
    a = pats["P-A"][0].id
    alice = auth.redeem_patient_link(store, auth.issue_patient_link(store, p, a, now=T0).token)
    with pytest.raises(AccessDenied, match="practitioners only"):
        scope(store, alice).patient_archive(a, tmp_path / "a.zip")
    assert not (tmp_path / "a.zip").exists()
    scope(store, p).patient_archive(a, tmp_path / "a.zip")
    assert (tmp_path / "a.zip").stat().st_size > 0
    assert auth.list_audit(store, p)[0].action == "export.archive"


def test_two_first_accounts_at_once_only_one_wins(store):
    from concurrent.futures import ThreadPoolExecutor

    def claim(name):
        try:
            return auth.create_first_practitioner(store, name, PW, PW).name
        except Conflict:
            return None

    with ThreadPoolExecutor(4) as ex:
        won = [w for w in ex.map(claim, ["ann1", "ann2", "ann3", "ann4"]) if w]
    assert len(won) == 1
    assert [a.username for a in auth.list_accounts(store, auth.authenticate(store, won[0], PW))] == won
