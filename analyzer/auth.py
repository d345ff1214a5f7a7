"""Access control: accounts, patient links, rate limiting, sessions and the audit log.

Pure library (no Streamlit); the Streamlit gate is ``ui/auth.py``. Every function that
reads the clock takes ``now`` (aware UTC) so tests can drive a fake clock.

Who may see what
----------------
A :class:`Principal` is whoever is signed in:

* ``practitioner`` (local account or OIDC): every patient of the clinic, originals included.
* ``patient`` (a patient link/code): read-only, one patient, never originals.
* ``demo``: only demo patients (``is_demo``), and only while the clinic has no real patient,
  no practitioner account and no OIDC provider (:func:`demo_mode_available`).

:func:`authorize` is the one check; :class:`analyzer.service.scope.PatientScope` wraps the store and the service so
that every read of patient data goes through it.

Secrets
-------
* Passwords: Argon2id (argon2-cffi), never stored or logged in plain text.
* Patient links: ``secrets.token_urlsafe(24)`` (192 bits) shown once; only the SHA-256 of
  the token is stored (a fast hash is right for a high-entropy random token), with an
  expiry and a revocation time.
* Failed sign-ins and codes are counted in ``auth_failures`` per username, per browser
  session and globally; past a free allowance each further attempt waits exponentially
  longer (:data:`POLICIES`).

Nothing here writes a patient's name anywhere: audit entries carry the numeric patient id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from analyzer.principal import (  # noqa: F401 - re-exported: analyzer.auth stays the access API
    ROLES,
    AccessDenied,
    AccountError,
    AuthError,
    InvalidCredentials,
    Principal,
    RateLimited,
    Role,
    User,
    Via,
    demo_principal,
    utcnow,
)
from analyzer.principal import as_utc as _now
from analyzer.store.errors import Conflict, NotFound
from analyzer.store.models import (
    AuditRow,
    AuthFailureRow,
    PatientRow,
    PatientTokenRow,
    UserRow,
)

if TYPE_CHECKING:
    from analyzer.store import Store

T = TypeVar("T")

#: Shortest password accepted for a local account.
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
#: Random bytes in a patient link token (192 bits; the issue asks for at least 128).
TOKEN_BYTES = 24
DEFAULT_LINK_DAYS = 30
MAX_LINK_DAYS = 365
#: A signed-in browser session ends after this long without a request ...
DEFAULT_IDLE = dt.timedelta(minutes=60)
#: ... and in any case this long after signing in.
DEFAULT_MAX_AGE = dt.timedelta(hours=12)

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,99}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,128}$")  # >= 22 url-safe chars = >= 128 bits
#: A short code a patient can type (``K7QMX-R2PTA``): 10 characters without look-alikes (no I, L,
#: O, 0, 1), about 49 bits. Guessing is held back by the same rate limits as links (``codes:*``
#: for all codes together: about 30 tries an hour, then waits), and it expires like a link.
SHORT_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
SHORT_CODE_LENGTH = 10
SHORT_CODE_LABEL = "typed code"
_SHORT = re.compile(rf"^[{SHORT_CODE_ALPHABET}]{{{SHORT_CODE_LENGTH}}}$")
_ACTION = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")


# ---- database plumbing -----------------------------------------------------------------


def _write(store: Store, fn: Callable[[Any], T]) -> T:
    factory = store.session_factory(write=True)
    with factory() as s, s.begin():
        out = fn(s)
    store.check_database_file()  # written to a deleted database file: not acknowledged
    return out


def _read(store: Store, fn: Callable[[Any], T]) -> T:
    factory = store.session_factory()
    with factory() as s:
        return fn(s)


# ---- passwords ---------------------------------------------------------------------------

#: Argon2id with argon2-cffi's RFC 9106 low-memory defaults (t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()
_dummy_hash: str | None = None


def hash_password(password: str) -> str:
    """Argon2id hash (``$argon2id$v=19$...``) with a random salt."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if ``password`` matches; never raises for a wrong or malformed hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _burn_time(password: str) -> None:
    """Spend a verification's time for an unknown username (no user-enumeration by timing)."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    verify_password(_dummy_hash, password)


def normalize_username(username: str) -> str:
    """Trimmed and lower-cased; raises :class:`AccountError` unless 1-100 of ``a-z 0-9 . _ @ + -``."""
    name = str(username or "").strip().lower()
    if not _USERNAME.match(name):
        raise AccountError("username: 1-100 characters, letters, digits and . _ @ + - only")
    return name


def check_new_password(password: str, confirm: str | None = None, *, username: str = "") -> None:
    """Raise :class:`AccountError` unless the password is acceptable for a new account."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password can have at most {MAX_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise AccountError("the password can't be only spaces")
    if username and password.strip().lower() == username.strip().lower():
        raise AccountError("the password can't be the username")
    if confirm is not None and not hmac.compare_digest(password.encode(), str(confirm).encode()):
        raise AccountError("the two passwords differ")


