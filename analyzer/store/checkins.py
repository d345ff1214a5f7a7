"""The store's recovery records: a treatment session's check-in plan (days, aftercare text) and
the check-ins a patient sent through their link (SQL only; the rules live in
:mod:`analyzer.service.checkins`).

:class:`RecoveryRecords` is a part of :class:`analyzer.store.Store` (a mixin using the store's
``_read`` / ``_write`` / ``_write_unique`` and ``_get``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from analyzer.store import validate as v
from analyzer.store.errors import InvalidInput
from analyzer.store.models import (
    PhotoRow,
    RecoveryCheckinRow,
    RecoveryPlanRow,
    SeriesRow,
    SessionRow,
    utcnow,
)

#: Check-in days when the practitioner set none: 1, 3 and 7 days after the session.
DEFAULT_CHECKIN_DAYS: tuple[int, ...] = (1, 3, 7)
SENT_BY = ("patient",)


@dataclass(frozen=True)
class RecoveryPlan:
    """A treatment session's check-in days and aftercare text. ``aftercare`` None and
    ``is_default`` True: nothing set (the caller supplies the default text)."""

    session_id: int
    checkin_days: tuple[int, ...]
    aftercare: str | None
    is_default: bool
    updated_at: dt.datetime | None


@dataclass(frozen=True)
class CheckinRec:
    id: int
    treatment_session_id: int
    day: int
    recovery_session_id: int | None
    photo_id: int | None
    symptoms: dict | None
    sent_by: str
    actor: str
    created_at: dt.datetime
    updated_at: dt.datetime
    # joined
    series_id: int
    patient_id: int
    treatment_date: dt.date


def valid_checkin_days(value: Any) -> tuple[int, ...]:
    """Check-in days: whole days 1-RECOVERY_MAX_DAYS after the session, each once (sorted);
    an empty list means no check-ins."""
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        raise InvalidInput("check-in days must be a list of whole days, e.g. 1, 3, 7")
    out = set()
    for d in value:
        if isinstance(d, bool) or not isinstance(d, int):
            raise InvalidInput(f"check-in day {d!r} is not a whole number of days")
        if not 1 <= d <= v.RECOVERY_MAX_DAYS:
            raise InvalidInput(f"check-in day {d}: days after the session must be 1-{v.RECOVERY_MAX_DAYS}")
        out.add(d)
    return tuple(sorted(out))


def _checkin(row: RecoveryCheckinRow, series_id: int, patient_id: int, tdate: dt.date) -> CheckinRec:
    return CheckinRec(id=row.id, treatment_session_id=row.treatment_session_id, day=row.day,
                      recovery_session_id=row.recovery_session_id, photo_id=row.photo_id,
                      symptoms=dict(row.symptoms) if isinstance(row.symptoms, dict) else None,
                      sent_by=row.sent_by, actor=row.actor or "", created_at=row.created_at,
                      updated_at=row.updated_at, series_id=series_id, patient_id=patient_id,
                      treatment_date=tdate)


class RecoveryRecords:
    """Check-in plans and check-ins, stored (methods of the Store)."""

    def _treatment_row(self, s, session_id: int) -> SessionRow:
        row = self._get(s, SessionRow, session_id, "session")
        if row.kind != "treatment":
            raise InvalidInput("check-ins follow a treatment session, not a recovery visit")
        return row

    def get_recovery_plan(self, session_id: int) -> RecoveryPlan:
        """The check-in plan of a treatment session (the defaults when none was set)."""

        def q(s):
            self._treatment_row(s, session_id)
            row = s.scalar(sa.select(RecoveryPlanRow).where(RecoveryPlanRow.session_id == session_id))
            if row is None:
                return RecoveryPlan(session_id, DEFAULT_CHECKIN_DAYS, None, True, None)
            return RecoveryPlan(session_id, tuple(int(d) for d in row.checkin_days or ()), row.aftercare,
                                False, row.updated_at)

        return self._read(q)

    def set_recovery_plan(self, session_id: int, *, checkin_days: Any, aftercare: str) -> RecoveryPlan:
        """Set a treatment session's check-in days (1-7 days after it; empty: none) and its
        aftercare text."""
        days = valid_checkin_days(checkin_days)
        text = v.long_text(aftercare, "aftercare text")

        def tx(s):
            self._treatment_row(s, session_id)
            row = s.scalar(sa.select(RecoveryPlanRow).where(RecoveryPlanRow.session_id == session_id))
            now = utcnow()
            if row is None:
                row = RecoveryPlanRow(session_id=session_id, checkin_days=list(days), aftercare=text, updated_at=now)
                s.add(row)
            else:
                row.checkin_days = list(days)
                row.aftercare = text
                row.updated_at = now
            s.flush()
            return RecoveryPlan(session_id, days, text, False, now)

        return self._write_unique(tx, f"the check-in plan of session {session_id} was changed at the same moment")

    def save_checkin(self, treatment_session_id: int, day: int, *, symptoms: dict | None,
                     recovery_session_id: int | None, photo_id: int | None, sent_by: str = "patient",
                     actor: str = "") -> CheckinRec:
        """Record (or update: one per session and day) a check-in. A photo and recovery visit
        already on the check-in stay unless new ones are given."""
        if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= v.RECOVERY_MAX_DAYS:
            raise InvalidInput(f"check-in day must be 1-{v.RECOVERY_MAX_DAYS}")
        if sent_by not in SENT_BY:
            raise InvalidInput(f"sent_by must be one of {', '.join(SENT_BY)}")
        sym = v.json_value(symptoms, "symptoms")
        rec_id = v.opt_row_id(recovery_session_id, "recovery session")
        ph_id = v.opt_row_id(photo_id, "photo")
        actor = v.text(actor, "actor", max_len=100)

        def tx(s):
            t = self._treatment_row(s, treatment_session_id)
            series = s.get(SeriesRow, t.series_id)
            if rec_id is not None:
                r = self._get(s, SessionRow, rec_id, "recovery session")
                if r.kind != "recovery" or r.parent_session_id != t.id:
                    raise InvalidInput("a check-in's visit must be a recovery visit of its treatment session")
            if ph_id is not None:
                p = self._get(s, PhotoRow, ph_id, "photo")
                if p.session_id != rec_id:
                    raise InvalidInput("a check-in's photo must belong to its recovery visit")
            row = s.scalar(sa.select(RecoveryCheckinRow).where(
                RecoveryCheckinRow.treatment_session_id == t.id, RecoveryCheckinRow.day == day))
            now = utcnow()
            if row is None:
                row = RecoveryCheckinRow(treatment_session_id=t.id, day=day, created_at=now)
                s.add(row)
            row.symptoms = sym
            if rec_id is not None:
                row.recovery_session_id = rec_id
            if ph_id is not None:
                row.photo_id = ph_id
            row.sent_by = sent_by
            row.actor = actor
            row.updated_at = now
            s.flush()
            return _checkin(row, series.id, series.patient_id, t.date)

        return self._write_unique(tx, f"a check-in for day {day} of session {treatment_session_id} was sent "
                                      "at the same moment")

    def list_checkins(self, *, patient_id: int | None = None, series_id: int | None = None,
                      treatment_session_id: int | None = None,
                      since: dt.date | None = None) -> list[CheckinRec]:
        """Check-ins, oldest treatment first, then by day; filtered by patient, series,
        treatment session and treatment date (``since``: on or after)."""

        def q(s):
            stmt = (sa.select(RecoveryCheckinRow, SessionRow.series_id, SeriesRow.patient_id, SessionRow.date)
                    .join(SessionRow, SessionRow.id == RecoveryCheckinRow.treatment_session_id)
                    .join(SeriesRow, SeriesRow.id == SessionRow.series_id))
            if patient_id is not None:
                stmt = stmt.where(SeriesRow.patient_id == v.row_id(patient_id, "patient"))
            if series_id is not None:
                stmt = stmt.where(SessionRow.series_id == v.row_id(series_id, "series"))
            if treatment_session_id is not None:
                stmt = stmt.where(RecoveryCheckinRow.treatment_session_id
                                  == v.row_id(treatment_session_id, "session"))
            if since is not None:
                stmt = stmt.where(SessionRow.date >= since)
            stmt = stmt.order_by(SessionRow.date, SessionRow.id, RecoveryCheckinRow.day)
            return [_checkin(r, sid, pid, d) for r, sid, pid, d in s.execute(stmt)]

        return self._read(q)

    def checkin_of_visit(self, recovery_session_id: int) -> CheckinRec | None:
        """The check-in whose photo a recovery visit holds (it was sent by the patient), or None."""

        def q(s):
            row = s.execute(
                sa.select(RecoveryCheckinRow, SessionRow.series_id, SeriesRow.patient_id, SessionRow.date)
                .join(SessionRow, SessionRow.id == RecoveryCheckinRow.treatment_session_id)
                .join(SeriesRow, SeriesRow.id == SessionRow.series_id)
                .where(RecoveryCheckinRow.recovery_session_id == recovery_session_id)).first()
            return None if row is None else _checkin(*row)

        return self._read(q)
