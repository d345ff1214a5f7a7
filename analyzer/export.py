"""Tidy CSV and JSON export: one row per patient, series, session, view, region and metric.

One function, :func:`tidy_rows`, builds the rows from analysis result dicts (the
``Comparison.to_dict()`` / ``PhotoMetrics.to_dict()`` shapes of :mod:`analyzer.pipeline`).
Both the store (:func:`rows_from_store`, used by the app) and the batch command build their
rows through it, so every CSV this project writes has the same columns, in the same order.
Each row's numbers come from :func:`analyzer.stored.metric_cell`, which the progress screen's
rows (:func:`analyzer.rows.progress_table`) are built from too.

Columns (:data:`TIDY_COLUMNS`):

``patient_code, series, session_date, session_index, view, region, group, metric, value,
unit, method, reason, change, percent, noise_band, alignment_ok, calibration_method,
simulated, analyzer_version, within_noise, verdict_reason``

* ``session_index`` numbers the sessions as the app does: 1 is the baseline session, then 2, 3...
* ``metric`` is ``group.key`` (``redness.a_star_mean``); its name carries its parameters. The
  series' concern measures (``acne_scars.*``, ``redness.cheeks_nose.*``...) come with the
  general metrics, as on the progress page.
* ``value`` is empty in CSV / ``null`` in JSON when it could not be computed, and ``reason``
  then says why. It is never 0 for "could not compute".
* ``change`` and ``percent`` are the follow-up minus the baseline measured over the same
  pixels (empty on the baseline session). ``noise_band`` is the session-to-session noise
  of that metric in its own unit (a change inside it is not a measurable change).
* ``simulated`` is true when the photo carries an injected (simulated) change.
* ``within_noise`` is true/false when the change could be told apart from re-photographing
  noise, empty (null) when it can't be told, and ``verdict_reason`` then says why in plain words
  (absolute colour without a colour reference in both photos, a resolution or blur mismatch, a
  refused alignment). Never "improved" or "worse" where it can't be told.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer import __version__
from analyzer.catalog import METRIC_GROUPS
from analyzer.stored import SIMULATED_TAG, calibration_of, metric_cell, metric_keys
from analyzer.stored import date_text as _date_text
from analyzer.stored import ordered_sessions as _ordered_sessions

if TYPE_CHECKING:
    from analyzer.store import Store

#: The tidy columns, in order. CSV header and JSON row keys are exactly these.
TIDY_COLUMNS: tuple[str, ...] = (
    "patient_code",
    "series",
    "session_date",
    "session_index",
    "view",
    "region",
    "group",
    "metric",
    "value",
    "unit",
    "method",
    "reason",
    "change",
    "percent",
    "noise_band",
    "alignment_ok",
    "calibration_method",
    "simulated",
    "analyzer_version",
    "within_noise",
    "verdict_reason",
)


#: The JSON document's format tag.
JSON_FORMAT = "skin-progress-tidy/1"


@dataclass(frozen=True)
class AnalysisEntry:
    """One photo's analysis, placed in its series.

    Attributes
    ----------
    session_date : str
        ISO date of the session (``2026-01-15``) or the session's name when it has no date.
    session_index : int
        0 for the baseline session, then 1, 2... in treatment order. The rows number sessions
        as the app does: ``session_index`` = this + 1 (1 is the baseline session).
    view : str
        The photo's view (``front``, ``left45``...).
    result : dict
        ``Comparison.to_dict()`` for a follow-up (or for the baseline compared with itself), or
        ``PhotoMetrics.to_dict()`` for a baseline measured alone.
    is_baseline : bool
        True for the baseline session's photo: its rows carry the *baseline* metrics and no change.
    simulated : bool
        True when the photo carries a simulated (injected) change.
    """

    session_date: str
    session_index: int
    view: str
    result: Mapping[str, Any] = field(repr=False)
    is_baseline: bool = False
    simulated: bool = False


# --------------------------------------------------------------------------- helpers


def calibration_method(metrics: Mapping[str, Any] | None) -> str:
    """The colour calibration a stored metrics side was measured with (``none`` when not
    calibrated; empty when the side was not measured): read by :func:`stored.calibration_of`."""
    if not metrics:
        return ""
    return calibration_of(metrics).method


def _is_simulated(result: Mapping[str, Any], part: Mapping[str, Any] | None) -> bool:
    for d in (result, part or {}, result.get("meta") or {}, (part or {}).get("meta") or {}):
        if isinstance(d, Mapping) and bool(d.get("simulated")):
            return True
    return False


def result_regions(result: Mapping[str, Any]) -> dict[str, dict]:
    """Per-region parts of a result dict: ``{name: {"baseline", "followup", "change", "reason", "polygon"}}``.

    A ``Comparison.to_dict()`` has ``regions``; a ``PhotoMetrics.to_dict()`` is one region
    measured alone (its metrics are reported as ``baseline``).
    """
    regions = result.get("regions")
    if isinstance(regions, Mapping) and regions:
        return {str(k): dict(v) for k, v in regions.items()}
    if "baseline" in result or "followup" in result:
        name = str(result.get("region") or "face")
        return {
            name: {
                "baseline": result.get("baseline"),
                "followup": result.get("followup"),
                "change": result.get("change"),
                "reason": result.get("reason"),
                "polygon": result.get("polygon"),
            }
        }
    name = str(result.get("region") or "face")
    return {name: {"baseline": dict(result), "followup": None, "change": None, "reason": None,
                   "polygon": result.get("polygon")}}


# --------------------------------------------------------------------------- rows


def tidy_rows(
    entries: Iterable[AnalysisEntry],
    *,
    patient_code: str,
    series: str,
) -> list[dict]:
    """Tidy long rows for a series' analyses: one per session, view, region and metric.

    Parameters
    ----------
    entries : iterable of AnalysisEntry
        The series' analyses. Order does not matter; rows come out sorted by session index,
        view, region, then metric in display order.
    patient_code : str
        The patient's code (never the name: exports go to statistics).
    series : str
        The series' name or id.

    Returns
    -------
    list of dict
        Each dict has exactly the keys of :data:`TIDY_COLUMNS`. ``value``, ``change``,
        ``percent`` and ``noise_band`` are floats or ``None`` (never NaN, never 0 for
        "missing"); ``alignment_ok`` is True/False or ``None`` for the baseline.
    """
    rows: list[dict] = []
    for e in entries:
        result = e.result or {}
        align = result.get("alignment") if isinstance(result.get("alignment"), Mapping) else None
        version = str(result.get("analyzer_version") or __version__)
        for region, part in result_regions(result).items():
            if e.is_baseline:
                metrics = part.get("baseline")
                change = None
                missing_reason = part.get("reason")
                aligned_ok = None
            else:
                metrics = part.get("followup")
                change = part.get("change")
                missing_reason = part.get("reason") or (align or {}).get("reason")
                aligned_ok = bool(align.get("ok")) if align is not None else None
            template_metrics = metrics if metrics else part.get("baseline")
            cal = calibration_method(metrics) if metrics else ""
            # A baseline row borrowed from a follow-up's result is not that follow-up's simulation.
            borrowed = e.is_baseline and not result.get("is_baseline") and "regions" in result
            simulated = e.simulated or (False if borrowed else _is_simulated(result, metrics))
            for name in metric_keys(template_metrics):
                group = name.split(".", 1)[0]
                cell = metric_cell(name, part.get("baseline"), metrics, change, is_baseline=e.is_baseline,
                                   missing_reason=None if metrics else (missing_reason or "not measured"))
                rows.append(
                    {
                        "patient_code": patient_code,
                        "series": series,
                        "session_date": e.session_date,
                        "session_index": int(e.session_index) + 1,  # the app's numbering: 1 = baseline
                        "view": e.view,
                        "region": region,
                        "group": group,
                        "metric": name,
                        "value": cell.value,
                        "unit": cell.unit,
                        "method": cell.method,
                        "reason": cell.reason if cell.value is None else None,
                        "change": cell.change,
                        "percent": cell.percent,
                        "noise_band": cell.noise_band,
                        "alignment_ok": aligned_ok,
                        "calibration_method": cal,
                        "simulated": bool(simulated),
                        "analyzer_version": version,
                        "within_noise": cell.within_noise,
                        "verdict_reason": cell.verdict_reason,
                    }
                )
    order = {g: i for i, g in enumerate(METRIC_GROUPS)}
    rows.sort(key=lambda r: (r["session_index"], r["view"], r["region"], order.get(r["group"], 99)))
    return rows


# --------------------------------------------------------------------------- store


def _session_simulated(session) -> bool:
    """A session whose notes carry the app's simulated tag (demo data with injected changes)."""
    return SIMULATED_TAG in (getattr(session, "notes", "") or "")