# ---- rate limiting -----------------------------------------------------------------------


@dataclass(frozen=True)
class RatePolicy:
    """``free`` failures per ``window`` cost nothing; the n-th failure past them locks the key
    for ``base * 2**n`` (at most ``cap``) after that failure."""

    free: int
    window: dt.timedelta
    base: dt.timedelta
    cap: dt.timedelta

    def lockout(self, failures: int) -> dt.timedelta:
        if failures < self.free:
            return dt.timedelta(0)
        return min(self.base * (2 ** min(failures - self.free, 30)), self.cap)


#: Policies by key kind (the part of the key before ``:``).
POLICIES: dict[str, RatePolicy] = {
    # one username: 5 free, then 5 s, 10 s, 20 s ... up to 15 min
    "user": RatePolicy(5, dt.timedelta(hours=1), dt.timedelta(seconds=5), dt.timedelta(minutes=15)),
    # one browser session (codes and passwords): 5 free, then 5 s, 10 s ... up to 15 min
    "session": RatePolicy(5, dt.timedelta(hours=1), dt.timedelta(seconds=5), dt.timedelta(minutes=15)),
    # all patient codes together (an attacker opening new sessions): 30 free per hour
    "codes": RatePolicy(30, dt.timedelta(hours=1), dt.timedelta(seconds=2), dt.timedelta(minutes=5)),
    # all passwords together (password spraying across usernames)
    "logins": RatePolicy(50, dt.timedelta(hours=1), dt.timedelta(seconds=2), dt.timedelta(minutes=5)),
    # the first-account setup code (one per installation): 5 free, then 5 s, 10 s ... up to 15 min
    "setup": RatePolicy(5, dt.timedelta(hours=1), dt.timedelta(seconds=5), dt.timedelta(minutes=15)),
}
_KEEP = max(p.window for p in POLICIES.values())


def _policy(key: str) -> RatePolicy:
    return POLICIES[key.split(":", 1)[0]]


def _key(kind: str, value: str = "*") -> str:
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}" if value != "*" else f"{kind}:*"


def retry_after(store: Store, keys: Iterable[str], *, now: dt.datetime | None = None) -> float:
    """Seconds until every key accepts another attempt (0 if none is locked)."""
    now = _now(now)
    keys = list(keys)

    def q(s) -> float:
        wait = 0.0
        for key in keys:
            pol = _policy(key)
            rows = s.execute(
                sa.select(sa.func.count(), sa.func.max(AuthFailureRow.at))
                .where(AuthFailureRow.key == key, AuthFailureRow.at > now - pol.window)).one()
            count, last = rows
            if not count or last is None:
                continue
            if last.tzinfo is None:
                last = last.replace(tzinfo=dt.UTC)
            until = last + pol.lockout(count)
            wait = max(wait, (until - now).total_seconds())
        return wait

    return _read(store, q)


def check_rate(store: Store, keys: Iterable[str], *, now: dt.datetime | None = None) -> None:
    """Raise :class:`RateLimited` if any key is locked out at ``now``."""
    wait = retry_after(store, keys, now=now)
    if wait > 0:
        raise RateLimited(wait)


def record_failure(store: Store, keys: Iterable[str], *, now: dt.datetime | None = None) -> None:
    """Count one failed attempt against every key (and forget failures older than a day)."""
    now = _now(now)
    keys = list(keys)

    def tx(s):
        s.execute(sa.delete(AuthFailureRow).where(AuthFailureRow.at < now - max(_KEEP, dt.timedelta(days=1))))
        for key in keys:
            s.add(AuthFailureRow(key=key, at=now))

    _write(store, tx)


_LIMITER_LOCK = 7031507


def _reserve_in(s, store: Store, keys: list[str], now: dt.datetime) -> list[int]:
    """Check and count one attempt in the same transaction: raise :class:`RateLimited` if any
    key is locked, else record a failure for every key *before* the secret is checked (removed
    again by :func:`_release_in` when it was right). Concurrent attempts queue on the write lock
    (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock), so 40 simultaneous guesses are
    counted one after the other: the free ones are checked, the rest wait."""
    if store.backend == "postgresql":
        s.execute(sa.text(f"SELECT pg_advisory_xact_lock({_LIMITER_LOCK})"))
    wait = max((retry_after_in(s, k, now) for k in keys), default=0.0)
    if wait > 0:
        raise RateLimited(wait)
    s.execute(sa.delete(AuthFailureRow).where(AuthFailureRow.at < now - max(_KEEP, dt.timedelta(days=1))))
    rows = [AuthFailureRow(key=k, at=now) for k in keys]
    s.add_all(rows)
    s.flush()
    return [r.id for r in rows]


