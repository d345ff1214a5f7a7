"""Access control: accounts, patient links, rate limiting, sessions and the audit log.

Pure library (no Streamlit); the Streamlit gate is ``ui/auth.py``. Every function that
reads the clock takes ``now`` (aware UTC) so tests can drive a fake clock.

Who may see what
----------------
A :class:`Principal` is whoever is signed in:

* ``practitioner`` (local account or OIDC): every patient of their clinic, originals included
  (an installation can hold several clinics; a practitioner sees only their own clinic's
  patients, links, exports and audit log). ``is_admin`` marks the installation admin, who
  also manages the clinics (:func:`create_clinic`, :func:`rename_clinic`, :func:`assign_account`).
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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

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
from analyzer.store.errors import LastPractitioner

if TYPE_CHECKING:
    from analyzer.store import Store
    from analyzer.store.records import TokenRec, UserRec

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


def _since(keys: Iterable[str], now: dt.datetime) -> dict[str, dt.datetime]:
    """Each key with the start of its policy's window at ``now``."""
    return {k: now - _policy(k).window for k in keys}


def _wait_rule(now: dt.datetime):
    """Seconds a key stays locked at ``now`` after ``count`` failures, the latest at ``last``."""

    def wait(key: str, count: int, last: dt.datetime | None) -> float:
        if not count or last is None:
            return 0.0
        return max(0.0, (last + _policy(key).lockout(count) - now).total_seconds())

    return wait


def _forget_before(now: dt.datetime) -> dt.datetime:
    return now - max(_KEEP, dt.timedelta(days=1))


def retry_after(store: Store, keys: Iterable[str], *, now: dt.datetime | None = None) -> float:
    """Seconds until every key accepts another attempt (0 if none is locked)."""
    now = _now(now)
    wait = _wait_rule(now)
    stats = store.auth_failure_stats(_since(keys, now))
    return max((wait(k, c, last) for k, (c, last) in stats.items()), default=0.0)


def check_rate(store: Store, keys: Iterable[str], *, now: dt.datetime | None = None) -> None:
    """Raise :class:`RateLimited` if any key is locked out at ``now``."""
    wait = retry_after(store, keys, now=now)
    if wait > 0:
        raise RateLimited(wait)


def record_failure(store: Store, keys: Iterable[str], *, now: dt.datetime | None = None) -> None:
    """Count one failed attempt against every key (and forget failures older than a day)."""
    now = _now(now)
    store.record_auth_failures(keys, now=now, forget_before=_forget_before(now))


def _reserve(store: Store, keys: Iterable[str], now: dt.datetime) -> list[int]:
    """Check and count one attempt at once: raise :class:`RateLimited` if any key is locked,
    else record a failure for every key *before* the secret is checked (released again when it
    was right). Simultaneous guesses are counted one after the other
    (:meth:`analyzer.store.Store.reserve_auth_attempt`): the free ones are checked, the rest wait."""
    wait, ids = store.reserve_auth_attempt(_since(keys, now), now=now, wait=_wait_rule(now),
                                           forget_before=_forget_before(now))
    if wait > 0:
        raise RateLimited(wait)
    return ids


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
    store.release_auth_attempt(ids)


def clear_failures(store: Store, keys: Iterable[str]) -> None:
    store.forget_auth_failures(keys)


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


def _account(r: UserRec) -> Account:
    return Account(id=r.id, username=r.username, role=r.role, patient_id=r.patient_id,
                   created_at=r.created_at, disabled=r.disabled, failed_attempts=r.failed_attempts)


def practitioner_count(store: Store) -> int:
    """Enabled local practitioner accounts."""
    return store.count_enabled_practitioners()


def needs_first_account(store: Store) -> bool:
    """True until the first practitioner account exists (then never again)."""
    return not store.has_practitioner_account()


def has_real_patients(store: Store) -> bool:
    """True as soon as one patient is not a demo patient."""
    return store.has_real_patients()


def demo_mode_available(store: Store, *, oidc_configured: bool = False, disabled: bool = False) -> bool:
    """May the app run without sign-in, as a marked demo?

    Only while every patient is a demo patient, no practitioner account exists, and no
    OIDC provider is configured (``disabled`` lets a clinic switch demo mode off outright).
    """
    if disabled or oidc_configured:
        return False
    return needs_first_account(store) and not has_real_patients(store)


def _pw_stamp(password_hash: str) -> str:
    return hashlib.sha256(str(password_hash).encode()).hexdigest()[:32]


def _principal_of(row: UserRec, now: dt.datetime) -> Principal:
    return Principal(role=row.role, via="local", name=row.username, signed_in_at=now,
                     user_id=row.id, patient_id=row.patient_id, pw_stamp=_pw_stamp(row.password_hash),
                     clinic_id=row.clinic_id if row.role == "practitioner" else None,
                     is_admin=row.is_admin and row.role == "practitioner")


