"""The Store: patients, series, sessions, photos and analyses, on SQLite or PostgreSQL.

Guarantees
----------
* Bad input raises :class:`InvalidInput` (or :class:`~analyzer.errors.PhotoError` for an
  unusable photo) before anything is written: no row, no file.
* A photo row is committed only after its original and display files are durable. A crash
  in between leaves files without a row (removed by :meth:`Store.collect_garbage`), never a
  row without its file.
* Every write is one transaction. On SQLite, writers queue (``BEGIN IMMEDIATE`` + busy
  timeout) and a transient "database is locked" is retried; on PostgreSQL serialisation
  failures and deadlocks are retried.
* Deleting is explicit and complete: rows go in one transaction, then every file no other
  row uses is removed.
* Analyses are keyed by (photo, analyzer version, region): a new analyzer version adds new
  rows next to the old ones; queries always name the version they want. A change to what a
  photo is measured with (replacing it, marking its colour reference patch) drops the analyses
  that used it, so they are recomputed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker

from analyzer.config import photo_store_location
from analyzer.io import Photo, load_photo
from analyzer.store import files as files_mod
from analyzer.store import validate as v
from analyzer.store.access import AccessRecords
from analyzer.store.archive import PatientArchive
from analyzer.store.checkins import RecoveryRecords
from analyzer.store.clinics import ClinicRecords, default_clinic_id_in
from analyzer.store.consult import ConsultRecords
from analyzer.store.convert import analysis_record as _analysis
from analyzer.store.convert import patient_record as _patient
from analyzer.store.convert import photo_record as _photo
from analyzer.store.convert import series_record as _series
from analyzer.store.convert import session_record as _session
from analyzer.store.engine import (
    _first_line,
    default_data_dir,
    describe_url,
    make_engine,
    migrate,
    resolve_url,
)
from analyzer.store.errors import Conflict, InvalidInput, NotFound, StoreError
from analyzer.store.files import EXTENSIONS as _EXT
from analyzer.store.files import (
    PhotoFiles,
    derived_key,
    display_jpeg,
    original_key,
)
from analyzer.store.housekeeping import Housekeeping
from analyzer.store.models import (
    AnalysisRow,
    ClinicRow,
    PatientRow,
    PatientTokenRow,
    PhotoRow,
    SeriesRow,
    SessionRow,
    UserRow,
    utcnow,
)
from analyzer.store.objects import open_photo_files
from analyzer.store.records import (
    AnalysisRec,
    Patient,
    PhotoRec,
    Series,
    SessionRec,
)

T = TypeVar("T")

_RETRIES = 8

PATIENT_FIELDS = (
    "code", "display_name", "birth_year", "fitzpatrick", "consent_photos", "consent_reports",
    "notes", "screening", "is_demo",
)
SERIES_FIELDS = ("name", "body_area", "concerns", "notes")
SESSION_FIELDS = (
    "date", "device", "needle_depth_mm", "passes", "topical", "practitioner", "notes",
    "screening", "scar_grade",
)


class _RaceConflict(Conflict):
    """A database constraint caught a clash our checks could not see (a concurrent write)."""


def _version_key(version: str):
    parts = []
    for p in version.replace("-", ".").replace("+", ".").split("."):
        parts.append((0, int(p), "") if p.isdigit() else (1, 0, p))
    return parts


class Store(AccessRecords, ClinicRecords, PatientArchive, Housekeeping, ConsultRecords, RecoveryRecords):
    """Patients' records and photos in one database plus one data folder.

    Parameters
    ----------
    url : str, optional
        Database URL. Default: ``$SKIN_PROGRESS_DATABASE_URL``, else a SQLite file
        ``skin-progress.sqlite3`` in ``data_dir``.
    data_dir : Path, optional
        Folder for photo files (and the default SQLite file). Default:
        ``$SKIN_PROGRESS_DATA_DIR``, else ``./data``.

    Opening runs the Alembic migrations up to ``head`` (one transaction; concurrent openers
    wait for each other). Raises :class:`StoreError` with one line if the database can't be
    opened.
    """

    def __init__(self, url: str | None = None, data_dir: Path | None = None, *, new_database_ok: bool = False,
                 photo_store: str | None = None, photo_store_endpoint: str | None = None):
        self.data_dir = Path(data_dir).expanduser().resolve() if data_dir else default_data_dir()
        self._url = resolve_url(url, self.data_dir)
        self.url = self._url.render_as_string(hide_password=True)
        self.backend = self._url.get_backend_name()
        #: Where the photo files are (argument, SKIN_PROGRESS_PHOTO_STORE, settings, data folder).
        self.photo_store = photo_store_location(url=photo_store, endpoint_url=photo_store_endpoint,
                                                data_dir=self.data_dir)
        self.engine = make_engine(self._url)  # connects lazily
        self.files: PhotoFiles = open_photo_files(self.photo_store, self.data_dir, engine=self.engine)
        db_file = Path(self._url.database) if self.backend == "sqlite" else None
        existed = db_file is not None and db_file.exists()
        try:
            # A database with no schema beside photos is refused unless the caller chose it on
            # purpose (new_database_ok: the Settings page saving a new database URL).
            migrate(self._url, photo_store=None if new_database_ok else self.files)
        except StoreError:
            self.engine.dispose()
            if db_file is not None and not existed:  # don't leave the empty file we just made
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(f"{db_file}{suffix}").unlink(missing_ok=True)
            raise
        #: The SQLite file's identity (device, inode): a write is acknowledged only while the
        #: file it went to is still the database file (see :meth:`check_database_file`).
        self._db_file = db_file
        self._db_identity = self._file_identity()
        write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(write_engine, expire_on_commit=False)

    # ---- plumbing --------------------------------------------------------------------
    def describe(self) -> str:
        """``SQLite file /abs/path`` or ``PostgreSQL at host/db`` (no password)."""
        return describe_url(self._url)

    def open_args(self) -> dict:
        """What another process (a re-analysis worker) passes to ``Store(**args)`` to open this
        same store: the database URL (with its password), data folder and photo store."""
        return {"url": self._url.render_as_string(hide_password=False), "data_dir": str(self.data_dir),
                "photo_store": self.photo_store.url or str(self.files.root),
                "photo_store_endpoint": self.photo_store.endpoint_url}

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.describe()}, data in {self.data_dir}, photos in {self.files.describe()})"

    def session_factory(self, *, write: bool = False) -> sessionmaker:
        """SQLAlchemy session factory (tests read raw rows with it; code outside the store never does).

        Use ``write=True`` for transactions that write (SQLite: ``BEGIN IMMEDIATE``).
        """
        return self._write_sessions if write else self._read_sessions


    def _file_identity(self) -> tuple[int, int] | None:
        if self._db_file is None:
            return None
        try:
            st = self._db_file.stat()
        except OSError:
            return None
        return (st.st_dev, st.st_ino)


    def check_database_file(self) -> None:
        """Raise :class:`StoreError` if the SQLite database file was deleted or replaced since
        the store opened it: what was just written went to a file nobody will read again, so
        it is not acknowledged. (No-op on PostgreSQL.)"""
        if self._db_file is None:
            return
        if self._file_identity() != self._db_identity:
            raise StoreError(
                f"the database file {self._db_file} was deleted or replaced while in use: the last "
                "change was not saved; restore the file and restart the app")

    def _is_transient(self, exc: BaseException) -> bool:
        orig = getattr(exc, "orig", None)
        if self.backend == "sqlite":
            msg = str(orig or exc).lower()
            return "locked" in msg or "busy" in msg
        return getattr(orig, "sqlstate", None) in ("40001", "40P01")

    def _read(self, fn: Callable[[OrmSession], T]) -> T:
        try:
            with self._read_sessions() as s:
                return fn(s)
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"database error ({self.describe()}): {_first_line(exc)}") from None

    def _write(self, fn: Callable[[OrmSession], T]) -> T:
        """Run ``fn`` in one write transaction, retrying transient lock errors."""
        for attempt in range(_RETRIES):
            try:
                with self._write_sessions() as s, s.begin():
                    out = fn(s)
                self.check_database_file()  # committed to a deleted file: not acknowledged
                return out
            except sa.exc.IntegrityError:
                # A unique key or reference clashed with a change committed at the same moment
                # (our own checks run first, so this is a race): nothing was written.
                raise _RaceConflict("another change to the same records was saved at the same "
                                    "moment; nothing was written, try again") from None
            except sa.exc.DBAPIError as exc:
                if self._is_transient(exc) and attempt < _RETRIES - 1:
                    time.sleep(0.02 * 2**attempt * (1 + random.random()))
                    continue
                raise StoreError(f"database error ({self.describe()}): {_first_line(exc)}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _get(s: OrmSession, model, id_: Any, what: str):
        id_ = v.row_id(id_, what)  # NotFound for anything but an id in range
        row = s.get(model, id_)
        if row is None:
            raise NotFound(f"{what} {id_} not found")
        return row

    # ---- patients ----------------------------------------------------------------------
    def _patient_values(self, fields: dict) -> dict:
        checks = {
            "code": v.patient_code,
            "display_name": lambda x: v.text(x, "display name", required=True),
            "birth_year": v.birth_year,
            "fitzpatrick": v.fitzpatrick,
            "consent_photos": lambda x: v.boolean(x, "photo consent"),
            "consent_reports": lambda x: v.boolean(x, "report consent"),
            "notes": lambda x: v.long_text(x, "notes"),
            "screening": lambda x: v.json_value(x, "screening"),
            "is_demo": lambda x: v.boolean(x, "demo flag"),
        }
        unknown = sorted(set(fields) - set(checks))
        if unknown:
            raise InvalidInput(f"unknown patient field {unknown[0]!r}: use {', '.join(PATIENT_FIELDS)}")
        return {k: checks[k](x) for k, x in fields.items()}

    def _code_taken(self, s: OrmSession, code: str, but: int | None = None) -> bool:
        q = sa.select(PatientRow.id).where(sa.func.lower(PatientRow.code) == code.lower())
        if but is not None:
            q = q.where(PatientRow.id != but)
        return s.scalar(q) is not None

    def create_patient(
        self,
        code: str,
        display_name: str,
        *,
        birth_year: int | None = None,
        fitzpatrick: int | str | None = None,
        consent_photos: bool = False,
        consent_reports: bool = False,
        notes: str = "",
        screening: dict | None = None,
        is_demo: bool = False,
        clinic_id: int | None = None,
    ) -> Patient:
        """Add a patient to ``clinic_id`` (default: the installation's default clinic). ``code``
        is unique (case-insensitive) across the installation: :class:`Conflict` otherwise."""
        vals = self._patient_values(dict(
            code=code, display_name=display_name, birth_year=birth_year, fitzpatrick=fitzpatrick,
            consent_photos=consent_photos, consent_reports=consent_reports, notes=notes,
            screening=screening, is_demo=is_demo,
        ))

        def tx(s: OrmSession) -> Patient:
            if self._code_taken(s, vals["code"]):
                raise Conflict(f"a patient with code {vals['code']!r} already exists")
            cid = default_clinic_id_in(s) if clinic_id is None else self._get(s, ClinicRow, clinic_id, "clinic").id
            row = PatientRow(clinic_id=cid, **vals)
            s.add(row)
            s.flush()
            return _patient(row)

        return self._write_unique(tx, f"a patient with code {vals['code']!r} already exists")

    def _write_unique(self, fn, message: str):
        """:meth:`_write`, with ``message`` for the Conflict a unique-key race raises."""
        try:
            return self._write(fn)
        except _RaceConflict:
            raise Conflict(message) from None

    def list_patients(self, search: str = "", *, clinic_id: int | None = None) -> list[Patient]:
        """Patients whose code or display name contains ``search`` (case-insensitive), by code;
        with ``clinic_id``, only that clinic's."""
        search = v.text(search, "search", max_len=200).lower()

        def q(s: OrmSession):
            stmt = sa.select(PatientRow).order_by(PatientRow.code, PatientRow.id)
            if clinic_id is not None:
                stmt = stmt.where(PatientRow.clinic_id == clinic_id)
            if search:
                pat = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                stmt = stmt.where(sa.or_(
                    sa.func.lower(PatientRow.code).like(pat, escape="\\"),
                    sa.func.lower(PatientRow.display_name).like(pat, escape="\\"),
                ))
            return [_patient(r) for r in s.scalars(stmt)]

        return self._read(q)

    def get_patient(self, patient_id: int) -> Patient:
        return self._read(lambda s: _patient(self._get(s, PatientRow, patient_id, "patient")))

    def get_patient_by_code(self, code: str) -> Patient:
        def q(s):
            want = v.text(code, "patient code", max_len=64).lower()
            row = s.scalar(sa.select(PatientRow).where(sa.func.lower(PatientRow.code) == want))
            if row is None:
                raise NotFound(f"patient {v.show(code)} not found")
            return _patient(row)

        return self._read(q)

    def update_patient(self, patient_id: int, **fields) -> Patient:
        """Change some of: code, display_name, birth_year, fitzpatrick, consent_photos,
        consent_reports, notes, screening, is_demo."""
        vals = self._patient_values(fields)

        def tx(s: OrmSession) -> Patient:
            row = self._get(s, PatientRow, patient_id, "patient")
            if "code" in vals and self._code_taken(s, vals["code"], but=row.id):
                raise Conflict(f"a patient with code {vals['code']!r} already exists")
            for k, x in vals.items():
                setattr(row, k, x)
            s.flush()
            return _patient(row)

        return self._write_unique(tx, f"a patient with code {vals.get('code')!r} already exists")

    def delete_patient(self, patient_id: int) -> None:
        """Delete the patient with every series, session, photo, analysis, account and
        token, then every photo file no other patient uses. Audit entries stay (they hold
        only the numeric id)."""

        def tx(s: OrmSession) -> list[str]:
            self._get(s, PatientRow, patient_id, "patient")
            series_ids = sa.select(SeriesRow.id).where(SeriesRow.patient_id == patient_id)
            session_ids = sa.select(SessionRow.id).where(SessionRow.series_id.in_(series_ids))
            return self._delete_sessions(s, session_ids, extra=lambda: [
                sa.update(SeriesRow).where(SeriesRow.patient_id == patient_id).values(baseline_session_id=None),
                sa.delete(SeriesRow).where(SeriesRow.patient_id == patient_id),
                sa.delete(PatientTokenRow).where(PatientTokenRow.patient_id == patient_id),
                sa.delete(UserRow).where(UserRow.patient_id == patient_id),
                sa.delete(PatientRow).where(PatientRow.id == patient_id),
            ])

        self._remove_files_of(self._write(tx))

    def _delete_sessions(self, s: OrmSession, session_ids, extra: Callable[[], list] | None = None) -> list[str]:
        """Delete the sessions selected by ``session_ids`` (a select) with their photos and
        analyses; return the sha256s of the deleted photos."""
        session_ids = list(s.scalars(session_ids))  # fix the set before links are cleared
        photo_ids = list(s.scalars(sa.select(PhotoRow.id).where(PhotoRow.session_id.in_(session_ids))))
        shas = list(s.scalars(sa.select(PhotoRow.sha256).where(PhotoRow.id.in_(photo_ids))))
        s.execute(sa.update(AnalysisRow).where(AnalysisRow.baseline_photo_id.in_(photo_ids))
                  .values(baseline_photo_id=None))
        s.execute(sa.delete(AnalysisRow).where(AnalysisRow.photo_id.in_(photo_ids)))
        s.execute(sa.delete(PhotoRow).where(PhotoRow.id.in_(photo_ids)))
        s.execute(sa.update(SessionRow).where(SessionRow.parent_session_id.in_(session_ids))
                  .values(parent_session_id=None))
        s.execute(sa.update(SeriesRow).where(SeriesRow.baseline_session_id.in_(session_ids))
                  .values(baseline_session_id=None))
        if session_ids:
            s.execute(sa.delete(SessionRow).where(SessionRow.id.in_(session_ids)))
        for stmt in (extra() if extra else []):
            s.execute(stmt)
        return shas

    # ---- series ------------------------------------------------------------------------
    def create_series(
        self, patient_id: int, *, body_area: str, concerns: list[str], name: str = "", notes: str = "",
    ) -> Series:
        vals = dict(
            body_area=v.text(body_area, "body area", max_len=100, required=True),
            concerns=v.concerns(concerns),
            name=v.text(name, "series name"),
            notes=v.long_text(notes, "notes"),
        )

        def tx(s: OrmSession) -> Series:
            self._get(s, PatientRow, patient_id, "patient")
            row = SeriesRow(patient_id=patient_id, regions=[], **vals)
            s.add(row)
            s.flush()
            return _series(row)

        return self._write(tx)

    def update_series(self, series_id: int, **fields) -> Series:
        """Change some of: name, body_area, concerns, notes."""
        checks = {
            "name": lambda x: v.text(x, "series name"),
            "body_area": lambda x: v.text(x, "body area", max_len=100, required=True),
            "concerns": v.concerns,
            "notes": lambda x: v.long_text(x, "notes"),
        }
        bad = sorted(set(fields) - set(checks))
        if bad:
            raise InvalidInput(f"unknown series field {bad[0]!r}: use {', '.join(SERIES_FIELDS)}")
        vals = {k: checks[k](x) for k, x in fields.items()}

        def tx(s):
            row = self._get(s, SeriesRow, series_id, "series")
            for k, x in vals.items():
                setattr(row, k, x)
            s.flush()
            return _series(row)

        return self._write(tx)

    def list_series(self, patient_id: int) -> list[Series]:
        def q(s):
            self._get(s, PatientRow, patient_id, "patient")
            rows = s.scalars(sa.select(SeriesRow).where(SeriesRow.patient_id == patient_id)
                             .order_by(SeriesRow.created_at, SeriesRow.id))
            return [_series(r) for r in rows]

        return self._read(q)

    def get_series(self, series_id: int) -> Series:
        return self._read(lambda s: _series(self._get(s, SeriesRow, series_id, "series")))

    def delete_series(self, series_id: int) -> None:
        """Delete a series with its sessions, photos and analyses (and unused files)."""

        def tx(s):
            self._get(s, SeriesRow, series_id, "series")
            ids = sa.select(SessionRow.id).where(SessionRow.series_id == series_id)
            return self._delete_sessions(s, ids, extra=lambda: [
                sa.delete(SeriesRow).where(SeriesRow.id == series_id)])

        self._remove_files_of(self._write(tx))

    def set_baseline_session(self, series_id: int, session_id: int | None) -> Series:
        """Make ``session_id`` (a treatment session of this series) the baseline; ``None``
        restores the default, the earliest treatment session."""

        def tx(s):
            row = self._get(s, SeriesRow, series_id, "series")
            if session_id is not None:
                sess = self._get(s, SessionRow, session_id, "session")
                if sess.series_id != series_id:
                    raise InvalidInput(f"session {session_id} belongs to another series")
                if sess.kind != "treatment":
                    raise InvalidInput("a recovery session can't be the baseline")
            row.baseline_session_id = session_id
            s.flush()
            return _series(row)

        return self._write(tx)

    def set_regions(self, series_id: int, regions: list[dict]) -> Series:
        """Replace the regions of interest (baseline pixel coordinates), see
        :func:`analyzer.store.validate.regions`."""
        regs = v.regions(regions)

        def tx(s):
            row = self._get(s, SeriesRow, series_id, "series")
            row.regions = regs
            s.flush()
            return _series(row)

        return self._write(tx)

    # ---- sessions ----------------------------------------------------------------------
    def _session_values(self, fields: dict) -> dict:
        checks = {
            "date": v.session_date,
            "device": lambda x: v.text(x, "device"),
            "needle_depth_mm": v.needle_depth,
            "passes": v.passes,
            "topical": lambda x: v.text(x, "topical product"),
            "practitioner": lambda x: v.text(x, "practitioner"),
            "notes": lambda x: v.long_text(x, "notes"),
            "screening": lambda x: v.json_value(x, "screening"),
            "scar_grade": v.scar_grade,
            "kind": v.session_kind,
            "parent_session_id": lambda x: v.opt_row_id(x, "parent session"),
        }
        bad = sorted(set(fields) - set(checks))
        if bad:
            raise InvalidInput(f"unknown session field {bad[0]!r}: use {', '.join(SESSION_FIELDS)}")
        return {k: checks[k](x) for k, x in fields.items()}

    @staticmethod
    def _check_recovery(s: OrmSession, series_id: int, kind: str, parent_id, date: dt.date) -> None:
        if kind == "treatment":
            if parent_id is not None:
                raise InvalidInput("only a recovery session has a parent session")
            return
        if parent_id is None:
            raise InvalidInput("a recovery session needs the treatment session it follows (parent_session_id)")
        parent = Store._get(s, SessionRow, parent_id, "parent session")
        if parent.series_id != series_id:
            raise InvalidInput(f"parent session {parent_id} belongs to another series")
        if parent.kind != "treatment":
            raise InvalidInput("a recovery session must follow a treatment session")
        days = (date - parent.date).days
        if not 0 <= days <= v.RECOVERY_MAX_DAYS:
            raise InvalidInput(
                f"recovery photos are taken 0-{v.RECOVERY_MAX_DAYS} days after the session "
                f"({parent.date.isoformat()}); {date.isoformat()} is {days} days"
            )

    def add_session(
        self,
        series_id: int,
        *,
        date: dt.date,
        device: str = "",
        needle_depth_mm: float | None = None,
        passes: int | None = None,
        topical: str = "",
        practitioner: str = "",
        notes: str = "",
        kind: str = "treatment",
        parent_session_id: int | None = None,
        screening: dict | None = None,
        scar_grade: int | None = None,
    ) -> SessionRec:
        """Add a session. ``kind="recovery"`` needs ``parent_session_id``: a treatment
        session of the same series 0-7 days earlier."""
        vals = self._session_values(dict(
            date=date, device=device, needle_depth_mm=needle_depth_mm, passes=passes,
            topical=topical, practitioner=practitioner, notes=notes, kind=kind,
            parent_session_id=parent_session_id, screening=screening, scar_grade=scar_grade,
        ))

        def tx(s):
            self._get(s, SeriesRow, series_id, "series")
            self._check_recovery(s, series_id, vals["kind"], vals["parent_session_id"], vals["date"])
            row = SessionRow(series_id=series_id, **vals)
            s.add(row)
            s.flush()
            return _session(row)

        return self._write(tx)

    def update_session(self, session_id: int, **fields) -> SessionRec:
        """Change some of: date, device, needle_depth_mm, passes, topical, practitioner,
        notes, screening, scar_grade."""
        if {"kind", "parent_session_id"} & set(fields):
            raise InvalidInput("a session's kind and parent can't be changed; delete and re-add it")
        vals = self._session_values(fields)

        def tx(s):
            row = self._get(s, SessionRow, session_id, "session")
            if "date" in vals:
                self._check_recovery(s, row.series_id, row.kind, row.parent_session_id, vals["date"])
            for k, x in vals.items():
                setattr(row, k, x)
            s.flush()
            return _session(row)

        return self._write(tx)

    def list_sessions(self, series_id: int) -> list[SessionRec]:
        """The series' sessions (treatment and recovery), by date then id."""

        def q(s):
            self._get(s, SeriesRow, series_id, "series")
            rows = s.scalars(sa.select(SessionRow).where(SessionRow.series_id == series_id)
                             .order_by(SessionRow.date, SessionRow.id))
            return [_session(r) for r in rows]

        return self._read(q)

    def get_session(self, session_id: int) -> SessionRec:
        return self._read(lambda s: _session(self._get(s, SessionRow, session_id, "session")))

    def baseline_session(self, series_id: int) -> SessionRec | None:
        """The chosen baseline, else the earliest treatment session, else ``None``."""

        def q(s):
            series = self._get(s, SeriesRow, series_id, "series")
            if series.baseline_session_id is not None:
                row = s.get(SessionRow, series.baseline_session_id)
                if row is not None:
                    return _session(row)
            row = s.scalar(sa.select(SessionRow)
                           .where(SessionRow.series_id == series_id, SessionRow.kind == "treatment")
                           .order_by(SessionRow.date, SessionRow.id).limit(1))
            return _session(row) if row is not None else None

        return self._read(q)

    def delete_session(self, session_id: int) -> None:
        """Delete a session with its photos and analyses (and unused files). Recovery
        sessions that followed it are deleted too."""

        def tx(s):
            self._get(s, SessionRow, session_id, "session")
            ids = sa.select(SessionRow.id).where(sa.or_(
                SessionRow.id == session_id, SessionRow.parent_session_id == session_id))
            return self._delete_sessions(s, ids)

        self._remove_files_of(self._write(tx))

    # ---- photos ------------------------------------------------------------------------
    def add_photo(self, session_id: int, *, view: str, data: bytes, filename: str,
                  replace: bool = False) -> PhotoRec:
        """Store an uploaded photo for one view of a session.

        The bytes are checked with :func:`analyzer.io.load_photo` (an unusable file raises
        :class:`~analyzer.errors.PhotoError`; nothing is kept). The original is stored byte
        for byte under its sha256; a display JPEG without metadata is derived. The row is
        committed after both files are durable.

        One photo per (session, view). Uploading the same bytes again for that view returns
        the existing record (idempotent: a double-submitted form adds nothing). Different
        bytes raise :class:`Conflict` unless ``replace=True``, which replaces the photo and
        drops the old photo's analyses.
        """
        view = v.view(view)
        filename = v.filename(filename)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInput("photo data must be bytes")
        data = bytes(data)
        photo = load_photo(data, name=filename)
        sha = hashlib.sha256(data).hexdigest()
        ext = _EXT.get(photo.format, "bin")
        okey, dkey = original_key(sha, ext), derived_key(sha)

        def existing(s) -> PhotoRow | None:
            self._get(s, SessionRow, session_id, "session")
            return s.scalar(sa.select(PhotoRow).where(PhotoRow.session_id == session_id, PhotoRow.view == view))

        def precheck(s):
            row = existing(s)
            if row is not None and row.sha256 == sha:
                return _photo(row)
            if row is not None and not replace:
                raise Conflict(f"session {session_id} already has a {view} photo ({row.filename}); "
                               "delete it or replace it")
            return None

        same = self._read(precheck)
        if same is not None:
            return same
        display = display_jpeg(photo.rgb)
        fmt, width, height, capture_time = photo.format, photo.width, photo.height, photo.capture_time
        del photo  # the decoded pixels (12 bytes per pixel) are not needed any more
        old_shas: list[str] = []

        def tx(s):
            row = existing(s)
            if row is not None:
                if row.sha256 == sha:
                    return _photo(row)
                if not replace:
                    raise Conflict(f"session {session_id} already has a {view} photo ({row.filename})")
                old_shas.append(row.sha256)
                s.execute(sa.update(AnalysisRow).where(AnalysisRow.baseline_photo_id == row.id)
                          .values(baseline_photo_id=None))
                s.execute(sa.delete(AnalysisRow).where(AnalysisRow.photo_id == row.id))
                s.delete(row)
                s.flush()
            new = PhotoRow(
                session_id=session_id, view=view, sha256=sha, filename=filename,
                format=fmt, size_bytes=len(data), capture_time=capture_time,
                width=width, height=height, storage_key=okey,
            )
            s.add(new)
            s.flush()
            return _photo(new)

        try:
            with self.files.shared_lock():
                self.files.put(okey, data, compare=True)
                files_mod.fault("original-durable")
                self.files.put(dkey, display)
                files_mod.fault("derived-durable")
                files_mod.fault("before-commit")
                rec = self._write_unique(tx, f"session {session_id} already has a {view} photo")
                files_mod.fault("committed")
        except BaseException:
            # Nothing was committed: drop our files unless some row uses them.
            self._remove_files_of([sha])
            raise
        if old_shas:
            self._remove_files_of(old_shas)
        return rec

    def list_photos(self, session_id: int) -> list[PhotoRec]:
        """The session's photos: front, left45, right45, then close-ups by name."""
        order = {"front": 0, "left45": 1, "right45": 2}

        def q(s):
            self._get(s, SessionRow, session_id, "session")
            rows = [_photo(r) for r in s.scalars(sa.select(PhotoRow).where(PhotoRow.session_id == session_id))]
            return sorted(rows, key=lambda p: (order.get(p.view, 3), p.view, p.id))

        return self._read(q)

    def get_photo(self, photo_id: int) -> PhotoRec:
        return self._read(lambda s: _photo(self._get(s, PhotoRow, photo_id, "photo")))

    def photo_original_bytes(self, photo_id: int) -> bytes:
        """The uploaded file, byte for byte (its sha256 is checked)."""
        rec = self.get_photo(photo_id)
        data = self.files.read(rec.storage_key)
        if hashlib.sha256(data).hexdigest() != rec.sha256:
            raise StoreError(f"photo file {rec.storage_key} is damaged (checksum mismatch)")
        return data

    def photo_display_bytes(self, photo_id: int) -> bytes:
        """A JPEG for display (<= 2048 px, no EXIF/GPS); rebuilt from the original if lost."""
        rec = self.get_photo(photo_id)
        key = derived_key(rec.sha256)
        try:
            return self.files.read(key)
        except StoreError:
            photo = load_photo(self.photo_original_bytes(photo_id), name=rec.filename)
            data = display_jpeg(photo.rgb)
            with self.files.shared_lock():
                self.files.put(key, data)
            return data

    def load_photo(self, photo_id: int) -> Photo:
        """The photo decoded from its original (upright sRGB float32, see analyzer.io)."""
        rec = self.get_photo(photo_id)
        return load_photo(self.photo_original_bytes(photo_id), name=rec.filename)

    def set_reference_patch(self, photo_id: int, patch: dict | None) -> PhotoRec:
        """Mark (or, with ``None``, clear) the photo's neutral reference patch for colour
        calibration: ``{"x", "y", "w", "h"}`` in the photo's own upright pixels, inside the
        photo, with a positive size (:class:`InvalidInput` otherwise; nothing is written).

        A change drops every stored analysis that used the photo (its own, and those of the
        follow-ups compared against it as their baseline), so the numbers are recomputed with
        the new calibration; setting the same patch again changes nothing.
        """
        def tx(s):
            row = self._get(s, PhotoRow, photo_id, "photo")
            new = v.reference_patch(patch, width=row.width, height=row.height)
            if (row.reference_patch or None) == new:
                return _photo(row)
            s.execute(sa.delete(AnalysisRow).where(sa.or_(
                AnalysisRow.photo_id == row.id, AnalysisRow.baseline_photo_id == row.id)))
            row.reference_patch = new
            s.flush()
            return _photo(row)

        return self._write(tx)


    def set_capture_conditions(self, photo_id: int, conditions) -> PhotoRec:
        """Record how the photo was taken (see :mod:`analyzer.conditions`; ``None`` clears).
        Invalid conditions raise :class:`InvalidInput`; nothing is written. The numbers don't
        depend on them, so no analysis is dropped."""
        from analyzer.conditions import conditions_from
        from analyzer.errors import UsageError

        try:
            c = conditions_from(conditions)
        except UsageError as exc:
            raise InvalidInput(str(exc)) from None
        new = c.to_dict() if c is not None else None

        def tx(s):
            row = self._get(s, PhotoRow, photo_id, "photo")
            row.capture_conditions = new
            s.flush()
            return _photo(row)

        return self._write(tx)


    def set_prekeep_check(self, photo_id: int, check: dict | None) -> PhotoRec:
        """Record the verdict of the check before keeping (``analyzer.precheck.Precheck.summary()``,
        a small JSON-able dict; ``None`` clears). Not an analysis: nothing is dropped."""
        if check is not None and not (isinstance(check, dict) and isinstance(check.get("ok"), bool)
                                      and isinstance(check.get("verdict"), str)):
            raise InvalidInput("the check before keeping must be a dict with ok and verdict")

        def tx(s):
            row = self._get(s, PhotoRow, photo_id, "photo")
            row.prekeep_check = dict(check) if check is not None else None
            s.flush()
            return _photo(row)

        return self._write(tx)

    def clear_reference_patch(self, photo_id: int) -> PhotoRec:
        """Remove the photo's reference patch (see :meth:`set_reference_patch`)."""
        return self.set_reference_patch(photo_id, None)

    def delete_photo(self, photo_id: int) -> None:
        """Delete one photo with its analyses (and its files, unless another row uses them)."""

        def tx(s):
            row = self._get(s, PhotoRow, photo_id, "photo")
            s.execute(sa.update(AnalysisRow).where(AnalysisRow.baseline_photo_id == photo_id)
                      .values(baseline_photo_id=None))
            s.execute(sa.delete(AnalysisRow).where(AnalysisRow.photo_id == photo_id))
            sha = row.sha256
            s.delete(row)
            return [sha]

        self._remove_files_of(self._write(tx))


    # ---- analyses ----------------------------------------------------------------------
    def save_analysis(
        self,
        photo_id: int,
        *,
        baseline_photo_id: int | None,
        transform: list | None,
        result: dict,
        analyzer_version: str,
        region: str = "",
    ) -> AnalysisRec:
        """Store the analysis of a photo for (analyzer_version, region), replacing an
        earlier result with the same key. Other versions' results are kept. ``result``
        must be JSON without NaN (use null)."""
        version = v.analyzer_version(analyzer_version)
        region = v.region_name(region)
        photo_id = v.row_id(photo_id, "photo")
        baseline_photo_id = v.opt_row_id(baseline_photo_id, "baseline photo")
        result = v.json_value(result, "analysis result", kind=dict, allow_none=False)
        transform = v.json_value(transform, "transform", kind=(list, dict))

        def tx(s):
            photo = self._get(s, PhotoRow, photo_id, "photo")
            if baseline_photo_id is not None:
                base = self._get(s, PhotoRow, baseline_photo_id, "baseline photo")
                if self._patient_of_photo(s, base) != self._patient_of_photo(s, photo):
                    raise InvalidInput("the baseline photo belongs to another patient")
            row = s.scalar(sa.select(AnalysisRow).where(
                AnalysisRow.photo_id == photo_id, AnalysisRow.analyzer_version == version,
                AnalysisRow.region == region))
            if row is None:
                row = AnalysisRow(photo_id=photo_id, analyzer_version=version, region=region)
                s.add(row)
            row.baseline_photo_id = baseline_photo_id
            row.transform = transform
            row.result = result
            row.created_at = utcnow()
            s.flush()
            return _analysis(row)

        return self._write_unique(tx, "that analysis was saved at the same moment by another process")

    @staticmethod
    def _patient_of_photo(s: OrmSession, photo: PhotoRow) -> int:
        return s.scalar(
            sa.select(SeriesRow.patient_id).join(SessionRow, SessionRow.series_id == SeriesRow.id)
            .where(SessionRow.id == photo.session_id))

    def get_analysis(self, photo_id: int, *, analyzer_version: str, region: str = "") -> AnalysisRec | None:
        photo_id = v.row_id(photo_id, "photo")
        analyzer_version = v.analyzer_version(analyzer_version)
        region = v.region_name(region)

        def q(s):
            row = s.scalar(sa.select(AnalysisRow).where(
                AnalysisRow.photo_id == photo_id, AnalysisRow.analyzer_version == analyzer_version,
                AnalysisRow.region == (region or "")))
            return _analysis(row) if row is not None else None

        return self._read(q)

    def analyses_for_series(self, series_id: int, *, analyzer_version: str) -> list[AnalysisRec]:
        """Every analysis of one analyzer version for the series' photos, ordered by
        session date, session id, view, region. Never mixes versions."""

        analyzer_version = v.analyzer_version(analyzer_version)

        def q(s):
            self._get(s, SeriesRow, series_id, "series")
            rows = s.scalars(
                sa.select(AnalysisRow)
                .join(PhotoRow, PhotoRow.id == AnalysisRow.photo_id)
                .join(SessionRow, SessionRow.id == PhotoRow.session_id)
                .where(SessionRow.series_id == series_id, AnalysisRow.analyzer_version == analyzer_version)
                .order_by(SessionRow.date, SessionRow.id, PhotoRow.view, AnalysisRow.region, AnalysisRow.id))
            return [_analysis(r) for r in rows]

        return self._read(q)

    def analyzer_versions(self, series_id: int) -> list[str]:
        """The analyzer versions with results in this series, oldest version first."""

        def q(s):
            self._get(s, SeriesRow, series_id, "series")
            return list(s.scalars(
                sa.select(AnalysisRow.analyzer_version).distinct()
                .join(PhotoRow, PhotoRow.id == AnalysisRow.photo_id)
                .join(SessionRow, SessionRow.id == PhotoRow.session_id)
                .where(SessionRow.series_id == series_id)))

        return sorted(self._read(q), key=_version_key)
