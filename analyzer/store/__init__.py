"""Storage: patients, treatment series, sessions, photos and analyses.

SQLAlchemy 2 + Alembic; an embedded SQLite file by default, PostgreSQL by URL. Everything
returned is a frozen record from :mod:`analyzer.store.records` (no ORM object leaks out).

>>> from analyzer.store import Store
>>> store = Store()   # doctest: +SKIP  ($SKIN_PROGRESS_DATABASE_URL, else ./data/skin-progress.sqlite3)
>>> p = store.create_patient("P-0001", "Anna K.", consent_photos=True)  # doctest: +SKIP

Decisions worth knowing
-----------------------
* Errors: :class:`StoreError` (one line) with :class:`NotFound`, :class:`InvalidInput`
  (also a ``ValueError``) and :class:`Conflict`; an unusable photo raises
  :class:`analyzer.errors.PhotoError`. Bad input writes nothing.
* Photos: one per (session, view). Views: ``front``, ``left45``, ``right45`` or
  ``closeup:<name>``. The same bytes again for that view return the existing record;
  other bytes raise :class:`Conflict` unless ``replace=True``. Originals are kept byte for
  byte under ``photos/ab/cd/<sha256>.<ext>``; display copies (JPEG, <= 2048 px, no
  EXIF/GPS/ICC) under ``derived/ab/cd/<sha256>.jpg``. Identical content is stored once.
* A photo row is committed only after its files are durable; a crash leaves at worst stray
  files, which :meth:`Store.collect_garbage` removes.
* Analyses are keyed by (photo, analyzer version, region). Saving the same key replaces it;
  another version adds rows beside the old ones. Every query names its version.
* A series' baseline is the chosen session, else its earliest treatment session.
* Deleting (patient, series, session, photo) removes the rows in one transaction, then every
  file no other row uses. Audit-log entries stay (they hold only the numeric patient id).
* ``export_patient`` / ``import_archive``: one deterministic zip; export -> import -> export
  is byte-identical. Accounts, link tokens and the audit log are not exported.
"""

from analyzer.store.checkins import DEFAULT_CHECKIN_DAYS, CheckinRec, RecoveryPlan
from analyzer.store.engine import default_data_dir, default_database_url
from analyzer.store.errors import Conflict, InvalidInput, NotFound, StoreError
from analyzer.store.records import (
    AnalysisRec,
    AnnotationRec,
    AuditRec,
    MarketingConsentRec,
    Patient,
    PhotoRec,
    Series,
    SessionRec,
    TokenRec,
    UserRec,
)
from analyzer.store.store import Store
from analyzer.store.validate import KNOWN_CONCERNS, SESSION_KINDS, STANDARD_VIEWS

__all__ = [
    "DEFAULT_CHECKIN_DAYS",
    "CheckinRec",
    "RecoveryPlan",
    "KNOWN_CONCERNS",
    "SESSION_KINDS",
    "STANDARD_VIEWS",
    "AnalysisRec",
    "AnnotationRec",
    "AuditRec",
    "MarketingConsentRec",
    "Conflict",
    "InvalidInput",
    "NotFound",
    "Patient",
    "PhotoRec",
    "Series",
    "SessionRec",
    "Store",
    "StoreError",
    "TokenRec",
    "UserRec",
    "default_data_dir",
    "default_database_url",
]
