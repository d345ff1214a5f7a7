"""Storage: patients, treatment series, sessions, photos and analyses.

SQLAlchemy 2 + Alembic; an embedded SQLite file by default, PostgreSQL by URL. Photo files
are content-addressed and written atomically; see :mod:`analyzer.store.store` for the
guarantees. Everything returned is a frozen record from :mod:`analyzer.store.records`.

>>> from analyzer.store import Store
>>> store = Store()                      # doctest: +SKIP  ($SKIN_PROGRESS_DATABASE_URL or ./data)
>>> p = store.create_patient("P-0001", "Anna K.", consent_photos=True)  # doctest: +SKIP
"""

from analyzer.store.engine import default_data_dir, default_database_url
from analyzer.store.errors import Conflict, InvalidInput, NotFound, StoreError
from analyzer.store.records import (
    AnalysisRec,
    AuditRec,
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
    "KNOWN_CONCERNS",
    "SESSION_KINDS",
    "STANDARD_VIEWS",
    "AnalysisRec",
    "AuditRec",
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
