"""Tidy CSV/JSON export: the schema, and values equal to the analyses stored by the app's path."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math

import cv2
import numpy as np
import pytest
from PIL import Image

from analyzer.export import (
    TIDY_COLUMNS,
    AnalysisEntry,
    parse_csv_rows,
    rows_from_store,
    rows_to_csv,
    rows_to_json,
    tidy_rows,
)

CONTRACT_METRICS = {
    "redness": ("a_star_mean", "erythema_index_mean", "red_area_fraction",
                "a_star_vs_reference", "a_star_reference_balanced", "erythema_index_vs_reference"),
    "pigmentation": ("L_star_mean", "ita_deg_mean", "melanin_index_mean", "spot_area_fraction", "spot_count",
                     "tone_unevenness", "L_star_vs_reference", "melanin_index_vs_reference"),
    "texture": ("roughness", "pore_density", "wrinkle_density", "glcm_contrast", "glcm_homogeneity"),
}
ALL_METRICS = {f"{g}.{k}" for g, ks in CONTRACT_METRICS.items() for k in ks}


def _jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _reposed(path) -> np.ndarray:
    """A real photo moved by a known similarity (4 deg, x0.95, shifted): same skin, new pose."""
    rgb = np.asarray(Image.open(path).convert("RGB"))
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 4.0, 0.95)
    m[:, 2] += (12.0, -8.0)
    return cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory, lisa_paths):
    """A store with one patient, 3 sessions of the front view, analysed by the app's service."""
    from analyzer import service
    from analyzer.store import Store

    d = tmp_path_factory.mktemp("export-store")
    store = Store(url=f"sqlite:///{d / 'db.sqlite3'}", data_dir=d / "data")
    pat = store.create_patient("P-EXP-1", "Export Patient", consent_photos=True, consent_reports=True)
    ser = store.create_series(pat.id, body_area="face", concerns=["redness"], name="Cheeks")
    photos = [
        lisa_paths[0].read_bytes(),
        _jpeg(_reposed(lisa_paths[0])),
        lisa_paths[1].read_bytes(),
    ]
    for i, (date, data) in enumerate(zip(("2026-01-15", "2026-02-12", "2026-03-12"), photos, strict=True)):
        sess = store.add_session(ser.id, date=dt.date.fromisoformat(date))
        store.add_photo(sess.id, view="front", data=data, filename=f"front{i}.jpg")
    service.analyze_series(store, ser.id)
    yield store, pat, ser
    store.close()


def _stored(store, ser):
    """{session_date: AnalysisRec} for the front view."""
    from analyzer import __version__

    out = {}
    sessions = {s.id: s for s in store.list_sessions(ser.id)}
    photo_session = {p.id: sessions[sid] for sid in sessions for p in store.list_photos(sid)}
    for a in store.analyses_for_series(ser.id, analyzer_version=__version__):
        out[photo_session[a.photo_id].date.isoformat()] = a
    return out


def test_csv_schema(analysed):
    store, pat, ser = analysed
    rows = rows_from_store(store, pat.id)
    text = rows_to_csv(rows)
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    assert tuple(header) == TIDY_COLUMNS
    body = list(reader)
    # The series treats redness: its concern measures come with the general metrics.
    from analyzer.concerns import CONCERN_MEASURES

    concern_metrics = {f"redness.{k}" for k in CONCERN_MEASURES["redness"]}
    assert len(body) == len(rows) == 3 * len(ALL_METRICS | concern_metrics)  # 3 sessions x 1 view x 1 region
    assert all(len(r) == len(TIDY_COLUMNS) for r in body)
    assert {r["metric"] for r in rows} == ALL_METRICS | concern_metrics
    assert {(r["session_index"], r["session_date"]) for r in rows} == {
        (1, "2026-01-15"), (2, "2026-02-12"), (3, "2026-03-12")}  # as the app numbers them
    assert {r["patient_code"] for r in rows} == {"P-EXP-1"}
    assert {r["series"] for r in rows} == {"Cheeks"}
    assert {r["region"] for r in rows} == {"face"}
    assert all(r["group"] == r["metric"].split(".")[0] for r in rows)
    assert all(r["unit"] and r["method"] for r in rows)  # every number says what it is
    # No colour chart in these selfies: every measured row says so.
    assert {r["calibration_method"] for r in rows if r["value"] is not None} == {"none"}
    # ... so the absolute colour of every follow-up can't be told, and the row says why; the
    # redness against untreated skin in the same photo is told (true/false)
    follow = [r for r in rows if r["session_index"] > 1 and r["value"] is not None]
    for r in follow:
        if r["metric"] in ("redness.a_star_mean", "redness.cheeks_nose.a_star_mean", "pigmentation.L_star_mean"):
            assert r["within_noise"] is None and r["verdict_reason"].startswith("can't tell"), r
        if r["metric"] == "redness.a_star_reference_balanced":
            assert r["within_noise"] in (True, False) and r["verdict_reason"] is None, r
    assert all(r["within_noise"] is None and r["verdict_reason"] is None for r in rows if r["session_index"] == 1)
    # The patient's name never goes into a statistics export.
    assert "Export Patient" not in text
    # Round trip: CSV text parses back to the same typed rows.
    back = parse_csv_rows(text)
    for a, b in zip(rows, back, strict=True):
        for k in TIDY_COLUMNS:
            if isinstance(a[k], float):
                assert b[k] == a[k]  # repr() round-trips floats exactly
            else:
                assert b[k] == a[k], k


