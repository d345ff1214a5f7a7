"""SQLAlchemy 2 ORM models: the schema at the newest migration (``head``).

These classes stay inside the store package; callers get the frozen records of
:mod:`analyzer.store.records`. The schema itself is created and upgraded only by the
Alembic revisions in ``analyzer/migrations/versions`` (a test checks the two agree).

Times are stored as naive UTC (``UTCDateTime`` converts), so SQLite and PostgreSQL return
the same values. ``photos.capture_time`` is the camera's naive local time, stored as is.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.types.TypeDecorator):
    """Aware UTC datetimes in Python, naive UTC in the database (same on every engine)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - defensive
            value = dt.datetime.fromisoformat(value)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    """Now, UTC, to the microsecond."""
    return dt.datetime.now(dt.UTC)


#: SQLite hands out ids with AUTOINCREMENT: an id is never reused after a delete (migration 0004).
_AUTOINC = {"sqlite_autoincrement": True}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class ClinicRow(Base):
    """0008: a clinic owns patients and practitioner accounts."""

    __tablename__ = "clinics"
    __table_args__ = _AUTOINC

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PatientRow(Base):
    __tablename__ = "patients"
    __table_args__ = _AUTOINC

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    birth_year: Mapped[int | None] = mapped_column(sa.Integer)
    fitzpatrick: Mapped[int | None] = mapped_column(sa.Integer)
    consent_photos: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    consent_reports: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    is_demo: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # 0002
    screening: Mapped[Any | None] = mapped_column(sa.JSON)
    # 0008
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"), index=True)


class SeriesRow(Base):
    __tablename__ = "series"
    __table_args__ = _AUTOINC

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    body_area: Mapped[str] = mapped_column(sa.String(100))
    # The baseline session; NULL means "the earliest treatment session".
    baseline_session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("sessions.id", ondelete="SET NULL", use_alter=True)
    )
    regions: Mapped[Any] = mapped_column(sa.JSON)
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # 0002 (replaces 0001's single ``concern`` string)
    concerns: Mapped[Any] = mapped_column(sa.JSON)


class SessionRow(Base):
    __tablename__ = "sessions"
    __table_args__ = _AUTOINC

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(sa.ForeignKey("series.id", ondelete="CASCADE"), index=True)
    date: Mapped[dt.date] = mapped_column(sa.Date)
    device: Mapped[str] = mapped_column(sa.String(200), default="")
    needle_depth_mm: Mapped[float | None] = mapped_column(sa.Float)
    passes: Mapped[int | None] = mapped_column(sa.Integer)
    topical: Mapped[str] = mapped_column(sa.String(200), default="")
    practitioner: Mapped[str] = mapped_column(sa.String(200), default="")
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # 0002
    kind: Mapped[str] = mapped_column(sa.String(20), default="treatment", server_default="treatment")
    parent_session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("sessions.id", ondelete="SET NULL")
    )
    screening: Mapped[Any | None] = mapped_column(sa.JSON)
    scar_grade: Mapped[int | None] = mapped_column(sa.Integer)


class PhotoRow(Base):
    __tablename__ = "photos"
    __table_args__ = (sa.UniqueConstraint("session_id", "view", name="uq_photos_session_view"), _AUTOINC)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    view: Mapped[str] = mapped_column(sa.String(100))
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    format: Mapped[str] = mapped_column(sa.String(16))
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    capture_time: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    width: Mapped[int] = mapped_column(sa.Integer)
    height: Mapped[int] = mapped_column(sa.Integer)
    storage_key: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # 0003: a neutral patch marked on the photo, {"x", "y", "w", "h"} in its upright pixels
    reference_patch: Mapped[Any | None] = mapped_column(sa.JSON)
    # 0004: how the photo was taken (analyzer.conditions), or NULL
    capture_conditions: Mapped[Any | None] = mapped_column(sa.JSON)
    # 0004: the verdict of the check before keeping (analyzer.precheck), or NULL
    prekeep_check: Mapped[Any | None] = mapped_column(sa.JSON)