def _reserve(store: Store, keys: Iterable[str], now: dt.datetime) -> list[int]:
    keys = list(keys)
    return _write(store, lambda s: _reserve_in(s, store, keys, now))


def _release_in(s, ids: list[int]) -> None:
    if ids:
        s.execute(sa.delete(AuthFailureRow).where(AuthFailureRow.id.in_(ids)))


def check_setup_code(store: Store, given: str, expected: str, *, session_key: str = "",
                     now: dt.datetime | None = None) -> None:
    """Check the first-account setup code through the rate limiter (5 free tries per hour for
    the installation and per browser session, then waits). Raises :class:`RateLimited` or
    :class:`InvalidCredentials`; compares in constant time."""
    now = _now(now)
    keys = ["setup:*"] + ([_key("session", session_key)] if session_key else [])
    ids = _reserve(store, keys, now)
    if not hmac.compare_digest(str(given or "").encode(), str(expected or "").encode()):
        raise InvalidCredentials("wrong setup code")
    _write(store, lambda s: _release_in(s, ids))


def clear_failures(store: Store, keys: Iterable[str]) -> None:
    keys = list(keys)
    _write(store, lambda s: s.execute(sa.delete(AuthFailureRow).where(AuthFailureRow.key.in_(keys))))


def login_keys(username: str, session_key: str = "") -> list[str]:
    keys = [_key("user", username.strip().lower()), "logins:*"]
    if session_key:
        keys.append(_key("session", session_key))
    return keys


def code_keys(session_key: str = "") -> list[str]:
    keys = ["codes:*"]
    if session_key:
        keys.append(_key("session", session_key))
    return keys


# ---- accounts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """A local account as shown to a practitioner (no password hash)."""

    id: int
    username: str
    role: str
    patient_id: int | None
    created_at: dt.datetime
    disabled: bool
    failed_attempts: int


def _account(r: UserRow) -> Account:
    return Account(id=r.id, username=r.username, role=r.role, patient_id=r.patient_id,
                   created_at=r.created_at, disabled=r.disabled_at is not None,
                   failed_attempts=r.failed_attempts or 0)


def practitioner_count(store: Store) -> int:
    """Enabled local practitioner accounts."""
    return _read(store, lambda s: s.scalar(
        sa.select(sa.func.count()).select_from(UserRow)
        .where(UserRow.role == "practitioner", UserRow.disabled_at.is_(None))) or 0)


def needs_first_account(store: Store) -> bool:
    """True until the first practitioner account exists (then never again)."""
    return _read(store, lambda s: s.scalar(
        sa.select(UserRow.id).where(UserRow.role == "practitioner").limit(1))) is None


def has_real_patients(store: Store) -> bool:
    """True as soon as one patient is not a demo patient."""
    return _read(store, lambda s: s.scalar(
        sa.select(PatientRow.id).where(PatientRow.is_demo.is_(False)).limit(1))) is not None


def demo_mode_available(store: Store, *, oidc_configured: bool = False, disabled: bool = False) -> bool:
    """May the app run without sign-in, as a marked demo?

    Only while every patient is a demo patient, no practitioner account exists, and no
    OIDC provider is configured (``disabled`` lets a clinic switch demo mode off outright).
    """
    if disabled or oidc_configured:
        return False
    return needs_first_account(store) and not has_real_patients(store)


def _lock_first(s, store: Store) -> None:
    if store.backend == "postgresql":
        s.execute(sa.text("SELECT pg_advisory_xact_lock(7031506)"))


def _pw_stamp(password_hash: str) -> str:
    return hashlib.sha256(str(password_hash).encode()).hexdigest()[:32]


def _principal_of(row: UserRow, now: dt.datetime) -> Principal:
    return Principal(role=row.role, via="local", name=row.username, signed_in_at=now,
                     user_id=row.id, patient_id=row.patient_id, pw_stamp=_pw_stamp(row.password_hash))


