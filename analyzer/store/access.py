"""The store's access records: local accounts, patient-link tokens, the audit log and the
failed-attempt counters (SQL only; the policy lives in :mod:`analyzer.auth`).

:class:`AccessRecords` is a part of :class:`analyzer.store.Store` (a mixin: it uses the
store's transactions ``_read`` / ``_write`` / ``_write_unique`` and ``_get``).
"""

from __future__ import annotations

import datetime as dt
import numbers

import sqlalchemy as sa

from analyzer.store import validate as v
from analyzer.store.convert import audit_record as _audit
from analyzer.store.convert import token_record as _token
from analyzer.store.convert import user_record as _user
from analyzer.store.errors import Conflict, InvalidInput
from analyzer.store.models import (
    AuditRow,
    AuthFailureRow,
    PatientRow,
    PatientTokenRow,
    UserRow,
    utcnow,
)
from analyzer.store.records import AuditRec, TokenRec, UserRec


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

    def audit(self, actor: str, action: str, *, patient_id: int | None = None, detail: str = "") -> AuditRec:
        """Append an audit entry (who, what, which patient). Never fails on a deleted patient."""
        actor = v.text(actor, "actor", max_len=100, required=True)
        action = v.text(action, "action", max_len=100, required=True)
        detail = v.long_text(detail, "detail")
        if patient_id is not None:  # a plain number (the patient may be gone), in range
            if isinstance(patient_id, bool) or not isinstance(patient_id, numbers.Integral) \
                    or not 1 <= int(patient_id) <= v.MAX_ID:
                raise InvalidInput(f"audit patient id {v.show(patient_id)} is not an id")
            patient_id = int(patient_id)

        def tx(s):
            row = AuditRow(actor=actor, action=action, patient_id=patient_id, detail=detail)
            s.add(row)
            s.flush()
            return _audit(row)

        return self._write(tx)

    def list_audit(self, *, patient_id: int | None = None, limit: int = 200) -> list[AuditRec]:
        """Newest first."""
        if patient_id is not None and (isinstance(patient_id, bool) or not isinstance(patient_id, numbers.Integral)
                                       or not 1 <= int(patient_id) <= v.MAX_ID):
            return []  # no entry can name it
        if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or not 1 <= limit <= 100_000:
            raise InvalidInput(f"limit must be a whole number from 1 to 100000, not {v.show(limit)}")

        def q(s):
            stmt = sa.select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
            if patient_id is not None:
                stmt = stmt.where(AuditRow.patient_id == patient_id)
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
