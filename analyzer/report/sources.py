"""Where a report's data comes from: the store (:func:`report_data_from_store`) or a batch
run's ``results.json`` (:func:`report_data_from_batch_json`)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from analyzer import __version__
from analyzer.consent import require_consent
from analyzer.errors import UsageError
from analyzer.manifest import read_manifest
from analyzer.report.data import ReportData, ViewImages
from analyzer.report.pdf import build_report

if TYPE_CHECKING:
    from analyzer.store import Store

# --------------------------------------------------------------------------- sources


def _warp_into(baseline_shape: tuple[int, int], followup_rgb: np.ndarray, matrix) -> np.ndarray | None:
    """The follow-up warped into the baseline frame with a stored 3x3 matrix (follow-up xy → baseline xy)."""
    import cv2

    if matrix is None:
        return None
    if isinstance(matrix, Mapping):
        matrix = matrix.get("matrix")
        if matrix is None:
            return None
    m = np.asarray(matrix, np.float64)
    if m.shape == (2, 3):
        m = np.vstack([m, [0, 0, 1]])
    if m.shape != (3, 3) or not np.all(np.isfinite(m)):
        return None
    h, w = baseline_shape
    src = np.asarray(followup_rgb)
    return cv2.warpPerspective(src, m, (int(w), int(h)), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def _small(img: np.ndarray, poly, side: int = 1000):
    import cv2

    h, w = img.shape[:2]
    s = min(1.0, side / max(h, w))
    if s < 1:
        img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    p = None if poly is None else np.asarray(poly, np.float64) * s
    return img, p


def _view_images(view, baseline_rgb, latest_rgb, transform, polygon, b_label, l_label, alignment, note=""):
    from analyzer.io import to_uint8

    b8 = to_uint8(baseline_rgb) if baseline_rgb.dtype != np.uint8 else baseline_rgb
    latest = None
    if latest_rgb is not None and (alignment is None or alignment.get("ok", True)):
        l8 = to_uint8(latest_rgb) if latest_rgb.dtype != np.uint8 else latest_rgb
        latest = _warp_into(b8.shape[:2], l8, transform)
        if latest is None:
            note = note or "The latest photo's alignment was not stored; it is not shown."
    elif latest_rgb is not None:
        note = note or "The latest photo could not be aligned: " + str(alignment.get("reason") or "refused")
    b_small, p = _small(b8, polygon)
    l_small = None if latest is None else _small(latest, None)[0]
    return ViewImages(view, b_small, l_small, p, b_label, l_label, alignment, note)


def _marked(store: Store, photo_id: int, rgb: np.ndarray) -> np.ndarray:
    """The photo with its practitioner's annotations drawn (a copy; the analysis never sees it)."""
    marks = store.list_annotations(photo_id)
    if not marks:
        return rgb
    from analyzer.render import draw_annotations

    return draw_annotations(rgb, marks)


def report_data_from_store(store: Store, patient_id, series_id=None, *, analyzer_version: str = __version__,
                           audience: str = "patient") -> ReportData:
    """Collect a series' :class:`ReportData` from the store (default series: the newest).

    ``audience="practitioner"`` adds the clinician-only sections (:func:`clinician_sections`).
    Both copies carry the clinic's branding (:func:`analyzer.config.clinic_branding`) and the
    photos' annotations."""
    from analyzer.export import rows_from_store
    from analyzer.stored import date_text as _date_text
    from analyzer.stored import ordered_sessions as _ordered_sessions

    patient = store.get_patient(patient_id)
    if series_id is None:
        all_series = list(store.list_series(patient_id))
        if not all_series:
            raise UsageError(f"patient {patient.code} has no treatment series")
        series = sorted(all_series, key=lambda s: (str(getattr(s, "created_at", "") or ""), s.id))[-1]
    else:
        series = store.get_series(series_id)
    rows = rows_from_store(store, patient_id, series_id=series.id, analyzer_version=analyzer_version)
    sessions = _ordered_sessions(store, series.id)
    analyses = {}
    for a in sorted(store.analyses_for_series(series.id, analyzer_version=analyzer_version),
                    key=lambda a: (str(a.created_at), a.id)):
        analyses[a.photo_id] = a
    by_view: dict[str, list] = {}
    for s in sessions:
        for p in store.list_photos(s.id):
            by_view.setdefault(p.view, []).append((s, p))
    views = []
    for view, items in by_view.items():
        bs, bp = items[0]
        follow = [(s, p) for s, p in items[1:] if p.id in analyses and analyses[p.id].baseline_photo_id not in (None, p.id)]
        base_rgb = _marked(store, bp.id, store.load_photo(bp.id).rgb)
        polygon = None
        own = analyses.get(bp.id)
        if own is not None:
            polygon = _region_polygon(own.result)
        if not follow:
            views.append(_view_images(view, base_rgb, None, None, polygon, _date_text(bs.date), "", None))
            continue
        ok = [(s, p) for s, p in follow if ((analyses[p.id].result or {}).get("alignment") or {}).get("ok")]
        ls, lp = ok[-1] if ok else follow[-1]
        note = ""
        if ok and ok[-1][1].id != follow[-1][1].id:
            why = ((analyses[follow[-1][1].id].result or {}).get("alignment") or {}).get("reason") or "refused"
            note = (f"The latest photo ({_date_text(follow[-1][0].date)}) could not be aligned to the baseline: "
                    f"{why}. Shown: the latest photo that could ({_date_text(ls.date)}).")
        a = analyses[lp.id]
        poly = _region_polygon(a.result)
        if poly is not None:
            polygon = poly
        latest_rgb = _marked(store, lp.id, store.load_photo(lp.id).rgb)
        align = a.result.get("alignment") if isinstance(a.result, Mapping) else None
        transform = a.transform
        if transform is None and align:
            transform = align.get("matrix")
        views.append(_view_images(view, base_rgb, latest_rgb, transform, polygon,
                                  _date_text(bs.date), _date_text(ls.date), align, note))
    dates = tuple(_date_text(s.date) for s in sessions)
    from analyzer.config import clinic_branding

    brand = clinic_branding(store.data_dir)
    return ReportData(
        audience=audience,
        clinic_name=brand.name,
        clinic_address=brand.address,
        clinic_logo=str(brand.logo) if brand.logo else None,
        clinician=clinician_sections(store, patient, sessions, analyses, series_id=series.id,
                                      analyzer_version=analyzer_version) if audience == "practitioner" else (),
        patient_code=patient.code,
        patient_name=getattr(patient, "display_name", "") or "",
        body_area=getattr(series, "body_area", "") or "",
        series_name=getattr(series, "name", "") or str(series.id),
        dates=dates,
        views=tuple(views),
        rows=tuple(rows),
        analyzer_version=analyzer_version,
    )