def test_csv_values_equal_stored_analyses(analysed):
    store, pat, ser = analysed
    rows = rows_from_store(store, pat.id, series_id=ser.id)
    stored = _stored(store, ser)
    assert set(stored) == {"2026-01-15", "2026-02-12", "2026-03-12"}
    checked = 0
    for r in parse_csv_rows(rows_to_csv(rows)):
        rec = stored[r["session_date"]]
        g, k = r["metric"].split(".", 1)  # concern measures: "redness.cheeks_nose.a_star_mean"
        part = rec.result["regions"][r["region"]]
        side = part["baseline"] if r["session_index"] == 1 else part["followup"]
        assert r["analyzer_version"] == rec.analyzer_version
        if side is None:  # alignment refused: no value, a reason, never 0
            assert r["value"] is None and r["reason"]
            assert r["alignment_ok"] is False
            continue
        expected = side[g][k]
        if expected is None:
            assert r["value"] is None and r["reason"]
        else:
            assert r["value"] == expected
            assert r["reason"] is None
        assert r["unit"] == side["meta"][r["metric"]]["unit"]
        assert r["method"] == side["meta"][r["metric"]]["method"]
        if r["session_index"] > 1:
            ch = part["change"].get(r["metric"])  # flat "group.key" form
            if ch is not None:
                assert r["change"] == ch["delta"]
                assert r["percent"] == ch["percent"]
            elif r["value"] is not None and part["baseline"][g][k] is not None:
                # Concern measures store no change of their own: follow-up minus baseline.
                b = part["baseline"][g][k]
                assert r["change"] == pytest.approx(r["value"] - b)
                assert r["percent"] == (pytest.approx(100 * (r["value"] - b) / abs(b)) if b else None)
            assert r["alignment_ok"] is True
        else:
            assert r["change"] is None and r["percent"] is None and r["alignment_ok"] is None
        checked += 1
    assert checked >= 2 * len(ALL_METRICS)  # at least the baseline and the re-posed copy


