"""The records the store hands out: frozen dataclasses, never ORM objects.

Times: ``created_at`` / ``expires_at`` are timezone-aware UTC. ``capture_time`` is the
camera's naive local time from EXIF (or ``None``). ``date`` is a :class:`datetime.date`.
JSON-like fields (``screening``, ``regions``, ``concerns``, ``transform``, ``result``,
``reference_patch``)
are plain Python lists/dicts; treat them as read-only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Patient:
    id: int
    code: str
    display_name: str
    birth_year: int | None
    fitzpatrick: int | None
    consent_photos: bool
    consent_reports: bool
    notes: str
    screening: dict | None
    is_demo: bool
    created_at: dt.datetime
    #: The clinic that owns the patient (0008).
    clinic_id: int | None = None


@dataclass(frozen=True)
class Clinic:
    """A clinic of the installation: it owns patients and practitioner accounts."""

    id: int
    name: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Series:
    id: int
    patient_id: int
    name: str
    body_area: str
    concerns: list[str]
    baseline_session_id: int | None
    regions: list[dict]
    notes: str
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class SessionRec:
    id: int
    series_id: int
    date: dt.date
    device: str
    needle_depth_mm: float | None
    passes: int | None
    topical: str
    practitioner: str
    notes: str
    kind: str
    parent_session_id: int | None
    screening: dict | None
    scar_grade: int | None
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class PhotoRec:
    id: int
    session_id: int
    view: str
    sha256: str
    filename: str
    capture_time: dt.datetime | None
    width: int
    height: int
    storage_key: str
    created_at: dt.datetime
    format: str = ""
    size_bytes: int = 0
    #: A neutral patch marked on the photo (grey card, white headband) for colour calibration:
    #: ``{"x", "y", "w", "h"}`` in the photo's own upright pixels, or None.
    reference_patch: dict | None = None
    #: How the photo was taken (light source, polarised, make-up, colour reference), see
    #: :mod:`analyzer.conditions`; None when not recorded.
    capture_conditions: dict | None = None
    #: The check before keeping when the photo was kept (see :mod:`analyzer.precheck`): ``ok``,
    #: ``verdict``, ``failed`` [{name, fix}]; None when not checked.
    prekeep_check: dict | None = None


@dataclass(frozen=True)
class AnalysisRec:
    id: int
    photo_id: int
    baseline_photo_id: int | None
    transform: Any
    result: dict
    analyzer_version: str
    region: str
    created_at: dt.datetime


@dataclass(frozen=True)
class UserRec:
    id: int
    username: str
    role: str
    password_hash: str
    patient_id: int | None
    created_at: dt.datetime
    disabled: bool = False
    failed_attempts: int = 0
    clinic_id: int | None = None
    #: The installation admin: manages clinics (0008).
    is_admin: bool = False


@dataclass(frozen=True)
class TokenRec:
    id: int
    token_hash: str
    patient_id: int
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    label: str = ""
    last_used_at: dt.datetime | None = None

    def is_valid(self, now: dt.datetime | None = None) -> bool:
        """Not revoked and not expired at ``now`` (default: the current UTC time)."""
        now = now or dt.datetime.now(dt.UTC)
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class AuditRec:
    id: int
    at: dt.datetime
    actor: str
    action: str
    patient_id: int | None
    detail: str
    clinic_id: int | None = None


@dataclass(frozen=True)
class MarketingConsentRec:
    """One grant of marketing consent; ``active`` while not withdrawn."""

    id: int
    patient_id: int
    given_at: dt.datetime
    given_by: str
    withdrawn_at: dt.datetime | None
    withdrawn_by: str | None
    note: str

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None


@dataclass(frozen=True)
class AnnotationRec:
    """A mark on a photo: ``kind`` arrow (``points`` [[x0, y0], [x1, y1]]), text (``points``
    [[x, y]] and ``text``) or outline (``points``, a closed freehand path), in the photo's
    upright pixels; ``data`` also carries an optional ``text`` label."""

    id: int
    photo_id: int
    kind: str
    data: dict
    created_by: str
    created_at: dt.datetime
