"""The patient scope: the store and the use cases as a signed-in principal may use them.

Every read goes through :func:`analyzer.auth.authorize`; ids of series, sessions and photos
are traced to their patient first. The exports (PDF, CSV, archive) are audited. A
practitioner's scope is their clinic: another clinic's patients are neither listed nor
reachable by id (the same refusal as a patient that does not exist).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from analyzer import export, report
from analyzer.auth import (
    DENIED,
    AccessDenied,
    Principal,
    authorize,
    clinic_of,
    may_see_originals,
    record_audit,
)
from analyzer.rows import progress_table
from analyzer.store.errors import NotFound

if TYPE_CHECKING:
    from analyzer.store import Store


class PatientScope:
    """The store and service as ``principal`` may use them: every call checks :func:`authorize`.

    Ids of series, sessions and photos are traced to their patient first, so a guessed or
    tampered id of another patient's record raises :class:`AccessDenied` like a patient id.
    """

    def __init__(self, store: Store, principal: Principal):
        if principal is None:
            raise AccessDenied("not signed in")
        self.store = store
        self.principal = principal

    # -- ownership
    def check(self, patient_id: Any) -> int:
        return authorize(self.principal, patient_id, self.store)

    def _series_patient(self, series_id: Any) -> int:
        if isinstance(series_id, bool) or not isinstance(series_id, int):
            raise AccessDenied(DENIED)
        try:
            return self.store.get_series(series_id).patient_id
        except NotFound:
            raise AccessDenied(DENIED) from None

    def _session_series(self, session_id: Any) -> int:
        if isinstance(session_id, bool) or not isinstance(session_id, int):
            raise AccessDenied(DENIED)
        try:
            return self.store.get_session(session_id).series_id
        except NotFound:
            raise AccessDenied(DENIED) from None

    def _photo(self, photo_id: Any):
        if isinstance(photo_id, bool) or not isinstance(photo_id, int):
            raise AccessDenied(DENIED)
        try:
            rec = self.store.get_photo(photo_id)
        except NotFound:
            raise AccessDenied(DENIED) from None
        self.check(self._series_patient(self._session_series(rec.session_id)))
        return rec

    def check_series(self, series_id: Any) -> int:
        self.check(self._series_patient(series_id))
        return series_id

    def check_session(self, session_id: Any) -> int:
        self.check_series(self._session_series(session_id))
        return session_id

    def check_photo(self, photo_id: Any) -> int:
        self._photo(photo_id)
        return photo_id

    @property
    def clinic_id(self) -> int | None:
        """A practitioner's clinic (where their new patients go); None for anyone else."""
        return clinic_of(self.store, self.principal) if self.principal.is_practitioner else None

    # -- reads
    def patients(self, search: str = "") -> list:
        """The patients this principal may see (a practitioner: their clinic's)."""
        if self.principal.is_practitioner:
            return self.store.list_patients(search, clinic_id=self.clinic_id)
        pats = self.store.list_patients(search)
        if self.principal.is_patient:
            return [p for p in pats if p.id == self.principal.patient_id]
        return [p for p in pats if p.is_demo]

    def patient(self, patient_id: Any):
        try:
            return self.store.get_patient(self.check(patient_id))
        except NotFound:
            raise AccessDenied(DENIED) from None

    def series_of(self, patient_id: Any) -> list:
        return self.store.list_series(self.check(patient_id))

    def series(self, series_id: Any):
        return self.store.get_series(self.check_series(series_id))

    def sessions(self, series_id: Any) -> list:
        return self.store.list_sessions(self.check_series(series_id))

    def photos(self, session_id: Any) -> list:
        return self.store.list_photos(self.check_session(session_id))

    def photo(self, photo_id: Any):
        return self._photo(photo_id)

    def photo_display_bytes(self, photo_id: Any) -> bytes:
        """The display JPEG (no EXIF, no GPS)."""
        return self.store.photo_display_bytes(self.check_photo(photo_id))

    def photo_original_bytes(self, photo_id: Any) -> bytes:
        """The original upload: practitioners only."""
        if not may_see_originals(self.principal):
            raise AccessDenied("original photos are for practitioners only")
        rec = self._photo(photo_id)  # authorized
        pid = self._series_patient(self._session_series(rec.session_id))
        data = self.store.photo_original_bytes(rec.id)
        self.audit("read.original", pid, detail=f"photo {photo_id}")  # every read is on record
        return data

    def progress_table(self, series_id: Any, **kw) -> list[dict]:
        return progress_table(self.store, self.check_series(series_id), **kw)

    def analyses_for_series(self, series_id: Any, **kw) -> list:
        return self.store.analyses_for_series(self.check_series(series_id), **kw)

    # -- audited exports
    def report_pdf(self, patient_id: Any, series_id: Any = None, **kw) -> bytes:
        """The PDF report (audited as ``export.report``)."""
        pid = self.check(patient_id)
        if series_id is not None and self._series_patient(series_id) != pid:
            raise AccessDenied(DENIED)
        data = report.report_from_store(self.store, pid, series_id, **kw)
        self.audit("export.report", pid, detail=f"series {series_id}" if series_id else "")
        return data

    def csv_export(self, series_id: Any, **kw) -> str:
        """The tidy CSV of a series (audited as ``export.csv``)."""
        pid = self.check(self._series_patient(series_id))
        text = export.rows_to_csv(export.rows_from_store(self.store, pid, series_id=series_id, **kw))
        self.audit("export.csv", pid, detail=f"series {series_id}")
        return text

    def patient_archive(self, patient_id: Any, out) -> None:
        """The patient's whole record with the ORIGINAL photos (camera metadata, GPS included):
        practitioners only (audited as ``export.archive``)."""
        if not may_see_originals(self.principal):
            raise AccessDenied("the patient archive holds the original photos: practitioners only")
        pid = self.check(patient_id)
        self.store.export_patient(pid, out)
        self.audit("export.archive", pid)

    def audit(self, action: str, patient_id: int | None, detail: str = "") -> None:
        record_audit(self.store, self.principal, action, patient_id, detail=detail)


def scope(store: Store, principal: Principal) -> PatientScope:
    return PatientScope(store, principal)