def _region_polygon(result: Mapping[str, Any] | None):
    if not isinstance(result, Mapping):
        return None
    regions = result.get("regions")
    if isinstance(regions, Mapping) and regions:
        name = result.get("region") or next(iter(regions))
        poly = (regions.get(name) or next(iter(regions.values()))).get("polygon")
    else:
        poly = result.get("polygon")
    if poly is None:
        return None
    arr = np.asarray(poly, np.float64)
    return arr if arr.ndim == 2 and arr.shape[1] == 2 and len(arr) >= 3 else None


def report_from_store(store: Store, patient_id, series_id=None, *, analyzer_version: str = __version__) -> bytes:
    """The PDF report of a patient's series from the store (default series: the newest).

    Refused (one-line UsageError) when the patient gave no consent to reports.
    """
    require_consent(store, patient_id, "reports")
    return build_report(report_data_from_store(store, patient_id, series_id, analyzer_version=analyzer_version))


def report_data_from_batch_json(path: str | os.PathLike, *, patient_code: str | None = None) -> ReportData:
    """Rebuild a batch run's :class:`ReportData` from its ``results.json`` (photos re-read from the source folder)."""
    from analyzer.errors import PhotoError
    from analyzer.io import load_photo

    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"report: batch results not found: {p}") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"report: {p} is not a batch results JSON ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or "rows" not in doc or "photos" not in doc:
        raise UsageError(f"report: {p} is not a batch results JSON (no rows/photos)")
    rows = tuple(doc["rows"])
    folder = Path((doc.get("source") or {}).get("folder") or p.parent)
    sessions = (doc.get("source") or {}).get("sessions") or []
    photos = doc["photos"]
    views: list[ViewImages] = []
    notes: list[str] = []
    for view in dict.fromkeys(ph["view"] for ph in photos):
        items = sorted((ph for ph in photos if ph["view"] == view), key=lambda ph: ph["session_index"])
        base = items[0]
        follow = items[1:]
        aligned = [ph for ph in follow if (ph.get("alignment") or {}).get("ok") and ph.get("transform")]
        last = aligned[-1] if aligned else (follow[-1] if follow else None)
        note = ""
        if follow and last is not None and last.get("file") != follow[-1].get("file"):
            why = (follow[-1].get("alignment") or {}).get("reason") or "refused"
            note = (f"The latest photo ({follow[-1]['session_date']}) could not be aligned to the baseline: {why}. "
                    f"Shown: the latest photo that could ({last['session_date']}).")
        try:
            b = load_photo(folder / base["file"])
        except PhotoError as exc:
            notes.append(f"View {view}: images not shown ({exc}).")
            continue
        latest_rgb = None
        if last is not None:
            try:
                latest_rgb = load_photo(folder / last["file"]).rgb
            except PhotoError as exc:
                notes.append(f"View {view}: latest image not shown ({exc}).")
        poly = (last or base).get("polygon") or base.get("polygon")
        views.append(_view_images(
            view, b.rgb, latest_rgb, (last or {}).get("transform"), None if poly is None else np.asarray(poly, float),
            base["session_date"], (last or {}).get("session_date", ""), (last or {}).get("alignment"), note,
        ))
    failures = tuple(f"FAILED {f['file']}: {f['error']}" for f in doc.get("failures") or [])
    code = patient_code or (rows[0]["patient_code"] if rows else folder.name)
    manifest, _ = read_manifest(folder) if folder.is_dir() else ({}, [])
    return ReportData(
        patient_code=code,
        patient_name=manifest.get("patient_name", ""),
        body_area=manifest.get("body_area", ""),
        series_name=rows[0]["series"] if rows else folder.name,
        dates=tuple(s.get("date") or s.get("name") for s in sessions),
        views=tuple(views),
        rows=rows,
        caveats=tuple(notes),
        failures=failures,
        analyzer_version=str(doc.get("analyzer_version") or __version__),
    )