class AnalysisRow(Base):
    __tablename__ = "analyses"
    __table_args__ = (
        sa.UniqueConstraint("photo_id", "analyzer_version", "region", name="uq_analyses_key"),
        _AUTOINC,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(sa.ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    baseline_photo_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("photos.id", ondelete="SET NULL")
    )
    analyzer_version: Mapped[str] = mapped_column(sa.String(50))
    region: Mapped[str] = mapped_column(sa.String(100), default="")
    transform: Mapped[Any | None] = mapped_column(sa.JSON)
    result: Mapped[Any] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


# ---- 0002: access (users, patient links, audit, rate limiting) ----


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint("role IN ('practitioner', 'patient')", name="role"),
        _AUTOINC,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(100), unique=True)
    role: Mapped[str] = mapped_column(sa.String(20))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    patient_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    failed_attempts: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # 0008
    clinic_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clinics.id"), index=True)
    is_admin: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())


class PatientTokenRow(Base):
    __tablename__ = "patient_tokens"
    __table_args__ = _AUTOINC

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(128), unique=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class AuditRow(Base):
    """Who did what. ``patient_id`` is a plain number (no foreign key): the trail outlives the patient."""

    __tablename__ = "audit_log"
    __table_args__ = _AUTOINC

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(sa.String(100))
    action: Mapped[str] = mapped_column(sa.String(100))
    patient_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    # 0008: the clinic whose log holds the entry (a plain number, like patient_id)
    clinic_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)


class AuthFailureRow(Base):
    """One failed login or token attempt, keyed by username / client / token prefix (rate limiting)."""

    __tablename__ = "auth_failures"
    __table_args__ = _AUTOINC

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(200), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


# ---- 0006: marketing consent, annotations ----


class MarketingConsentRow(Base):
    """One grant of marketing consent (before/after pictures for the clinic's own use), separate
    from the treatment-photo consent. Withdrawing dates the grant; the history stays."""

    __tablename__ = "marketing_consents"
    __table_args__ = _AUTOINC

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    given_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    given_by: Mapped[str] = mapped_column(sa.String(100))
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by: Mapped[str | None] = mapped_column(sa.String(100))
    note: Mapped[str] = mapped_column(sa.Text, default="")


class PhotoAnnotationRow(Base):
    """A practitioner's mark on a photo (arrow, text, freehand outline) in its upright pixels.
    The analysis never reads this table."""

    __tablename__ = "photo_annotations"
    __table_args__ = (sa.CheckConstraint("kind IN ('arrow', 'text', 'outline')", name="kind"), _AUTOINC)

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(sa.ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    data: Mapped[Any] = mapped_column(sa.JSON)
    created_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


# ---- 0007: recovery check-ins from the patient's link ----


class RecoveryPlanRow(Base):
    """A treatment session's check-in days and aftercare text (no row: the defaults)."""

    __tablename__ = "recovery_plans"
    __table_args__ = _AUTOINC

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"), unique=True)
    checkin_days: Mapped[Any] = mapped_column(sa.JSON)
    aftercare: Mapped[str] = mapped_column(sa.Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RecoveryCheckinRow(Base):
    """One check-in sent for a day of a treatment session's plan: symptoms and, when a photo
    came with it, the recovery visit holding the photo. ``sent_by`` is ``patient``."""

    __tablename__ = "recovery_checkins"
    __table_args__ = (
        sa.UniqueConstraint("treatment_session_id", "day", name="uq_recovery_checkins_day"),
        _AUTOINC,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    treatment_session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[int] = mapped_column(sa.Integer)
    recovery_session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("sessions.id", ondelete="SET NULL"), index=True
    )
    photo_id: Mapped[int | None] = mapped_column(sa.ForeignKey("photos.id", ondelete="SET NULL"))
    symptoms: Mapped[Any | None] = mapped_column(sa.JSON)
    sent_by: Mapped[str] = mapped_column(sa.String(20), default="patient")
    actor: Mapped[str] = mapped_column(sa.String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
