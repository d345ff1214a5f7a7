"""The store's access records: local accounts, patient-link tokens, the audit log and the
failed-attempt counters (SQL only; the policy lives in :mod:`analyzer.auth`).

:class:`AccessRecords` is a part of :class:`analyzer.store.Store` (a mixin: it uses the
store's transactions ``_read`` / ``_write`` / ``_write_unique`` and ``_get``).
"""

from __future__ import annotations

import datetime as dt
import numbers
from collections.abc import Callable, Iterable, Mapping

import sqlalchemy as sa

from analyzer.store import validate as v
from analyzer.store.clinics import add_audit_in, default_clinic_id_in, patient_clinic_in
from analyzer.store.convert import audit_record as _audit
from analyzer.store.convert import token_record as _token
from analyzer.store.convert import user_record as _user
from analyzer.store.errors import Conflict, InvalidInput, LastPractitioner, NotFound
from analyzer.store.models import (
    AuditRow,
    AuthFailureRow,
    PatientRow,
    PatientTokenRow,
    UserRow,
    utcnow,
)
from analyzer.store.records import AuditRec, TokenRec, UserRec

#: PostgreSQL advisory locks that serialise the rate limiter and the first account.
_LIMITER_LOCK = 7031507
_FIRST_ACCOUNT_LOCK = 7031506

#: ``wait(key, count, last)``: seconds a key stays locked after ``count`` failures in its window,
#: the latest at ``last`` (the policy is :mod:`analyzer.auth`'s; the store only counts).
WaitRule = Callable[[str, int, "dt.datetime | None"], float]


def _as_aware(t: dt.datetime | None) -> dt.datetime | None:
    return t.replace(tzinfo=dt.UTC) if t is not None and t.tzinfo is None else t