def clinic_of(store: Store, by: Principal) -> int:
    """The clinic a practitioner works in (None on the principal: the default clinic)."""
    return by.clinic_id if by.clinic_id is not None else store.default_clinic_id()


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
    row = store.create_first_practitioner_account(name, pw_hash, now=now)
    return _principal_of(row, now)


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
    return _account(store.add_account(name, pw_hash, role=role, patient_id=patient_id, actor=by.actor, now=now,
                                      clinic_id=clinic_of(store, by)))


def list_accounts(store: Store, by: Principal) -> list[Account]:
    """The accounts of the practitioner's clinic."""
    _require_practitioner(by)
    return [_account(r) for r in store.list_accounts(clinic_id=clinic_of(store, by))]


def set_account_disabled(store: Store, by: Principal, user_id: int, disabled: bool, *,
                         now: dt.datetime | None = None) -> Account:
    """Disable (or re-enable) an account; a disabled account's sessions end at their next request.
    The last enabled practitioner can't be disabled."""
    _require_practitioner(by)
    now = _now(now)
    try:
        return _account(store.set_account_disabled(user_id, disabled, actor=by.actor, now=now,
                                                   clinic_id=clinic_of(store, by)))
    except LastPractitioner as e:
        raise AccountError(str(e)) from None


def change_password(store: Store, by: Principal, old: str, new: str, confirm: str, *,
                    session_key: str = "", now: dt.datetime | None = None) -> Principal:
    """A signed-in local user changes their own password (the old one is checked through the
    same rate limiter as a sign-in). Every other session of the account ends; the returned
    principal replaces ``by`` in the session that made the change."""
    if by is None or by.via != "local" or by.user_id is None:
        raise AccessDenied("only a local account has a password here")
    now = _now(now)
    row = store.user_by_id(by.user_id)
    if row is None:
        raise AccessDenied("this account is no longer active")
    check_new_password(new, confirm, username=row.username)
    ids = _reserve(store, login_keys(row.username, session_key), now)
    if not verify_password(row.password_hash, str(old)):
        raise InvalidCredentials("the current password is wrong")
    pw_hash = hash_password(new)
    store.change_account_password(by.user_id, pw_hash, actor=by.actor, now=now, release=ids,
                                  forget_keys=login_keys(row.username)[:1])
    return Principal(**{**by.__dict__, "pw_stamp": _pw_stamp(pw_hash)})


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
        row = store.user_by_name(raw)
    ok = False
    if row is None:
        _burn_time(str(password))
    else:
        ok = verify_password(row.password_hash, str(password))
    if not ok or row is None or row.disabled:
        # the failure was counted by _reserve
        store.note_failed_sign_in(row.id if row is not None else None,
                                  actor=f"local:{raw[:60]}" if row is not None else "unknown", now=now,
                                  lock_key=keys[0], since=_since(keys[:1], now)[keys[0]], wait=_wait_rule(now))
        raise InvalidCredentials("wrong username or password")
    rehash = _hasher.check_needs_rehash(row.password_hash)
    new_hash = hash_password(str(password)) if rehash else None
    r = store.note_sign_in(row.id, now=now, new_password_hash=new_hash, release=ids, forget_keys=keys[:1])
    return _principal_of(r, now)


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


def _link(r: TokenRec) -> LinkInfo:
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


def _record_token(store: Store, by: Principal, patient_id: int, *, token_hash: str, shown: str, label: str,
                  now: dt.datetime, expires: dt.datetime, detail: str) -> IssuedLink:
    """Store a link's or a typed code's hash for ``patient_id`` and audit it as ``link.issue``
    (``detail`` names the new row as ``{id}``), in one transaction."""
    row = store.issue_patient_token(patient_id, token_hash=token_hash, label=label, now=now, expires_at=expires,
                                    actor=by.actor, detail=detail, clinic_id=clinic_of(store, by))
    return IssuedLink(id=row.id, patient_id=patient_id, token=shown, expires_at=expires, label=label)


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
    return [_link(r) for r in store.patient_tokens_newest_first(patient_id, clinic_id=clinic_of(store, by))]


def revoke_patient_link(store: Store, by: Principal, link_id: int, *, now: dt.datetime | None = None) -> LinkInfo:
    """Revoke one link now; a patient using it loses access at their next request."""
    _require_practitioner(by)
    now = _now(now)
    return _link(store.revoke_token(link_id, actor=by.actor, now=now, clinic_id=clinic_of(store, by)))


