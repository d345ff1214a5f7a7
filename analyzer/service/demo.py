"""The demo patient: seeded from ``sample_images/series.json`` when the database has no
patients, and analysed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from analyzer.catalog import DEFAULT_REGION
from analyzer.config import demo_dir
from analyzer.manifest import load_manifest, session_date, session_photos, simulated_text
from analyzer.service.analysis import Progress, analyze_series
from analyzer.stored import (
    SIMULATED_TAG,
    region_to_roi_name,
)

if TYPE_CHECKING:
    from analyzer.store import Store


def demo_patient(store: Store):
    """The demo patient, or None."""
    for p in store.list_patients():
        if p.is_demo:
            return p
    return None


def ensure_demo(store: Store, *, sample_dir: str | os.PathLike | None = None, progress: Progress | None = None,
                analyze: bool = True):
    """Seed the demo patient from ``sample_images/series.json`` when the database has no patients.

    Creates the patient (``is_demo=True``), its series, sessions (with treatment parameters; a
    simulated change is recorded in the session notes and shown as "simulated" wherever the
    session appears) and photos, then analyses the series. Returns the demo patient, or None
    when the database already had patients (nothing is touched then) or there is no manifest.
    """
    if store.list_patients():
        return None
    d = Path(sample_dir) if sample_dir else demo_dir()
    if not (d / "series.json").exists():
        return None
    man = load_manifest(d)
    pat = man.get("patient") or {}
    ser = man.get("series") or {}
    sessions = sorted(man.get("sessions") or [], key=lambda s: str(s.get("date")))
    patient = store.create_patient(
        pat.get("code") or "DEMO-001",
        pat.get("display_name") or pat.get("name") or "Demo patient",
        birth_year=pat.get("birth_year"),
        fitzpatrick=pat.get("fitzpatrick"),
        consent_photos=bool(pat.get("consent_photos", True)),
        consent_reports=bool(pat.get("consent_reports", True)),
        notes=pat.get("notes") or "Demo patient seeded from sample_images/ (photos with simulated changes).",
        is_demo=True,
    )
    series = store.create_series(
        patient.id,
        body_area=ser.get("body_area") or "face",
        concerns=list(ser.get("concerns") or []),
        name=ser.get("name") or "Demo series",
        notes=ser.get("notes") or "",
    )
    regions = ser.get("regions") or man.get("regions")
    if regions:
        specs = [({"kind": "named", "name": r} if isinstance(r, str) else dict(r)) for r in regions]
        store.set_regions(series.id, [s for s in specs if region_to_roi_name(s) != DEFAULT_REGION])
    n_photos = sum(len(session_photos(s)) for s in sessions) or 1
    done = 0
    first_id = None
    baseline_id = None
    for s in sessions:
        tr = s.get("treatment") or {}
        sim = simulated_text(s)
        notes = str(s.get("notes") or "")
        if sim:
            notes = (notes + "\n" if notes else "") + f"{SIMULATED_TAG} {sim}"
        rec = store.add_session(
            series.id,
            date=session_date(s["date"]),
            device=tr.get("device") or "",
            needle_depth_mm=tr.get("needle_depth_mm"),
            passes=tr.get("passes"),
            topical=tr.get("topical") or "",
            practitioner=tr.get("practitioner") or "",
            notes=notes,
            kind=s.get("kind") or "treatment",
        )
        if first_id is None:
            first_id = rec.id
        if s.get("baseline"):
            baseline_id = baseline_id or rec.id
        for view, rel in session_photos(s):
            path = d / rel
            if progress:
                progress(0.3 * done / n_photos, f"Adding demo photo {rel}")
            store.add_photo(rec.id, view=view, data=path.read_bytes(), filename=path.name)
            done += 1
    if first_id is not None:
        store.set_baseline_session(series.id, baseline_id or first_id)
    if analyze:
        def sub(f, t):
            if progress:
                progress(0.3 + 0.7 * f, t)

        analyze_series(store, series.id, progress=sub)
    return store.get_patient(patient.id)