def create_first_practitioner(store: Store, username: str, password: str, confirm: str, *,
                              now: dt.datetime | None = None) -> Principal:
    """Create the clinic's first practitioner account and return it signed in.

    Refused (:class:`Conflict`) once any practitioner account exists, so it can be offered
    only at first start.
    """
    now = _now(now)
    name = normalize_username(username)
    check_new_password(password, confirm, username=name)
    pw_hash = hash_password(password)

    def tx(s) -> Principal:
        _lock_first(s, store)
        if s.scalar(sa.select(UserRow.id).where(UserRow.role == "practitioner").limit(1)) is not None:
            raise Conflict("a practitioner account already exists: sign in instead")
        if s.scalar(sa.select(UserRow.id).where(UserRow.username == name)) is not None:
            raise Conflict(f"the username {name!r} is taken")
        row = UserRow(username=name, role="practitioner", password_hash=pw_hash, created_at=now)
        s.add(row)
        s.flush()
        s.add(AuditRow(at=now, actor=f"local:{name}", action="account.first_practitioner", detail=""))
        return _principal_of(row, now)

    return _write(store, tx)


def _require_practitioner(by: Principal | None) -> Principal:
    if by is None or not by.is_practitioner:
        raise AccessDenied("only a signed-in practitioner can do this")
    return by


def create_account(store: Store, by: Principal, username: str, password: str, confirm: str | None = None, *,
                   role: Literal["practitioner", "patient"] = "practitioner",
                   patient_id: int | None = None, now: dt.datetime | None = None) -> Account:
    """A practitioner adds a local account (another practitioner, or a patient bound to one patient)."""
    _require_practitioner(by)
    now = _now(now)
    if role not in ("practitioner", "patient"):
        raise ValueError(f"role must be one of 'practitioner', 'patient', not {role!r}")
    if (role == "patient") != (patient_id is not None):
        raise AccountError("a patient account needs its patient; a practitioner account has none")
    name = normalize_username(username)
    check_new_password(password, confirm, username=name)
    pw_hash = hash_password(password)

    def tx(s) -> Account:
        if patient_id is not None and s.get(PatientRow, patient_id) is None:
            raise NotFound(f"patient {patient_id} not found")
        if s.scalar(sa.select(UserRow.id).where(UserRow.username == name)) is not None:
            raise Conflict(f"the username {name!r} is taken")
        row = UserRow(username=name, role=role, password_hash=pw_hash, patient_id=patient_id,
                      created_at=now)
        s.add(row)
        s.flush()
        s.add(AuditRow(at=now, actor=by.actor, action=f"account.create.{role}", patient_id=patient_id,
                       detail=f"user {row.id}"))
        return _account(row)

    return _write(store, tx)


def list_accounts(store: Store, by: Principal) -> list[Account]:
    _require_practitioner(by)
    return _read(store, lambda s: [_account(r) for r in s.scalars(sa.select(UserRow).order_by(UserRow.id))])


def set_account_disabled(store: Store, by: Principal, user_id: int, disabled: bool, *,
                         now: dt.datetime | None = None) -> Account:
    """Disable (or re-enable) an account; a disabled account's sessions end at their next request.
    The last enabled practitioner can't be disabled."""
    _require_practitioner(by)
    now = _now(now)

    def tx(s) -> Account:
        row = s.get(UserRow, user_id) if isinstance(user_id, int) else None
        if row is None:
            raise NotFound(f"account {user_id!r} not found")
        if disabled and row.role == "practitioner" and row.disabled_at is None:
            others = s.scalar(sa.select(sa.func.count()).select_from(UserRow).where(
                UserRow.role == "practitioner", UserRow.disabled_at.is_(None), UserRow.id != row.id))
            if not others:
                raise AccountError("the last practitioner account can't be disabled")
        row.disabled_at = now if disabled else None
        s.add(AuditRow(at=now, actor=by.actor, action="account.disable" if disabled else "account.enable",
                       patient_id=row.patient_id, detail=f"user {row.id}"))
        s.flush()
        return _account(row)

    return _write(store, tx)


def change_password(store: Store, by: Principal, old: str, new: str, confirm: str, *,
                    session_key: str = "", now: dt.datetime | None = None) -> Principal:
    """A signed-in local user changes their own password (the old one is checked through the
    same rate limiter as a sign-in). Every other session of the account ends; the returned
    principal replaces ``by`` in the session that made the change."""
    if by is None or by.via != "local" or by.user_id is None:
        raise AccessDenied("only a local account has a password here")
    now = _now(now)
    row = _read(store, lambda s: s.get(UserRow, by.user_id))
    if row is None:
        raise AccessDenied("this account is no longer active")
    check_new_password(new, confirm, username=row.username)
    ids = _reserve(store, login_keys(row.username, session_key), now)
    if not verify_password(row.password_hash, str(old)):
        raise InvalidCredentials("the current password is wrong")
    pw_hash = hash_password(new)

    def tx(s) -> Principal:
        _release_in(s, ids)
        s.execute(sa.delete(AuthFailureRow).where(AuthFailureRow.key == login_keys(row.username)[0]))
        r = s.get(UserRow, by.user_id)
        r.password_hash = pw_hash
        s.add(AuditRow(at=now, actor=by.actor, action="account.password", detail=f"user {r.id}"))
        s.flush()
        return Principal(**{**by.__dict__, "pw_stamp": _pw_stamp(pw_hash)})

    return _write(store, tx)