def entries_from_store(store: Store, series_id, *, analyzer_version: str = __version__) -> list[AnalysisEntry]:
    """The :class:`AnalysisEntry` list for one series from an :class:`analyzer.store.Store`.

    The baseline session (the one marked, else the earliest) has index 0, the others follow
    by date. A baseline photo's own analysis (``baseline_photo_id == photo_id``) gives its
    rows; when it has none, the baseline rows come from the earliest follow-up analysis of
    the same view (its ``baseline`` side, measured over the pixels both photos share).
    Only analyses of ``analyzer_version`` are read: a table never mixes methods.
    """
    sessions = _ordered_sessions(store, series_id)
    photo_info: dict[Any, tuple[int, str, str, bool]] = {}
    for idx, s in enumerate(sessions):
        sim = _session_simulated(s)
        for p in store.list_photos(s.id):
            photo_info[p.id] = (idx, _date_text(s.date), str(p.view), sim)
    analyses = store.analyses_for_series(series_id, analyzer_version=analyzer_version)
    # One analysis per photo: the all-regions record (region ""), else the newest.
    chosen: dict[Any, Any] = {}
    for a in sorted(analyses, key=lambda a: (str(getattr(a, "created_at", "")), str(a.id))):
        cur = chosen.get(a.photo_id)
        if cur is None or not (getattr(cur, "region", "") == "" and getattr(a, "region", "") != ""):
            chosen[a.photo_id] = a
    entries: list[AnalysisEntry] = []
    baseline_views: set[str] = set()
    for pid, a in chosen.items():
        if pid not in photo_info:
            continue
        idx, date, view, sim = photo_info[pid]
        own = a.baseline_photo_id is None or a.baseline_photo_id == pid or bool((a.result or {}).get("is_baseline"))
        if own:
            entries.append(AnalysisEntry(date, idx, view, a.result, is_baseline=True, simulated=sim))
            if idx == 0:
                baseline_views.add(view)
        else:
            entries.append(AnalysisEntry(date, idx, view, a.result, is_baseline=False, simulated=sim))
    # Baselines with no analysis of their own: from the earliest follow-up of that view.
    for e in sorted((e for e in entries if not e.is_baseline), key=lambda e: e.session_index):
        if e.view in baseline_views:
            continue
        bl = next((p for p, (i, _, v, _) in photo_info.items() if i == 0 and v == e.view), None)
        if bl is None:
            continue
        _, date, view, sim = photo_info[bl]
        entries.append(AnalysisEntry(date, 0, view, e.result, is_baseline=True, simulated=sim))
        baseline_views.add(view)
    return entries


