"""Patient, series and session use cases: open the store, create a patient with a series, add
sessions and photos, choose the regions a series is measured on, the PDF report."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer import ANALYZER_VERSION
from analyzer.catalog import DEFAULT_REGION
from analyzer.config import store_location
from analyzer.consent import require_consent
from analyzer.errors import PhotoError, UsageError
from analyzer.stored import (
    region_to_roi,
    region_to_roi_name,
)

if TYPE_CHECKING:
    from analyzer.store import Store


def open_store(*, url: str | None = None, data_dir: str | os.PathLike | None = None):
    """Open the store at :func:`store_location` (creating the SQLite file on first use)."""
    from analyzer.store import Store

    loc = store_location(url=url, data_dir=data_dir)
    loc.data_dir.mkdir(parents=True, exist_ok=True)
    return Store(url=loc.database_url, data_dir=loc.data_dir)


def check_database(url: str, data_dir: str | os.PathLike) -> str:
    """Open the database at ``url`` as the app would (connect, bring its tables up to date) and
    close it again: a URL is saved only once this works. Returns its description (no password);
    raises a one-line SkinProgressError when it can't be opened."""
    from analyzer.store import Store

    st = Store(url=url, data_dir=Path(data_dir), new_database_ok=True)  # chosen on purpose
    try:
        return st.describe()
    finally:
        st.close()


def add_region(store: Store, series_id: int, spec: Mapping[str, Any]) -> str:
    """Add (or replace, by name) a region of the series; returns its name. Nothing is analysed here."""
    name, _ = region_to_roi(spec)
    if name == DEFAULT_REGION:
        return name
    series = store.get_series(series_id)
    keep = [r for r in (series.regions or []) if region_to_roi_name(r) != name]
    store.set_regions(series_id, keep + [dict(spec, name=name)])
    return name


def remove_region(store: Store, series_id: int, name: str) -> None:
    """Stop measuring a region (its stored analyses stay in the database)."""
    series = store.get_series(series_id)
    store.set_regions(series_id, [r for r in (series.regions or []) if region_to_roi_name(r) != name])


def create_patient_with_series(store: Store, *, code: str, display_name: str, body_area: str = "face",
                               concerns: Iterable[str] = (), series_name: str = "", **patient_fields):
    """Create a patient and their first treatment series; both or neither (returns both records)."""
    from analyzer.store import StoreError

    code = (code or "").strip()
    display_name = (display_name or "").strip()
    if not code:
        raise UsageError("the patient code is empty; give a short code such as P-0042")
    if not display_name:
        raise UsageError("the display name is empty")
    patient = store.create_patient(code, display_name, **patient_fields)
    try:
        series = store.create_series(patient.id, body_area=body_area, concerns=list(concerns),
                                     name=series_name or "")
    except StoreError:
        store.delete_patient(patient.id)
        raise
    return patient, series


def _patient_of_session(store: Store, session_id: int) -> int:
    return store.get_series(store.get_session(session_id).series_id).patient_id


def add_session_with_photos(store: Store, series_id: int, *, date, photos: Iterable[tuple[str, bytes, str]] = (),
                            **session_fields):
    """Add a session, then its photos ``(view, data, filename)``.

    Returns ``(session, added photo records, errors)``. A photo that can't be used is reported
    in ``errors`` (one line each) and nothing is stored for it; the session itself is kept.
    The first session of a series becomes its baseline. Photos of a patient without photo
    consent are refused before anything is stored (UsageError).
    """
    photos = list(photos)
    if photos:
        require_consent(store, store.get_series(series_id).patient_id, "photos")
    rec = store.add_session(series_id, date=date, **session_fields)
    if store.get_series(series_id).baseline_session_id is None:
        store.set_baseline_session(series_id, rec.id)
    added, errors = add_photos(store, rec.id, photos)
    return rec, added, errors


def assign_views(filenames: Sequence[str], chosen: str, views: Sequence[str]) -> list[str]:
    """The view of each uploaded file, in order. One file: ``chosen``. Several: a file whose name
    names a view ("…left45…") gets it; the others get ``chosen`` first, then the remaining
    ``views`` in their order.

    >>> assign_views(["a.jpg", "b.jpg"], "left45", ["front", "left45", "right45"])
    ['left45', 'front']
    >>> assign_views(["x_right45.jpg", "y.jpg"], "front", ["front", "left45", "right45"])
    ['right45', 'front']
    """
    if len(filenames) == 1:
        return [chosen]
    named: list[str | None] = []
    for name in filenames:
        low = name.lower()
        hit = next((v for v in sorted(views, key=len, reverse=True) if v.lower() in low), None)
        named.append(hit if hit not in named else None)
    free = [v for v in [chosen, *views] if v not in named]
    free = list(dict.fromkeys(free))
    out = []
    for n in named:
        out.append(n if n is not None else (free.pop(0) if free else chosen))
    return out


def add_photos(store: Store, session_id: int, photos: Iterable[tuple[str, bytes, str]], *, replace: bool = False):
    """Store uploaded photos ``(view, data, filename)``: returns (added records, one-line errors).

    Refused as a whole (UsageError, nothing stored) when the patient gave no photo consent.
    """
    from analyzer.store import StoreError

    photos = list(photos)
    if photos:
        require_consent(store, _patient_of_session(store, session_id), "photos")
    added, errors = [], []
    for view, data, filename in photos:
        try:
            added.append(store.add_photo(session_id, view=view, data=data, filename=filename, replace=replace))
        except (PhotoError, StoreError) as exc:
            errors.append(str(exc))
    return added, errors


def patient_report_pdf(store: Store, patient_id: int, series_id: int, *,
                       analyzer_version: str = ANALYZER_VERSION) -> bytes:
    """The PDF progress report of one patient's series (analyzer.report)."""
    from analyzer.report import report_from_store

    series = store.get_series(series_id)
    if series.patient_id != patient_id:
        raise UsageError("that series belongs to another patient")
    require_consent(store, patient_id, "reports")
    return report_from_store(store, patient_id, series_id, analyzer_version=analyzer_version)