def authenticate(store: Store, username: str, password: str, *, session_key: str = "",
                 now: dt.datetime | None = None) -> Principal:
    """Check a local username and password; return the signed-in principal.

    Raises :class:`RateLimited` (nothing is checked while locked out) or
    :class:`InvalidCredentials` (the same message whether the username exists or not).
    """
    now = _now(now)
    raw = str(username or "").strip().lower()
    keys = login_keys(raw, session_key)
    ids = _reserve(store, keys, now)  # checked and counted at once (raises RateLimited)
    row = None
    if _USERNAME.match(raw):
        row = _read(store, lambda s: s.scalar(sa.select(UserRow).where(UserRow.username == raw)))
    ok = False
    if row is None:
        _burn_time(str(password))
    else:
        ok = verify_password(row.password_hash, str(password))
    if not ok or row is None or row.disabled_at is not None:
        # the failure was counted by _reserve
        def bump(s):
            if row is not None:
                r = s.get(UserRow, row.id)
                r.failed_attempts = (r.failed_attempts or 0) + 1
                wait = retry_after_in(s, keys[0], now)
                r.locked_until = now + dt.timedelta(seconds=wait) if wait > 0 else None
            s.add(AuditRow(at=now, actor=f"local:{raw[:60]}" if row is not None else "unknown",
                           action="sign_in.failed", detail=""))

        _write(store, bump)
        raise InvalidCredentials("wrong username or password")
    rehash = _hasher.check_needs_rehash(row.password_hash)
    new_hash = hash_password(str(password)) if rehash else None

    def done(s) -> Principal:
        r = s.get(UserRow, row.id)
        r.failed_attempts = 0
        r.locked_until = None
        if new_hash:
            r.password_hash = new_hash
        _release_in(s, ids)
        s.execute(sa.delete(AuthFailureRow).where(AuthFailureRow.key.in_(keys[:1])))
        s.add(AuditRow(at=now, actor=f"local:{r.username}", action="sign_in", patient_id=r.patient_id,
                       detail=""))
        return _principal_of(r, now)

    return _write(store, done)


def retry_after_in(s, key: str, now: dt.datetime) -> float:
    pol = _policy(key)
    count, last = s.execute(
        sa.select(sa.func.count(), sa.func.max(AuthFailureRow.at))
        .where(AuthFailureRow.key == key, AuthFailureRow.at > now - pol.window)).one()
    if not count or last is None:
        return 0.0
    last = last if last.tzinfo else last.replace(tzinfo=dt.UTC)
    return max(0.0, (last + pol.lockout(count) - now).total_seconds())


# ---- OIDC ------------------------------------------------------------------------------


def oidc_principal(claims: Mapping[str, Any], *, allowed_emails: Iterable[str] = (),
                   allowed_domains: Iterable[str] = (), now: dt.datetime | None = None) -> Principal:
    """The practitioner principal for a user the OIDC provider signed in.

    The provider proves who someone is, not that they work at the clinic: the e-mail must be
    in ``allowed_emails`` or its domain in ``allowed_domains``; with neither configured nobody
    is let in (fail closed). Only ``email_verified: true`` (a JSON boolean) is taken.
    """
    emails = {e.strip().lower() for e in allowed_emails if e and e.strip()}
    domains = {d.strip().lower().lstrip("@") for d in allowed_domains if d and d.strip()}
    email = str(claims.get("email") or "").strip().lower()
    if not emails and not domains:
        raise AccessDenied("sign-in provider configured, but no practitioner e-mails or domains are "
                           "allowed yet (see docs/access.md)")
    if not email or "@" not in email:
        raise AccessDenied("the sign-in provider did not give an e-mail address")
    if claims.get("email_verified") is not True:  # only a real boolean true (not "false", 0, absent)
        raise AccessDenied("the sign-in provider says this e-mail address is not verified")
    if email not in emails and email.rsplit("@", 1)[1] not in domains:
        raise AccessDenied(f"{email} is not a practitioner account of this clinic")
    return Principal(role="practitioner", via="oidc", name=email, signed_in_at=_now(now))