def rows_from_store(
    store: Store,
    patient_id,
    *,
    series_id=None,
    analyzer_version: str = __version__,
) -> list[dict]:
    """Tidy rows for a patient (all series, or one) from the store.

    Parameters
    ----------
    store : analyzer.store.Store
    patient_id
        The patient's id.
    series_id : optional
        Only this series (default: every series of the patient).
    analyzer_version : str
        Only analyses made by this analyzer version (a chart never mixes methods).

    Returns
    -------
    list of dict
        Rows with the keys of :data:`TIDY_COLUMNS`.
    """
    patient = store.get_patient(patient_id)
    series_list = [store.get_series(series_id)] if series_id is not None else store.list_series(patient_id)
    rows: list[dict] = []
    for s in series_list:
        label = str(getattr(s, "name", "") or s.id)
        entries = entries_from_store(store, s.id, analyzer_version=analyzer_version)
        rows.extend(tidy_rows(entries, patient_code=patient.code, series=label))
    return rows


def rows_for_series(store: Store, series_id, *, analyzer_version: str = __version__) -> list[dict]:
    """Tidy rows for one series (its patient looked up from the series).

    Same rows as ``rows_from_store(store, series.patient_id, series_id=series_id)``.
    """
    series = store.get_series(series_id)
    return rows_from_store(store, series.patient_id, series_id=series_id, analyzer_version=analyzer_version)