def _is_id(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


class AccessRecords:
    """Accounts, link tokens, audit entries and failure counts, stored (methods of the Store)."""

    # ---- access: users, patient links, audit, rate limiting ------------------------------
    # Minimal storage primitives; the policy (hashing, expiry choice, limits) lives in
    # analyzer.auth. Secrets are never stored: only hashes made by the caller.

    def create_user(self, username: str, *, role: str, password_hash: str,
                    patient_id: int | None = None) -> UserRec:
        """Add a login. Usernames are unique, case-insensitive (stored lower-case). A
        ``patient`` account must name its patient; a practitioner must not."""
        name = v.text(username, "username", max_len=100, required=True).lower()
        role = v.role(role)
        pw = v.text(password_hash, "password hash", max_len=255, required=True)
        if (role == "patient") != (patient_id is not None):
            raise InvalidInput("a patient account needs patient_id; a practitioner account has none")
        patient_id = v.opt_row_id(patient_id, "patient")

        def tx(s):
            if patient_id is not None:
                self._get(s, PatientRow, patient_id, "patient")
            if s.scalar(sa.select(UserRow.id).where(UserRow.username == name)) is not None:
                raise Conflict(f"username {v.show(name)} is taken")
            row = UserRow(username=name, role=role, password_hash=pw, patient_id=patient_id)
            s.add(row)
            s.flush()
            return _user(row)

        return self._write_unique(tx, f"username {v.show(name)} is taken")

    def get_user(self, username: str) -> UserRec | None:
        name = v.text(username, "username", max_len=100).lower()
        return self._read(lambda s: (lambda r: _user(r) if r else None)(
            s.scalar(sa.select(UserRow).where(UserRow.username == name))))

    def list_users(self) -> list[UserRec]:
        return self._read(lambda s: [_user(r) for r in s.scalars(sa.select(UserRow).order_by(UserRow.username))])

    def update_user(self, user_id: int, *, password_hash: str | None = None,
                    disabled: bool | None = None) -> UserRec:
        pw = None if password_hash is None else v.text(password_hash, "password hash", max_len=255, required=True)

        def tx(s):
            row = self._get(s, UserRow, user_id, "user")
            if pw is not None:
                row.password_hash = pw
            if disabled is not None:
                row.disabled_at = utcnow() if disabled else None
            s.flush()
            return _user(row)

        return self._write(tx)

    def delete_user(self, user_id: int) -> None:
        def tx(s):
            s.delete(self._get(s, UserRow, user_id, "user"))

        self._write(tx)

    def add_patient_token(self, patient_id: int, *, token_hash: str, expires_at: dt.datetime,
                          label: str = "") -> TokenRec:
        """Store the hash of a patient link token valid until ``expires_at`` (aware)."""
        th = v.text(token_hash, "token hash", max_len=128, required=True)
        exp = v.aware_utc(expires_at, "expiry")
        label = v.text(label, "label")

        def tx(s):
            self._get(s, PatientRow, patient_id, "patient")
            row = PatientTokenRow(token_hash=th, patient_id=patient_id, expires_at=exp, label=label)
            s.add(row)
            s.flush()
            return _token(row)

        return self._write_unique(tx, "that token already exists")

    def find_patient_token(self, token_hash: str) -> TokenRec | None:
        """The token with this hash (valid or not: check ``rec.is_valid()``), else None."""
        th = v.text(token_hash, "token hash", max_len=128)
        return self._read(lambda s: (lambda r: _token(r) if r else None)(
            s.scalar(sa.select(PatientTokenRow).where(PatientTokenRow.token_hash == th))))

    def list_patient_tokens(self, patient_id: int) -> list[TokenRec]:
        return self._read(lambda s: [_token(r) for r in s.scalars(
            sa.select(PatientTokenRow).where(PatientTokenRow.patient_id == patient_id)
            .order_by(PatientTokenRow.created_at, PatientTokenRow.id))])

    def revoke_patient_token(self, token_id: int) -> TokenRec:
        def tx(s):
            row = self._get(s, PatientTokenRow, token_id, "token")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            s.flush()
            return _token(row)

        return self._write(tx)

    def audit(self, actor: str, action: str, *, patient_id: int | None = None, detail: str = "",
              clinic_id: int | None = None) -> AuditRec:
        """Append an audit entry (who, what, which patient) to the log of the patient's clinic,
        else of ``clinic_id``. Never fails on a deleted patient."""
        actor = v.text(actor, "actor", max_len=100, required=True)
        action = v.text(action, "action", max_len=100, required=True)
        detail = v.long_text(detail, "detail")
        if patient_id is not None:  # a plain number (the patient may be gone), in range
            if isinstance(patient_id, bool) or not isinstance(patient_id, numbers.Integral) \
                    or not 1 <= int(patient_id) <= v.MAX_ID:
                raise InvalidInput(f"audit patient id {v.show(patient_id)} is not an id")
            patient_id = int(patient_id)

        def tx(s):
            row = add_audit_in(s, actor=actor, action=action, patient_id=patient_id, detail=detail,
                               clinic_id=clinic_id)
            s.flush()
            return _audit(row)

        return self._write(tx)

    def list_audit(self, *, patient_id: int | None = None, limit: int = 200, clinic_id: int | None = None,
                   include_unassigned: bool = False) -> list[AuditRec]:
        """Newest first; with ``clinic_id``, only that clinic's log (and, with
        ``include_unassigned``, the installation's entries that belong to no clinic)."""
        if patient_id is not None and (isinstance(patient_id, bool) or not isinstance(patient_id, numbers.Integral)
                                       or not 1 <= int(patient_id) <= v.MAX_ID):
            return []  # no entry can name it
        if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or not 1 <= limit <= 100_000:
            raise InvalidInput(f"limit must be a whole number from 1 to 100000, not {v.show(limit)}")

        def q(s):
            stmt = sa.select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
            if patient_id is not None:
                stmt = stmt.where(AuditRow.patient_id == patient_id)
            if clinic_id is not None:
                mine = AuditRow.clinic_id == clinic_id
                stmt = stmt.where(sa.or_(mine, AuditRow.clinic_id.is_(None)) if include_unassigned else mine)
            return [_audit(r) for r in s.scalars(stmt)]

        return self._read(q)

    def record_auth_failure(self, key: str) -> None:
        """Note one failed login / token attempt for ``key`` (username, client address...)."""
        key = v.text(key, "rate-limit key", max_len=200, required=True)
        self._write(lambda s: s.add(AuthFailureRow(key=key)))

    def count_auth_failures(self, key: str, *, since: dt.datetime) -> int:
        since = v.aware_utc(since, "since")
        key = v.text(key, "rate-limit key", max_len=200)
        return self._read(lambda s: int(s.scalar(
            sa.select(sa.func.count()).select_from(AuthFailureRow)
            .where(AuthFailureRow.key == key, AuthFailureRow.at >= since)) or 0))

    def clear_auth_failures(self, key: str | None = None, *, before: dt.datetime | None = None) -> int:
        """Forget failures for ``key`` (after a success) and/or older than ``before``."""
        if key is not None:
            key = v.text(key, "rate-limit key", max_len=200)
        if before is not None:
            before = v.aware_utc(before, "before")

        def tx(s):
            stmt = sa.delete(AuthFailureRow)
            if key is not None:
                stmt = stmt.where(AuthFailureRow.key == key)
            if before is not None:
                stmt = stmt.where(AuthFailureRow.at < v.aware_utc(before, "before"))
            return s.execute(stmt).rowcount or 0

        return self._write(tx)

    # ---- the transactions of analyzer.auth ----------------------------------------------
    # Each method is one transaction; the policy (who may, how long a lock lasts, the words
    # of an error) stays in analyzer.auth, which hands in the times and the rules.

    # -- rate limiting
    @staticmethod
    def _failure_stats(s, key: str, since: dt.datetime) -> tuple[int, dt.datetime | None]:
        count, last = s.execute(
            sa.select(sa.func.count(), sa.func.max(AuthFailureRow.at))
            .where(AuthFailureRow.key == key, AuthFailureRow.at > since)).one()
        return int(count or 0), _as_aware(last)

    def auth_failure_stats(self, since: Mapping[str, dt.datetime]) -> dict[str, tuple[int, dt.datetime | None]]:
        """For every key, the failures after ``since[key]``: (how many, the latest time)."""
        return self._read(lambda s: {k: self._failure_stats(s, k, t) for k, t in since.items()})

    def reserve_auth_attempt(self, since: Mapping[str, dt.datetime], *, now: dt.datetime, wait: WaitRule,
                             forget_before: dt.datetime) -> tuple[float, list[int]]:
        """Check and count one attempt in one transaction: ``(seconds to wait, [])`` if a key is
        locked (nothing written), else ``(0, ids)`` with one failure recorded per key *before*
        the secret is checked (:meth:`release_auth_attempt` removes them when it was right).
        Concurrent attempts queue on the write lock (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL
        advisory lock), so simultaneous guesses are counted one after the other."""
        keys = list(since)

        def tx(s):
            if self.backend == "postgresql":
                s.execute(sa.text(f"SELECT pg_advisory_xact_lock({_LIMITER_LOCK})"))
            w = max((wait(k, *self._failure_stats(s, k, since[k])) for k in keys), default=0.0)
            if w > 0:
                return w, []
            s.execute(sa.delete(AuthFailureRow).where(AuthFailureRow.at < forget_before))
            rows = [AuthFailureRow(key=k, at=now) for k in keys]
            s.add_all(rows)
            s.flush()
            return 0.0, [r.id for r in rows]

        return self._write(tx)

    @staticmethod
    def _release(s, ids: Iterable[int]) -> None:
        ids = list(ids)
        if ids:
            s.execute(sa.delete(AuthFailureRow).where(AuthFailureRow.id.in_(ids)))

    def release_auth_attempt(self, ids: Iterable[int]) -> None:
        """Forget the failures :meth:`reserve_auth_attempt` counted (the secret was right)."""
        ids = list(ids)
        self._write(lambda s: self._release(s, ids))

    def record_auth_failures(self, keys: Iterable[str], *, now: dt.datetime, forget_before: dt.datetime) -> None:
        """Count one failure against every key, and forget failures older than ``forget_before``."""
        keys = list(keys)

        def tx(s):
            s.execute(sa.delete(AuthFailureRow).where(AuthFailureRow.at < forget_before))
            for key in keys:
                s.add(AuthFailureRow(key=key, at=now))

        self._write(tx)

    def forget_auth_failures(self, keys: Iterable[str]) -> None:
        """Forget every failure counted against these keys."""
        keys = list(keys)
        self._write(lambda s: s.execute(sa.delete(AuthFailureRow).where(AuthFailureRow.key.in_(keys))))

    # -- accounts
    def user_by_id(self, user_id) -> UserRec | None:
        """The account with this id, else None (also for anything that is not an id)."""
        if not _is_id(user_id):
            return None
        return self._read(lambda s: (lambda r: _user(r) if r else None)(s.get(UserRow, user_id)))

    def user_by_name(self, username: str) -> UserRec | None:
        """The account with this (already normalised) username, else None."""
        return self._read(lambda s: (lambda r: _user(r) if r else None)(
            s.scalar(sa.select(UserRow).where(UserRow.username == username))))

    def list_accounts(self, *, clinic_id: int | None = None) -> list[UserRec]:
        """Every account (of ``clinic_id`` when given), oldest first."""
        stmt = sa.select(UserRow).order_by(UserRow.id)
        if clinic_id is not None:
            stmt = stmt.where(UserRow.clinic_id == clinic_id)
        return self._read(lambda s: [_user(r) for r in s.scalars(stmt)])

    def count_enabled_practitioners(self) -> int:
        return self._read(lambda s: int(s.scalar(
            sa.select(sa.func.count()).select_from(UserRow)
            .where(UserRow.role == "practitioner", UserRow.disabled_at.is_(None))) or 0))

    def has_practitioner_account(self) -> bool:
        """True once any practitioner account (enabled or not) exists."""
        return self._read(lambda s: s.scalar(
            sa.select(UserRow.id).where(UserRow.role == "practitioner").limit(1))) is not None

    def has_real_patients(self) -> bool:
        """True as soon as one patient is not a demo patient."""
        return self._read(lambda s: s.scalar(
            sa.select(PatientRow.id).where(PatientRow.is_demo.is_(False)).limit(1))) is not None

    def patient_is_demo(self, patient_id) -> bool:
        """True only for an existing demo patient."""
        if not _is_id(patient_id):
            return False
        return bool(self._read(lambda s: s.scalar(
            sa.select(PatientRow.is_demo).where(PatientRow.id == patient_id))))

    def create_first_practitioner_account(self, username: str, password_hash: str, *,
                                          now: dt.datetime) -> UserRec:
        """The first practitioner account (of the default clinic, and the installation admin),
        audited as ``account.first_practitioner``; raises :class:`Conflict` once any
        practitioner account exists (checked under a lock)."""

        def tx(s):
            if self.backend == "postgresql":
                s.execute(sa.text(f"SELECT pg_advisory_xact_lock({_FIRST_ACCOUNT_LOCK})"))
            if s.scalar(sa.select(UserRow.id).where(UserRow.role == "practitioner").limit(1)) is not None:
                raise Conflict("a practitioner account already exists: sign in instead")
            if s.scalar(sa.select(UserRow.id).where(UserRow.username == username)) is not None:
                raise Conflict(f"the username {username!r} is taken")
            cid = default_clinic_id_in(s)
            row = UserRow(username=username, role="practitioner", password_hash=password_hash, created_at=now,
                          clinic_id=cid, is_admin=True)
            s.add(row)
            s.flush()
            add_audit_in(s, at=now, actor=f"local:{username}", action="account.first_practitioner", detail="",
                         clinic_id=cid)
            return _user(row)

        return self._write(tx)

    def add_account(self, username: str, password_hash: str, *, role: str, patient_id: int | None,
                    actor: str, now: dt.datetime, clinic_id: int | None = None) -> UserRec:
        """A new local account of ``clinic_id`` (default: the default clinic), audited as
        ``account.create.<role>`` by ``actor``. A patient account's patient must be of that clinic."""

        def tx(s):
            cid = default_clinic_id_in(s) if clinic_id is None else clinic_id
            if patient_id is not None and patient_clinic_in(s, patient_id) != cid:
                raise NotFound(f"patient {patient_id} not found")
            if s.scalar(sa.select(UserRow.id).where(UserRow.username == username)) is not None:
                raise Conflict(f"the username {username!r} is taken")
            row = UserRow(username=username, role=role, password_hash=password_hash, patient_id=patient_id,
                          created_at=now, clinic_id=cid)
            s.add(row)
            s.flush()
            add_audit_in(s, at=now, actor=actor, action=f"account.create.{role}", patient_id=patient_id,
                         detail=f"user {row.id}", clinic_id=cid)
            return _user(row)

        return self._write(tx)

    def set_account_disabled(self, user_id, disabled: bool, *, actor: str, now: dt.datetime,
                             clinic_id: int | None = None) -> UserRec:
        """Disable or re-enable an account (of ``clinic_id`` when given; audited); raises
        :class:`LastPractitioner` rather than disable the last enabled practitioner."""

        def tx(s):
            row = s.get(UserRow, user_id) if _is_id(user_id) else None
            if row is None or (clinic_id is not None and row.clinic_id != clinic_id):
                raise NotFound(f"account {user_id!r} not found")
            if disabled and row.role == "practitioner" and row.disabled_at is None:
                others = s.scalar(sa.select(sa.func.count()).select_from(UserRow).where(
                    UserRow.role == "practitioner", UserRow.disabled_at.is_(None), UserRow.id != row.id))
                if not others:
                    raise LastPractitioner("the last practitioner account can't be disabled")
            row.disabled_at = now if disabled else None
            add_audit_in(s, at=now, actor=actor, action="account.disable" if disabled else "account.enable",
                         patient_id=row.patient_id, detail=f"user {row.id}", clinic_id=row.clinic_id)
            s.flush()
            return _user(row)

        return self._write(tx)

    def change_account_password(self, user_id: int, password_hash: str, *, actor: str, now: dt.datetime,
                                release: Iterable[int] = (), forget_keys: Iterable[str] = ()) -> UserRec:
        """Store a new password hash (audited as ``account.password``), release the attempt
        counted for checking the old one and forget the account's failures."""
        release, forget_keys = list(release), list(forget_keys)

        def tx(s):
            self._release(s, release)
            if forget_keys:
                s.execute(sa.delete(AuthFailureRow).where(AuthFailureRow.key.in_(forget_keys)))
            r = s.get(UserRow, user_id)
            r.password_hash = password_hash
            add_audit_in(s, at=now, actor=actor, action="account.password", detail=f"user {r.id}",
                         clinic_id=r.clinic_id)
            s.flush()
            return _user(r)

        return self._write(tx)

    def note_failed_sign_in(self, user_id: int | None, *, actor: str, now: dt.datetime,
                            lock_key: str, since: dt.datetime, wait: WaitRule) -> None:
        """A failed sign-in (audited as ``sign_in.failed``); for a known account, count it on the
        account and note until when ``lock_key`` is locked."""

        def tx(s):
            clinic = None
            if user_id is not None:
                r = s.get(UserRow, user_id)
                r.failed_attempts = (r.failed_attempts or 0) + 1
                w = wait(lock_key, *self._failure_stats(s, lock_key, since))
                r.locked_until = now + dt.timedelta(seconds=w) if w > 0 else None
                clinic = r.clinic_id
            add_audit_in(s, at=now, actor=actor, action="sign_in.failed", detail="", clinic_id=clinic)

        self._write(tx)

    def note_sign_in(self, user_id: int, *, now: dt.datetime, new_password_hash: str | None = None,
                     release: Iterable[int] = (), forget_keys: Iterable[str] = ()) -> UserRec:
        """A successful sign-in (audited as ``sign_in``): reset the account's failure count,
        store a re-hashed password if given, release the attempt and forget the failures."""
        release, forget_keys = list(release), list(forget_keys)

        def tx(s):
            r = s.get(UserRow, user_id)
            r.failed_attempts = 0
            r.locked_until = None
            if new_password_hash:
                r.password_hash = new_password_hash
            self._release(s, release)
            if forget_keys:
                s.execute(sa.delete(AuthFailureRow).where(AuthFailureRow.key.in_(forget_keys)))
            add_audit_in(s, at=now, actor=f"local:{r.username}", action="sign_in", patient_id=r.patient_id,
                         detail="", clinic_id=r.clinic_id)
            s.flush()
            return _user(r)

        return self._write(tx)

    # -- patient links
    def issue_patient_token(self, patient_id, *, token_hash: str, label: str, now: dt.datetime,
                            expires_at: dt.datetime, actor: str, detail: str,
                            clinic_id: int | None = None) -> TokenRec:
        """Store a link's or a typed code's hash and audit it as ``link.issue`` (``detail``
        names the new row as ``{id}``), in one transaction. With ``clinic_id``, a patient of
        another clinic is not found."""

        def tx(s):
            pc = patient_clinic_in(s, patient_id)
            if pc is None or (clinic_id is not None and pc != clinic_id):
                raise NotFound(f"patient {patient_id!r} not found")
            row = PatientTokenRow(token_hash=token_hash, patient_id=patient_id, label=label,
                                  created_at=now, expires_at=expires_at)
            s.add(row)
            s.flush()
            add_audit_in(s, at=now, actor=actor, action="link.issue", patient_id=patient_id,
                           detail=detail.format(id=row.id))
            return _token(row)

        return self._write(tx)

    def patient_tokens_newest_first(self, patient_id, *, clinic_id: int | None = None) -> list[TokenRec]:
        """A patient's links, newest first (none for a patient of another clinic than ``clinic_id``)."""
        stmt = (sa.select(PatientTokenRow).where(PatientTokenRow.patient_id == patient_id)
                .order_by(PatientTokenRow.id.desc()))
        if clinic_id is not None:
            stmt = stmt.join(PatientRow, PatientRow.id == PatientTokenRow.patient_id).where(
                PatientRow.clinic_id == clinic_id)
        return self._read(lambda s: [_token(r) for r in s.scalars(stmt)])

    def revoke_token(self, token_id, *, actor: str, now: dt.datetime, clinic_id: int | None = None) -> TokenRec:
        """Revoke one link now (audited as ``link.revoke`` unless it already was). With
        ``clinic_id``, a link of another clinic's patient is not found."""

        def tx(s):
            row = s.get(PatientTokenRow, token_id) if isinstance(token_id, int) else None
            if row is not None and clinic_id is not None and patient_clinic_in(s, row.patient_id) != clinic_id:
                row = None
            if row is None:
                raise NotFound(f"link {token_id!r} not found")
            if row.revoked_at is None:
                row.revoked_at = now
                add_audit_in(s, at=now, actor=actor, action="link.revoke", patient_id=row.patient_id,
                             detail=f"link {row.id}")
            s.flush()
            return _token(row)

        return self._write(tx)

    def revoke_patient_tokens(self, patient_id, *, actor: str, now: dt.datetime,
                              clinic_id: int | None = None) -> int:
        """Revoke every active link of a patient (audited as ``link.revoke_all``); how many.
        With ``clinic_id``, a patient of another clinic is not found."""

        def tx(s):
            pc = patient_clinic_in(s, patient_id)
            if clinic_id is not None and pc is not None and pc != clinic_id:
                raise NotFound(f"patient {patient_id!r} not found")
            n = s.execute(sa.update(PatientTokenRow).where(
                PatientTokenRow.patient_id == patient_id, PatientTokenRow.revoked_at.is_(None))
                .values(revoked_at=now)).rowcount
            add_audit_in(s, at=now, actor=actor, action="link.revoke_all", patient_id=patient_id,
                         detail=f"{n} links")
            return n

        return self._write(tx)

    def valid_patient_token(self, token_hash: str, now: dt.datetime) -> TokenRec | None:
        """The token with this hash if it is neither revoked nor expired at ``now``."""

        def q(s):
            row = s.scalar(sa.select(PatientTokenRow).where(PatientTokenRow.token_hash == token_hash))
            if row is None or row.revoked_at is not None or not now < row.expires_at:
                return None
            return _token(row)

        return self._read(q)

    def use_patient_token(self, token_id: int, *, now: dt.datetime, release: Iterable[int] = ()) -> TokenRec:
        """A patient signed in with this token: note when, audit ``sign_in.link``, release the attempt."""
        release = list(release)

        def tx(s):
            self._release(s, release)
            r = s.get(PatientTokenRow, token_id)
            r.last_used_at = now
            add_audit_in(s, at=now, actor=f"link:{r.id}", action="sign_in.link", patient_id=r.patient_id,
                         detail="")
            s.flush()
            return _token(r)

        return self._write(tx)

    # -- audit log
    def append_audit(self, *, at: dt.datetime, actor: str, action: str, patient_id: int | None = None,
                     detail: str = "", clinic_id: int | None = None) -> None:
        """One audit entry as given (:func:`analyzer.auth.record_audit` checks it), in the log of
        the patient's clinic, else of ``clinic_id``."""
        self._write(lambda s: add_audit_in(s, at=at, actor=actor, action=action, patient_id=patient_id,
                                           detail=detail, clinic_id=clinic_id))