# ---- patient links -----------------------------------------------------------------------


def hash_token(token: str) -> str:
    """SHA-256 (hex) of a patient token: what the database keeps."""
    return hashlib.sha256(str(token).encode("utf-8")).hexdigest()


def extract_token(text: str) -> str:
    """The token from what a patient pasted: the code itself or the whole link (``?access=``)."""
    t = str(text or "").strip()
    m = re.search(r"[?&]access=([A-Za-z0-9_-]+)", t)
    return m.group(1) if m else "".join(t.split())


def normalize_short_code(text: str) -> str | None:
    """``k7qmx r2pta`` / ``K7QMX-R2PTA`` → ``K7QMXR2PTA``; None if it is not a short code."""
    t = re.sub(r"[\s-]", "", str(text or "")).upper()
    return t if _SHORT.match(t) else None


def _short_code_hash(code: str) -> str:
    return hash_token("code:" + code)  # its own namespace: never equal to a link token's hash


@dataclass(frozen=True)
class IssuedLink:
    """A new patient link. ``token`` exists only here: show it once, it is not stored."""

    id: int
    patient_id: int
    token: str
    expires_at: dt.datetime
    label: str

    @property
    def query(self) -> str:
        """``?access=<token>``: append to the app's address."""
        return f"?access={self.token}"

    def url(self, base_url: str) -> str:
        return base_url.rstrip("/") + "/" + self.query


@dataclass(frozen=True)
class LinkInfo:
    id: int
    patient_id: int
    label: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    def state(self, now: dt.datetime | None = None) -> Literal["active", "expired", "revoked"]:
        if self.revoked_at is not None:
            return "revoked"
        return "active" if _now(now) < self.expires_at else "expired"


def _link(r: PatientTokenRow) -> LinkInfo:
    return LinkInfo(id=r.id, patient_id=r.patient_id, label=r.label or "", created_at=r.created_at,
                    expires_at=r.expires_at, revoked_at=r.revoked_at, last_used_at=r.last_used_at)


def issue_patient_link(store: Store, by: Principal, patient_id: int, *, days: int = DEFAULT_LINK_DAYS,
                       label: str = "", now: dt.datetime | None = None) -> IssuedLink:
    """A practitioner creates a read-only link/code for one patient, valid ``days`` days."""
    _require_practitioner(by)
    now = _now(now)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_LINK_DAYS:
        raise AccountError(f"a link lasts 1 to {MAX_LINK_DAYS} days")
    label = str(label or "").strip()[:200]
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires = now + dt.timedelta(days=days)

    return _record_token(store, by, patient_id, token_hash=hash_token(token), shown=token, label=label,
                         now=now, expires=expires, detail=f"link {{id}}, {days} days")


def _record_token(store, by: Principal, patient_id: int, *, token_hash: str, shown: str, label: str,
                  now: dt.datetime, expires: dt.datetime, detail: str) -> IssuedLink:
    """Store a link's or a typed code's hash for ``patient_id`` and audit it as ``link.issue``
    (``detail`` names the new row as ``{id}``), in one transaction."""

    def tx(s) -> IssuedLink:
        if not isinstance(patient_id, int) or isinstance(patient_id, bool) or s.get(PatientRow, patient_id) is None:
            raise NotFound(f"patient {patient_id!r} not found")
        row = PatientTokenRow(token_hash=token_hash, patient_id=patient_id, label=label,
                              created_at=now, expires_at=expires)
        s.add(row)
        s.flush()
        s.add(AuditRow(at=now, actor=by.actor, action="link.issue", patient_id=patient_id,
                       detail=detail.format(id=row.id)))
        return IssuedLink(id=row.id, patient_id=patient_id, token=shown, expires_at=expires, label=label)

    return _write(store, tx)


def issue_patient_code(store: Store, by: Principal, patient_id: int, *, days: int = DEFAULT_LINK_DAYS,
                       label: str = "", now: dt.datetime | None = None) -> IssuedLink:
    """A short code the patient can type (``K7QMX-R2PTA``), valid ``days`` days; listed, revoked,
    rate-limited and audited like a link (its label starts with ``typed code``). ``token`` holds
    the code as shown; only its hash is kept."""
    _require_practitioner(by)
    now = _now(now)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_LINK_DAYS:
        raise AccountError(f"a link lasts 1 to {MAX_LINK_DAYS} days")
    label = (SHORT_CODE_LABEL + (f" · {str(label).strip()}" if str(label or "").strip() else ""))[:200]
    code = "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))
    shown = f"{code[:5]}-{code[5:]}"
    expires = now + dt.timedelta(days=days)

    return _record_token(store, by, patient_id, token_hash=_short_code_hash(code), shown=shown, label=label,
                         now=now, expires=expires, detail=f"code {{id}}, {days} days")