def _flags(d: Mapping[str, Any] | None) -> list[str]:
    out = []
    for k, v in (d or {}).items():
        if v in (None, "", [], {}, False):
            continue
        out.append(f"{str(k).replace('_', ' ')}: {v if not isinstance(v, list | tuple) else ', '.join(map(str, v))}")
    return out


def clinician_sections(store: Store, patient, sessions, analyses, *, series_id: int | None = None,
                       analyzer_version: str = __version__) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The practitioner's copy's extra sections: the series verdict per concern measure (with
    ``series_id``), treatment parameters per session, alignment and calibration details per
    photo, caveats per photo, screening flags."""
    from analyzer.stored import caveats_from_result, date_text, simulated_note, treatment_text

    treat, align, cav, flags = [], [], [], []
    flags += [f"patient: {f}" for f in _flags(patient.screening)]
    for s in sessions:
        bits = [date_text(s.date), s.kind, treatment_text(s) or "no treatment parameters recorded"]
        if getattr(s, "scar_grade", None):
            bits.append(f"scar grade {s.scar_grade} (Goodman & Baron)")
        if s.practitioner:
            bits.append(f"by {s.practitioner}")
        sim = simulated_note(s)
        if sim:
            bits.append(f"SIMULATED: {sim}")
        treat.append(" · ".join(bits))
        flags += [f"{date_text(s.date)}: {f}" for f in _flags(getattr(s, "screening", None))]
        for p in store.list_photos(s.id):
            a = analyses.get(p.id)
            where = f"{date_text(s.date)}, {p.view}"
            if a is None:
                align.append(f"{where}: not analysed with this analyzer version")
                continue
            res = a.result if isinstance(a.result, Mapping) else {}
            al = res.get("alignment") or {}
            if a.baseline_photo_id in (None, p.id) or res.get("is_baseline"):
                line = f"{where}: baseline (its own reference)"
            else:
                conf, resid, ov = al.get("confidence"), al.get("residual_px"), al.get("overlap")
                line = (f"{where}: alignment {'accepted' if al.get('ok') else 'REFUSED'} · method {al.get('method') or '-'}"
                        + (f" · confidence {conf:.2f}" if isinstance(conf, int | float) else "")
                        + (f" · residual {resid:.1f} px" if isinstance(resid, int | float) else "")
                        + (f" · overlap {ov:.0%}" if isinstance(ov, int | float) else "")
                        + (f" · reason: {al.get('reason')}" if al.get("reason") else ""))
            cals = []
            for name, rr in (res.get("regions") or {}).items():
                for side in ("baseline", "followup"):
                    c = ((rr or {}).get(side) or {}).get("calibration") or {}
                    if c:
                        de = c.get("residual_delta_e2000")
                        cals.append(f"{name} {side}: {c.get('method', 'none')}"
                                    + (f" (ΔE {de:.1f})" if isinstance(de, int | float) else ""))
            if p.reference_patch:
                cals.append(f"reference patch marked at {p.reference_patch}")
            align.append(line + ("; colour calibration: " + ", ".join(dict.fromkeys(cals)) if cals else ""))
            for c in caveats_from_result(res):
                cav.append(f"{where}: {c.message} Remedy: {c.remedy_text}")
    verdicts: tuple[str, ...] = ()
    if series_id is not None:
        from analyzer.rows import series_verdict_rows

        verdicts = tuple(
            f"{v['measure']}: {v['text']}"
            + (f" · change per session {v['change_per_session']}" if v["change_per_session"] not in ("", "—") else "")
            + f" · {v['used']} session(s) used" + (f", {v['left_out']} left out ({v['left_out_reasons']})"
                                                   if v["left_out"] else "")
            for v in series_verdict_rows(store, series_id, analyzer_version=analyzer_version))
    return (("Series verdict per concern measure (not advice for the patient)",
             verdicts or ("no concern measure with enough comparable sessions",)),
            ("Treatment parameters per session", tuple(treat)),
            ("Alignment and calibration", tuple(align)),
            ("Caveats", tuple(cav) or ("no caveat recorded",)),
            ("Screening flags", tuple(flags) or ("no screening flag recorded",)))


def practitioner_report_from_store(store: Store, patient_id, series_id=None, *,
                                   analyzer_version: str = __version__) -> bytes:
    """The practitioner's copy: the patient's report plus :func:`clinician_sections`."""
    require_consent(store, patient_id, "reports")
    return build_report(report_data_from_store(store, patient_id, series_id, analyzer_version=analyzer_version,
                                               audience="practitioner"))