def revoke_all_links(store: Store, by: Principal, patient_id: int, *, now: dt.datetime | None = None) -> int:
    """Revoke every active link of a patient; returns how many."""
    _require_practitioner(by)
    now = _now(now)
    return store.revoke_patient_tokens(patient_id, actor=by.actor, now=now, clinic_id=clinic_of(store, by))


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
        row = store.valid_patient_token(_short_code_hash(short), now)
    elif _TOKEN.match(token):
        row = store.valid_patient_token(hash_token(token), now)
    if row is None:
        store.append_audit(at=now, actor="unknown", action="link.failed", detail="")
        raise InvalidCredentials(_BAD_CODE)
    r = store.use_patient_token(row.id, now=now, release=ids)
    return Principal(role="patient", via="link", name=f"link-{r.id}", signed_in_at=now,
                     patient_id=r.patient_id, token_id=r.id, token_hash=r.token_hash)


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
        row = store.valid_patient_token(principal.token_hash or "", now)
        if row is None or row.patient_id != principal.patient_id or row.id != principal.token_id:
            raise AccessDenied("this patient link has expired or was withdrawn")
        return principal
    if principal.via == "local":
        row = store.user_by_id(principal.user_id)
        if (row is None or row.disabled or row.role != principal.role
                or row.username != principal.name or row.patient_id != principal.patient_id):
            raise AccessDenied("this account is no longer active")
        if row.role == "practitioner":  # moved to another clinic, or no longer the admin: sign in again
            if (row.clinic_id or store.default_clinic_id()) != clinic_of(store, principal):
                raise AccessDenied("this account was moved to another clinic: sign in again")
            if principal.is_admin and not row.is_admin:
                raise AccessDenied("this account is no longer the installation admin: sign in again")
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

    A practitioner may read every patient of their clinic (checked with ``store``; without
    one, only a principal of no named clinic is let through, as in a single-clinic
    installation); a patient only their own; demo only demo patients (needs ``store``).
    ``patient_id`` must be an ``int`` (a string from a URL is refused, not converted). The
    message is the same whether the patient exists or not, in another clinic or nowhere.
    """
    if principal is None:
        raise AccessDenied("not signed in")
    if isinstance(patient_id, bool) or not isinstance(patient_id, int):
        raise AccessDenied(DENIED)
    if principal.is_practitioner:
        if store is None:
            if principal.clinic_id is None:
                return patient_id
            raise AccessDenied(DENIED)
        owner = store.patient_clinic(patient_id)  # None: no such patient
        if owner is not None and owner == clinic_of(store, principal):
            return patient_id
        raise AccessDenied(DENIED)
    if principal.is_patient:
        if principal.patient_id is not None and patient_id == principal.patient_id:
            return patient_id
        raise AccessDenied(DENIED)
    if principal.is_demo and store is not None:
        if store.patient_is_demo(patient_id):
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
    clinic = clinic_of(store, who) if isinstance(who, Principal) and who.is_practitioner else None
    store.append_audit(at=now, actor=actor, action=action, patient_id=patient_id, detail=str(detail)[:2000],
                       clinic_id=clinic)


def list_audit(store: Store, by: Principal, *, patient_id: int | None = None, limit: int = 200) -> list[AuditEntry]:
    """Newest first; practitioners only, their clinic's log (the installation admin also sees
    the entries of no clinic: unknown codes and usernames tried)."""
    _require_practitioner(by)
    rows = store.list_audit(patient_id=patient_id, limit=min(max(1, int(limit)), 100_000),
                            clinic_id=clinic_of(store, by), include_unassigned=by.is_admin)
    return [AuditEntry(id=r.id, at=r.at, actor=r.actor, action=r.action, patient_id=r.patient_id,
                       detail=r.detail) for r in rows]


# ---- clinics (the installation admin) ----------------------------------------------------------


def _require_admin(by: Principal | None) -> Principal:
    if by is None or not by.is_practitioner or not by.is_admin:
        raise AccessDenied("only the installation admin can manage clinics")
    return by


def list_clinics(store: Store, by: Principal) -> list:
    """Every clinic of the installation (admin only)."""
    _require_admin(by)
    return store.list_clinics()


def create_clinic(store: Store, by: Principal, name: str, *, now: dt.datetime | None = None):
    """A new clinic (admin only; audited as ``clinic.create`` in the new clinic's log)."""
    _require_admin(by)
    return store.create_clinic(name, actor=by.actor, now=_now(now))


def rename_clinic(store: Store, by: Principal, clinic_id: int, name: str, *, now: dt.datetime | None = None):
    """Rename a clinic (admin only; audited as ``clinic.rename``)."""
    _require_admin(by)
    return store.rename_clinic(clinic_id, name, actor=by.actor, now=_now(now))


def list_all_accounts(store: Store, by: Principal) -> list[tuple[Account, int | None]]:
    """Every account of the installation with its clinic id (admin only)."""
    _require_admin(by)
    return [(_account(r), r.clinic_id) for r in store.list_accounts()]


def assign_account(store: Store, by: Principal, user_id: int, clinic_id: int, *,
                   now: dt.datetime | None = None) -> Account:
    """Move a practitioner account to a clinic (admin only; audited as ``account.clinic`` in both
    clinics' logs). Its open sessions end at their next request (:func:`validate_principal`)."""
    _require_admin(by)
    return _account(store.set_account_clinic(user_id, clinic_id, actor=by.actor, now=_now(now)))