def list_patient_links(store: Store, by: Principal, patient_id: int) -> list[LinkInfo]:
    _require_practitioner(by)
    return _read(store, lambda s: [_link(r) for r in s.scalars(
        sa.select(PatientTokenRow).where(PatientTokenRow.patient_id == patient_id)
        .order_by(PatientTokenRow.id.desc()))])


def revoke_patient_link(store: Store, by: Principal, link_id: int, *, now: dt.datetime | None = None) -> LinkInfo:
    """Revoke one link now; a patient using it loses access at their next request."""
    _require_practitioner(by)
    now = _now(now)

    def tx(s) -> LinkInfo:
        row = s.get(PatientTokenRow, link_id) if isinstance(link_id, int) else None
        if row is None:
            raise NotFound(f"link {link_id!r} not found")
        if row.revoked_at is None:
            row.revoked_at = now
            s.add(AuditRow(at=now, actor=by.actor, action="link.revoke", patient_id=row.patient_id,
                           detail=f"link {row.id}"))
        s.flush()
        return _link(row)

    return _write(store, tx)


def revoke_all_links(store: Store, by: Principal, patient_id: int, *, now: dt.datetime | None = None) -> int:
    """Revoke every active link of a patient; returns how many."""
    _require_practitioner(by)
    now = _now(now)

    def tx(s) -> int:
        n = s.execute(sa.update(PatientTokenRow).where(
            PatientTokenRow.patient_id == patient_id, PatientTokenRow.revoked_at.is_(None))
            .values(revoked_at=now)).rowcount
        s.add(AuditRow(at=now, actor=by.actor, action="link.revoke_all", patient_id=patient_id,
                       detail=f"{n} links"))
        return n

    return _write(store, tx)


def _valid_token_row(s, token_hash: str, now: dt.datetime) -> PatientTokenRow | None:
    row = s.scalar(sa.select(PatientTokenRow).where(PatientTokenRow.token_hash == token_hash))
    if row is None or row.revoked_at is not None or not now < row.expires_at:
        return None
    return row


_BAD_CODE = "this link or code is not valid: it may have expired or been withdrawn; ask your practitioner"


def redeem_patient_link(store: Store, token: str, *, session_key: str = "",
                        now: dt.datetime | None = None) -> Principal:
    """Sign a patient in with the token from their link or code.

    Raises :class:`RateLimited` while locked out (the token is not even looked up) and
    :class:`InvalidCredentials` for an unknown, malformed, expired or revoked token (one
    message for all, so a guesser learns nothing).
    """
    now = _now(now)
    keys = code_keys(session_key)
    ids = _reserve(store, keys, now)  # checked and counted at once (raises RateLimited)
    short = normalize_short_code(token)
    token = extract_token(token)
    row = None
    if short is not None:
        sh = _short_code_hash(short)
        row = _read(store, lambda s: _valid_token_row(s, sh, now))
    elif _TOKEN.match(token):
        th = hash_token(token)
        row = _read(store, lambda s: _valid_token_row(s, th, now))
    if row is None:
        _write(store, lambda s: s.add(AuditRow(at=now, actor="unknown", action="link.failed", detail="")))
        raise InvalidCredentials(_BAD_CODE)

    def tx(s) -> Principal:
        _release_in(s, ids)
        r = s.get(PatientTokenRow, row.id)
        r.last_used_at = now
        s.add(AuditRow(at=now, actor=f"link:{r.id}", action="sign_in.link", patient_id=r.patient_id,
                       detail=""))
        return Principal(role="patient", via="link", name=f"link-{r.id}", signed_in_at=now,
                         patient_id=r.patient_id, token_id=r.id, token_hash=r.token_hash)

    return _write(store, tx)


# ---- session validity ----------------------------------------------------------------------