def test_csv_rows_match_the_progress_page(tmp_path, lisa_paths):
    """The CSV carries every measure the app's progress rows show (the series' concern measures
    included) and numbers the sessions as the app does (1 = the baseline session)."""
    from analyzer import service
    from analyzer.store import Store

    store = Store(url=f"sqlite:///{tmp_path / 'db.sqlite3'}", data_dir=tmp_path / "data")
    pat = store.create_patient("P-EXP-2", "Concern Patient", consent_photos=True, consent_reports=True)
    ser = store.create_series(pat.id, body_area="face", concerns=["acne_scars", "enlarged_pores", "redness"],
                              name="Scars")
    for i, (date, data) in enumerate(zip(("2026-01-15", "2026-02-12"),
                                         (lisa_paths[0].read_bytes(), _jpeg(_reposed(lisa_paths[0]))), strict=True)):
        sess = store.add_session(ser.id, date=dt.date.fromisoformat(date))
        store.add_photo(sess.id, view="front", data=data, filename=f"front{i}.jpg")
    service.analyze_series(store, ser.id)
    screen = service.progress_table(store, ser.id)
    csv_rows = parse_csv_rows(rows_to_csv(rows_from_store(store, pat.id, series_id=ser.id)))
    key = ("session_index", "session_date", "view", "region", "metric")
    assert {tuple(r[k] for k in key) for r in csv_rows} == {tuple(r[k] for k in key) for r in screen}
    groups = {r["group"] for r in csv_rows}
    assert {"acne_scars", "enlarged_pores"} <= groups  # the concern measures
    assert {r["session_index"] for r in csv_rows} == {1, 2}
    by_key = {tuple(r[k] for k in key): r for r in screen}
    for r in csv_rows:  # the same numbers, not only the same names
        s = by_key[tuple(r[k] for k in key)]
        assert (r["value"] is None) == (s["value"] is None)
        assert r["noise_band"] == s["noise_band"]  # one table per metric: the same band
        if r["value"] is not None:
            assert r["value"] == pytest.approx(s["value"], rel=1e-6)
    store.close()


def test_reposed_copy_changes_little(analysed):
    """Known answer: the follow-up is the baseline photo moved, so its colour change is ~0."""
    store, pat, _ = analysed
    rows = {(r["session_index"], r["metric"]): r for r in rows_from_store(store, pat.id)}
    a = rows[(2, "redness.a_star_mean")]
    assert a["alignment_ok"] is True
    assert abs(a["change"]) < 0.5


def test_json_rows_equal_csv_rows(analysed):
    store, pat, _ = analysed
    rows = rows_from_store(store, pat.id)
    doc = json.loads(rows_to_json(rows))
    assert doc["format"] == "skin-progress-tidy/1"
    assert doc["columns"] == list(TIDY_COLUMNS)
    assert doc["rows"] == parse_csv_rows(rows_to_csv(rows))


def test_nan_is_empty_and_null_never_zero(analysed):
    """A follow-up whose alignment was refused: empty value in CSV, null in JSON, with the reason."""
    store, _, ser = analysed
    rec = _stored(store, ser)["2026-02-12"]
    refused = json.loads(json.dumps(rec.result))
    refused["alignment"]["ok"] = False
    refused["alignment"]["reason"] = "the face regions do not match"
    for part in refused["regions"].values():
        part["followup"], part["change"], part["reason"] = None, None, "alignment refused: the face regions do not match"
    # And one metric that could not be computed on an otherwise measured photo.
    ok = json.loads(json.dumps(rec.result))
    ok["regions"]["face"]["followup"]["texture"]["pore_density"] = None
    ok["regions"]["face"]["followup"]["meta"]["texture.pore_density"]["reason"] = "too little skin"
    rows = tidy_rows(
        [AnalysisEntry("2026-02-12", 1, "front", refused), AnalysisEntry("2026-03-12", 2, "left", ok)],
        patient_code="P", series="S",
    )
    text = rows_to_csv(rows)
    doc = json.loads(rows_to_json(rows))
    assert "NaN" not in text and "nan" not in text.lower().replace("nanometre", "")
    for r, j in zip(parse_csv_rows(text), doc["rows"], strict=True):
        if r["view"] == "front":
            assert r["value"] is None and j["value"] is None
            assert r["reason"] == "alignment refused: the face regions do not match"
            assert r["alignment_ok"] is False
        elif r["metric"] == "texture.pore_density":
            assert r["value"] is None and j["value"] is None and r["reason"] == "too little skin"
        else:
            assert r["value"] is not None and math.isfinite(r["value"])
    raw = list(csv.DictReader(io.StringIO(text)))
    assert all(row["value"] == "" for row in raw if row["view"] == "front")


def test_rows_for_series_is_that_series_only(analysed):
    from analyzer.export import rows_for_series

    store, pat, ser = analysed
    other = store.create_series(pat.id, body_area="neck", concerns=["texture"], name="Neck")
    try:
        assert rows_for_series(store, ser.id) == rows_from_store(store, pat.id, series_id=ser.id)
        assert rows_for_series(store, other.id) == []
        assert len(rows_from_store(store, pat.id)) == len(rows_for_series(store, ser.id))
    finally:
        store.delete_series(other.id)