# --------------------------------------------------------------------------- writers


#: A text cell starting with one of these is read as a formula by spreadsheets (OWASP "CSV
#: injection"): ``=``, ``+``, ``-``, ``@``, tab, carriage return.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(v: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula (the OWASP rule): text starting with
    ``= + - @``, tab or CR gets a leading ``'`` (shown by spreadsheets as the text itself).
    Text already starting with ``'`` gets one more, so :func:`csv_untext` restores it exactly.
    Numbers are written as numbers (a negative change stays ``-1.5``). A carriage return
    inside text becomes a newline (which the writer quotes; a bare CR would split the row)."""
    if not isinstance(v, str):
        return v
    v = v.replace("\r\n", "\n").replace("\r", "\n")
    if v and (v[0] in FORMULA_TRIGGERS or v[0] in "'\n"):
        return "'" + v
    return v


def csv_untext(v: str) -> str:
    """The text :func:`csv_text` neutralised."""
    return v[1:] if v.startswith("'") else v


def _csv_cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ""
    if isinstance(v, int):
        return v
    return csv_text(str(v))


def rows_to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as CSV text (header = :data:`TIDY_COLUMNS`; missing values empty)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(TIDY_COLUMNS), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _csv_cell(r.get(k)) for k in TIDY_COLUMNS})
    return buf.getvalue()


def rows_to_json(
    rows: Sequence[Mapping[str, Any]],
    *,
    extra: Mapping[str, Any] | None = None,
    indent: int | None = 1,
) -> str:
    """The rows as a JSON document: ``{"format", "analyzer_version", "generated_at", "columns", "rows", ...}``.

    ``rows`` holds the same objects as the CSV, keyed by :data:`TIDY_COLUMNS`, with ``null``
    for missing values. ``extra`` adds top-level keys (the batch adds its source and failures).
    """
    doc: dict[str, Any] = {
        "format": JSON_FORMAT,
        "analyzer_version": __version__,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "columns": list(TIDY_COLUMNS),
        "rows": [{k: _json_cell(r.get(k)) for k in TIDY_COLUMNS} for r in rows],
    }
    if extra:
        doc.update(extra)
    return json.dumps(doc, indent=indent, ensure_ascii=False, allow_nan=False)


def _json_cell(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def parse_csv_rows(text: str) -> list[dict]:
    """Parse tidy CSV text back into typed rows (numbers as floats, empty as None, booleans)."""
    out = []
    for r in csv.DictReader(io.StringIO(text)):
        row: dict[str, Any] = {}
        for k in TIDY_COLUMNS:
            v = r.get(k, "")
            if k in ("value", "change", "percent", "noise_band"):
                row[k] = float(v) if v != "" else None
            elif k == "session_index":
                row[k] = int(v)
            elif k in ("alignment_ok", "simulated", "within_noise"):
                row[k] = None if v == "" else v == "true"
            elif k in ("reason", "verdict_reason"):
                row[k] = csv_untext(v) or None
            else:
                row[k] = csv_untext(v)
        out.append(row)
    return out


def read_csv_rows(path: str | os.PathLike) -> list[dict]:
    """Read a tidy CSV file back into typed rows (see :func:`parse_csv_rows`)."""
    return parse_csv_rows(Path(path).read_text(encoding="utf-8"))


def write_exports(rows: Sequence[Mapping[str, Any]], out_dir: str | os.PathLike, *,
                  stem: str = "results", extra: Mapping[str, Any] | None = None) -> tuple[Path, Path]:
    """Write ``stem.csv`` and ``stem.json`` in ``out_dir`` (atomically: temp file, then rename)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out / f"{stem}.csv", out / f"{stem}.json"
    _atomic_write(csv_path, rows_to_csv(rows))
    _atomic_write(json_path, rows_to_json(rows, extra=extra))
    return csv_path, json_path


def _atomic_write(path: Path, text: str | bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    if isinstance(text, bytes):
        tmp.write_bytes(text)
    else:
        tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