def validate_principal(store: Store, principal: Principal, *, now: dt.datetime | None = None,
                       last_seen: dt.datetime | None = None, idle: dt.timedelta = DEFAULT_IDLE,
                       max_age: dt.timedelta = DEFAULT_MAX_AGE,
                       demo_allowed: bool | None = None) -> Principal:
    """Re-check a signed-in principal against the database at ``now`` (call on every request).

    Raises :class:`AccessDenied` with the reason when the sign-in has ended: the link was
    revoked or expired, the account was disabled or deleted, the session was idle longer
    than ``idle`` or is older than ``max_age``, or demo mode is over (``demo_allowed``).
    """
    now = _now(now)
    if principal is None:
        raise AccessDenied("not signed in")
    if principal.via != "demo":
        if now - principal.signed_in_at > max_age:
            raise AccessDenied("your sign-in has expired: sign in again")
        if last_seen is not None and now - last_seen > idle:
            raise AccessDenied(f"signed out after {int(idle.total_seconds() // 60)} minutes without activity")
    if principal.via == "demo":
        ok = demo_allowed if demo_allowed is not None else demo_mode_available(store)
        if not ok:
            raise AccessDenied("demo mode has ended: this clinic now has real patients or accounts; sign in")
        return principal
    if principal.via == "link":
        th = principal.token_hash or ""
        row = _read(store, lambda s: _valid_token_row(s, th, now))
        if row is None or row.patient_id != principal.patient_id or row.id != principal.token_id:
            raise AccessDenied("this patient link has expired or was withdrawn")
        return principal
    if principal.via == "local":
        row = _read(store, lambda s: s.get(UserRow, principal.user_id) if isinstance(principal.user_id, int) else None)
        if (row is None or row.disabled_at is not None or row.role != principal.role
                or row.username != principal.name or row.patient_id != principal.patient_id):
            raise AccessDenied("this account is no longer active")
        if principal.pw_stamp is None or not hmac.compare_digest(principal.pw_stamp, _pw_stamp(row.password_hash)):
            raise AccessDenied("the password of this account was changed: sign in again")
        return principal
    if principal.via == "oidc":
        if principal.role != "practitioner":
            raise AccessDenied("not signed in")
        return principal  # the UI re-checks the provider's session and the allow-list
    raise AccessDenied("not signed in")


# ---- authorization -------------------------------------------------------------------------


DENIED = "you don't have access to this patient"


def authorize(principal: Principal | None, patient_id: Any, store: Store=None) -> int:
    """Return ``patient_id`` if ``principal`` may read that patient, else raise :class:`AccessDenied`.

    A practitioner may read every patient; a patient only their own; demo only demo patients
    (needs ``store``). ``patient_id`` must be an ``int`` (a string from a URL is refused, not
    converted). The message is the same whether the patient exists or not.
    """
    if principal is None:
        raise AccessDenied("not signed in")
    if isinstance(patient_id, bool) or not isinstance(patient_id, int):
        raise AccessDenied(DENIED)
    if principal.is_practitioner:
        return patient_id
    if principal.is_patient:
        if principal.patient_id is not None and patient_id == principal.patient_id:
            return patient_id
        raise AccessDenied(DENIED)
    if principal.is_demo and store is not None:
        is_demo = _read(store, lambda s: s.scalar(sa.select(PatientRow.is_demo).where(PatientRow.id == patient_id)))
        if is_demo:
            return patient_id
    raise AccessDenied(DENIED)


def may_see_originals(principal: Principal | None) -> bool:
    """Original uploads (with their camera metadata) go only to practitioners."""
    return principal is not None and principal.is_practitioner


# ---- audit log -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    action: str
    patient_id: int | None
    detail: str


def record_audit(store: Store, who: Principal | str | None, action: str, patient_id: int | None = None, *,
                 detail: str = "", now: dt.datetime | None = None) -> None:
    """Append one entry: who (principal or actor text), what (``view.progress``, ``export.report``...),
    which patient (id only) and when. ``detail`` must never hold a name or photo content."""
    now = _now(now)
    if not isinstance(action, str) or not _ACTION.match(action):
        raise ValueError("audit action: lower-case words joined by . _ - (e.g. 'view.progress')")
    if patient_id is not None and (isinstance(patient_id, bool) or not isinstance(patient_id, int)):
        raise ValueError("audit patient_id must be an int or None")
    actor = who.actor if isinstance(who, Principal) else str(who or "unknown")[:100]
    _write(store, lambda s: s.add(AuditRow(at=now, actor=actor, action=action, patient_id=patient_id,
                                           detail=str(detail)[:2000])))


def list_audit(store: Store, by: Principal, *, patient_id: int | None = None, limit: int = 200) -> list[AuditEntry]:
    """Newest first; practitioners only."""
    _require_practitioner(by)

    def q(s):
        stmt = sa.select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(max(1, int(limit)))
        if patient_id is not None:
            stmt = stmt.where(AuditRow.patient_id == patient_id)
        return [AuditEntry(id=r.id, at=r.at, actor=r.actor, action=r.action, patient_id=r.patient_id,
                           detail=r.detail or "") for r in s.scalars(stmt)]

    return _read(store, q)
