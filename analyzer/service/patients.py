"""Patient, series and session use cases: open the store, create a patient with a series, add
sessions and photos, choose the regions a series is measured on, the PDF report."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from analyzer import ANALYZER_VERSION
from analyzer.catalog import DEFAULT_REGION
from analyzer.config import store_location
from analyzer.errors import PhotoError, UsageError
from analyzer.stored import (
    region_to_roi,
    region_to_roi_name,
)


def open_store(*, url: str | None = None, data_dir: str | os.PathLike | None = None):
    """Open the store at :func:`store_location` (creating the SQLite file on first use)."""
    from analyzer.store import Store

    loc = store_location(url=url, data_dir=data_dir)
    loc.data_dir.mkdir(parents=True, exist_ok=True)
    return Store(url=loc.database_url, data_dir=loc.data_dir)


def add_region(store, series_id: int, spec: Mapping[str, Any]) -> str:
    """Add (or replace, by name) a region of the series; returns its name. Nothing is analysed here."""
    name, _ = region_to_roi(spec)
    if name == DEFAULT_REGION:
        return name
    series = store.get_series(series_id)
    keep = [r for r in (series.regions or []) if region_to_roi_name(r) != name]
    store.set_regions(series_id, keep + [dict(spec, name=name)])
    return name


def remove_region(store, series_id: int, name: str) -> None:
    """Stop measuring a region (its stored analyses stay in the database)."""
    series = store.get_series(series_id)
    store.set_regions(series_id, [r for r in (series.regions or []) if region_to_roi_name(r) != name])


def create_patient_with_series(store, *, code: str, display_name: str, body_area: str = "face",
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


def add_session_with_photos(store, series_id: int, *, date, photos: Iterable[tuple[str, bytes, str]] = (),
                            **session_fields):
    """Add a session, then its photos ``(view, data, filename)``.

    Returns ``(session, added photo records, errors)``. A photo that can't be used is reported
    in ``errors`` (one line each) and nothing is stored for it; the session itself is kept.
    The first session of a series becomes its baseline.
    """
    rec = store.add_session(series_id, date=date, **session_fields)
    if store.get_series(series_id).baseline_session_id is None:
        store.set_baseline_session(series_id, rec.id)
    added, errors = add_photos(store, rec.id, photos)
    return rec, added, errors


def add_photos(store, session_id: int, photos: Iterable[tuple[str, bytes, str]]):
    """Store uploaded photos ``(view, data, filename)``: returns (added records, one-line errors)."""
    from analyzer.store import StoreError

    added, errors = [], []
    for view, data, filename in photos:
        try:
            added.append(store.add_photo(session_id, view=view, data=data, filename=filename))
        except (PhotoError, StoreError) as exc:
            errors.append(str(exc))
    return added, errors


def patient_report_pdf(store, patient_id: int, series_id: int, *,
                       analyzer_version: str = ANALYZER_VERSION) -> bytes:
    """The PDF progress report of one patient's series (analyzer.report)."""
    from analyzer.report import report_from_store

    series = store.get_series(series_id)
    if series.patient_id != patient_id:
        raise UsageError("that series belongs to another patient")
    return report_from_store(store, patient_id, series_id, analyzer_version=analyzer_version)
