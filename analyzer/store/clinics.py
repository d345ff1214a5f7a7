"""The store's clinics (0008): a clinic owns patients and practitioner accounts.

:class:`ClinicRecords` is a part of :class:`analyzer.store.Store` (a mixin, like
:class:`analyzer.store.access.AccessRecords`). Who may manage clinics is
:mod:`analyzer.auth`'s policy; here is only the SQL. A new installation has one clinic,
"Default clinic", made by the migration: an installation that never names another clinic
never has to know about clinics.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from analyzer.store import validate as v
from analyzer.store.convert import clinic_record as _clinic
from analyzer.store.convert import user_record as _user
from analyzer.store.errors import Conflict, InvalidInput
from analyzer.store.models import AuditRow, ClinicRow, PatientRow, UserRow
from analyzer.store.records import Clinic, UserRec

DEFAULT_CLINIC_NAME = "Default clinic"


def default_clinic_id_in(s) -> int:
    """The installation's default clinic: the oldest. Migration 0008 makes it; a database whose
    tables were emptied by hand gets it back here (call inside a write transaction)."""
    cid = s.scalar(sa.select(sa.func.min(ClinicRow.id)))
    if cid is None:
        row = ClinicRow(name=DEFAULT_CLINIC_NAME)
        s.add(row)
        s.flush()
        cid = row.id
    return cid


def patient_clinic_in(s, patient_id) -> int | None:
    """The clinic of a patient, or None when there is no such patient."""
    if not isinstance(patient_id, int) or isinstance(patient_id, bool):
        return None
    return s.scalar(sa.select(PatientRow.clinic_id).where(PatientRow.id == patient_id))


def add_audit_in(s, *, at: dt.datetime | None = None, actor: str, action: str, patient_id: int | None = None,
                 detail: str = "", clinic_id: int | None = None) -> AuditRow:
    """One audit row in the log of the patient's clinic (when it names an existing patient),
    else of ``clinic_id`` (None: an installation entry, e.g. an unknown code typed)."""
    clinic_id = patient_clinic_in(s, patient_id) or clinic_id
    row = AuditRow(actor=actor, action=action, patient_id=patient_id, detail=detail, clinic_id=clinic_id)
    if at is not None:
        row.at = at
    s.add(row)
    return row


def _name(name) -> str:
    n = v.text(name, "clinic name", max_len=200, required=True)
    return n


class ClinicRecords:
    """Clinics, stored (methods of the Store)."""

    def default_clinic_id(self) -> int:
        """The installation's default clinic (where patients and accounts go unless told)."""
        cid = self._read(lambda s: s.scalar(sa.select(sa.func.min(ClinicRow.id))))
        return cid if cid is not None else self._write(default_clinic_id_in)

    def list_clinics(self) -> list[Clinic]:
        return self._read(lambda s: [_clinic(r) for r in s.scalars(sa.select(ClinicRow).order_by(ClinicRow.id))])

    def get_clinic(self, clinic_id: int) -> Clinic:
        return self._read(lambda s: _clinic(self._get(s, ClinicRow, clinic_id, "clinic")))

    def patient_clinic(self, patient_id) -> int | None:
        """The clinic that owns the patient, or None when there is no such patient."""
        return self._read(lambda s: patient_clinic_in(s, patient_id))

    def _name_taken(self, s, name: str, but: int | None = None) -> bool:
        q = sa.select(ClinicRow.id).where(sa.func.lower(ClinicRow.name) == name.lower())
        if but is not None:
            q = q.where(ClinicRow.id != but)
        return s.scalar(q) is not None

    def create_clinic(self, name: str, *, actor: str = "", now: dt.datetime | None = None) -> Clinic:
        """A new clinic; names are unique (case-insensitive). Audited as ``clinic.create`` in its
        own log when ``actor`` is given."""
        name = _name(name)

        def tx(s):
            if self._name_taken(s, name):
                raise Conflict(f"a clinic named {name!r} already exists")
            row = ClinicRow(name=name)
            if now is not None:
                row.created_at = now
            s.add(row)
            s.flush()
            if actor:
                add_audit_in(s, at=now, actor=actor, action="clinic.create", detail=f"clinic {row.id}",
                             clinic_id=row.id)
            return _clinic(row)

        return self._write_unique(tx, f"a clinic named {name!r} already exists")

    def rename_clinic(self, clinic_id: int, name: str, *, actor: str = "", now: dt.datetime | None = None) -> Clinic:
        name = _name(name)

        def tx(s):
            row = self._get(s, ClinicRow, clinic_id, "clinic")
            if self._name_taken(s, name, but=row.id):
                raise Conflict(f"a clinic named {name!r} already exists")
            row.name = name
            if actor:
                add_audit_in(s, at=now, actor=actor, action="clinic.rename", detail=f"clinic {row.id}",
                             clinic_id=row.id)
            s.flush()
            return _clinic(row)

        return self._write_unique(tx, f"a clinic named {name!r} already exists")

    def set_account_clinic(self, user_id: int, clinic_id: int, *, actor: str = "",
                           now: dt.datetime | None = None) -> UserRec:
        """Move a practitioner account to another clinic (a patient account follows its patient:
        refused). Audited as ``account.clinic`` in the logs of both clinics."""

        def tx(s):
            row = self._get(s, UserRow, user_id, "account")
            self._get(s, ClinicRow, clinic_id, "clinic")
            if row.role != "practitioner":
                raise InvalidInput("a patient account belongs to its patient's clinic: it can't be moved")
            old = row.clinic_id
            row.clinic_id = clinic_id
            if actor:
                for c in {old, clinic_id} - {None}:
                    add_audit_in(s, at=now, actor=actor, action="account.clinic",
                                 detail=f"user {row.id}: clinic {old} -> {clinic_id}", clinic_id=c)
            s.flush()
            return _user(row)

        return self._write(tx)
