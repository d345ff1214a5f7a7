"""The PDF report: opens with pypdf, expected pages/text/images, no EXIF/GPS, simulated labelled."""

from __future__ import annotations

import datetime as dt
import io

import cv2
import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from analyzer import __version__
from analyzer.report import (
    METRIC_LABELS,
    ReportData,
    ViewImages,
    build_report,
    plain_words,
    report_from_store,
    summary_lines,
)

#: Markers written into the baseline photo's EXIF: none may reach the PDF.
MAKE, DATUM = "LEAKYCAM-9000", "SECRETDATUM-51N"


def _with_gps(path) -> bytes:
    """The real photo re-saved with EXIF Make and a GPS IFD (position + map datum)."""
    img = Image.open(path)
    exif = Image.Exif()
    exif[0x010F] = MAKE
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (51.0, 30.0, 12.0), 3: "W", 4: (0.0, 7.0, 40.0), 18: DATUM})
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif, quality=95)
    return buf.getvalue()


def _reposed_jpeg(path) -> bytes:
    rgb = np.asarray(Image.open(path).convert("RGB"))
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 4.0, 0.95)
    m[:, 2] += (12.0, -8.0)
    out = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    buf = io.BytesIO()
    Image.fromarray(out).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


@pytest.fixture(scope="module")
def report_store(tmp_path_factory, lisa_paths):
    """Store: patient with a non-ASCII name, 2 sessions (baseline with GPS EXIF; simulated re-posed copy)."""
    from analyzer import service
    from analyzer.store import Store

    d = tmp_path_factory.mktemp("report-store")
    store = Store(url=f"sqlite:///{d / 'db.sqlite3'}", data_dir=d / "data")
    pat = store.create_patient("P-REP-7", "Zoë Müller", consent_photos=True, consent_reports=True)
    ser = store.create_series(pat.id, body_area="face", concerns=["redness"], name="Spring series")
    s1 = store.add_session(ser.id, date=dt.date(2026, 1, 15))
    s2 = store.add_session(ser.id, date=dt.date(2026, 2, 12),
                           notes=f"{service.SIMULATED_TAG} re-posed copy of the baseline")
    base = store.add_photo(s1.id, view="front", data=_with_gps(lisa_paths[0]), filename="front.jpg")
    store.add_photo(s2.id, view="front", data=_reposed_jpeg(lisa_paths[0]), filename="front.jpg")
    service.analyze_series(store, ser.id)
    # The stored original really carries the markers (so the checks below can fail).
    original = store.photo_original_bytes(base.id)
    assert MAKE.encode() in original and DATUM.encode() in original and b"Exif" in original
    yield store, pat, ser
    store.close()


@pytest.fixture(scope="module")
def store_pdf(report_store):
    store, pat, _ = report_store
    return report_from_store(store, pat.id)


def test_pdf_opens_with_expected_pages_and_text(store_pdf):
    reader = PdfReader(io.BytesIO(store_pdf))
    # cover + summary; the view's photos, then charts (14 metrics), the values table and the
    # methods flow on without half-empty pages (issue 18: a page was two-thirds empty)
    assert len(reader.pages) == 6  # 0.3.0: 19 metrics + 2 concern measures, one more chart page
    pages = [p.extract_text() for p in reader.pages]
    cover = pages[0]
    for s in ("Skin progress report", "P-REP-7", "Zoë Müller", "face", "Spring series", "2026-01-15",
              "2026-02-12", __version__, "SIMULATED", "Summary"):
        assert s in cover, s
    assert "Photos: front view" in pages[1] and "Baseline 2026-01-15" in pages[1] and "2026-02-12 (aligned)" in pages[1]
    assert "lined up with the baseline photo" in pages[1] and "could not be" not in pages[1]
    text = "\n".join(pages)
    one_line = " ".join(text.split())  # a plain label can be longer and wrap in the table
    for label in METRIC_LABELS.values():  # the patient's copy: in plain words (issue 20)
        assert plain_words(label) in one_line, plain_words(label)
    assert "simulated" in text
    assert "Values: front view, Face" in text and "Change" in text
    assert "2026-02-12 (simulated)" in text and "2026-01-15 (simulated)" not in text
    # no chart in either photo: absolute colour is "can't tell" (table and summary), with what to do
    flat = text.replace("\n", " ")
    assert "can't tell" in flat and "hold the grey card by the cheek" in flat
    last = pages[-1]
    for s in ("Methods and caveats", "Colour calibration: not used", "lined up with the baseline photo",
              f"Analyzer version {__version__}", "not a medical diagnosis"):
        assert s in last, s
    # plain words for the patient: no alignment jargon, no raw keys, no None/nan
    for word in ("homography", "confidence", "residual", "ecc", "None", "nan"):
        assert word not in text, word
    import re

    assert not re.search(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b", text), re.findall(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b", text)


def test_pdf_images_are_reencoded_without_exif_or_gps(store_pdf):
    assert b"Exif" not in store_pdf
    assert MAKE.encode() not in store_pdf and DATUM.encode() not in store_pdf
    reader = PdfReader(io.BytesIO(store_pdf))
    imgs = [im for p in reader.pages for im in p.images]
    assert len(imgs) == 2 and len(reader.pages[1].images) == 2  # baseline + aligned follow-up
    for im in imgs:
        pil = im.image
        assert pil.size[0] >= 300 and pil.size[1] >= 300
        assert len(pil.getexif()) == 0
        assert "exif" not in pil.info and "icc_profile" not in pil.info
    # The aligned follow-up is the baseline re-posed: after alignment the two images agree.
    a = np.asarray(imgs[0].image.convert("L"), np.float32)
    b = np.asarray(imgs[1].image.convert("L"), np.float32)
    assert a.shape == b.shape
    h, w = a.shape
    centre = (slice(h // 4, 3 * h // 4), slice(w // 4, 3 * w // 4))
    assert np.corrcoef(a[centre].ravel(), b[centre].ravel())[0, 1] > 0.9


def test_store_rows_mark_simulated_session_only(report_store):
    from analyzer.export import rows_from_store

    store, pat, _ = report_store
    rows = rows_from_store(store, pat.id)
    assert {r["simulated"] for r in rows if r["session_index"] == 1} == {False}
    assert {r["simulated"] for r in rows if r["session_index"] == 2} == {True}


# --------------------------------------------------------------------------- plain data


def _row(idx, metric, value, change=None, percent=None, band=None, date=None, **kw):
    return {
        "patient_code": "P", "series": "S", "session_date": date or f"2026-0{idx + 1}-01",
        "session_index": idx, "view": "front", "region": "face", "group": metric.split(".")[0],
        "metric": metric, "value": value, "unit": "u", "method": "m", "reason": kw.get("reason"),
        "change": change, "percent": percent, "noise_band": band, "alignment_ok": None if idx == 0 else kw.get("ok", True),
        "calibration_method": "none", "simulated": kw.get("simulated", False), "analyzer_version": __version__,
    }


def test_summary_known_answers():
    rows = [
        _row(0, "redness.a_star_mean", 12.0, band=0.5),
        _row(1, "redness.a_star_mean", 10.0, change=-2.0, percent=-16.7, band=0.5),
        _row(0, "texture.roughness", 1.0, band=0.2),
        _row(1, "texture.roughness", 1.1, change=0.1, percent=10.0, band=0.2),
        _row(0, "pigmentation.spot_area_fraction", 0.1, band=0.01),
        _row(1, "pigmentation.spot_area_fraction", None, reason="too little skin", band=0.01),
    ]
    lines = summary_lines(rows)
    red = next(ln for ln in lines if ln.startswith("Redness"))
    assert "lower" in red and "2.00" in red and "17%" in red and "±0.50" in red
    tex = next(ln for ln in lines if ln.startswith("Texture"))
    assert "no change beyond" in tex
    spot = next(ln for ln in lines if ln.startswith("Dark spots"))
    assert "not measured" in spot and "too little skin" in spot
    assert summary_lines([r for r in rows if r["session_index"] == 0])[0].startswith("Only the baseline")
    sim = summary_lines([dict(r, simulated=True) for r in rows])
    assert sim[0].startswith("SIMULATED")


def test_build_report_plain_data_with_missing_values_and_no_latest_image():
    rng = np.random.default_rng(0)
    img = (rng.random((120, 90, 3)) * 255).astype(np.uint8)
    rows = [
        _row(0, "redness.a_star_mean", 12.0, band=0.5),
        _row(1, "redness.a_star_mean", None, reason="alignment refused: no face", ok=False),
        _row(2, "redness.a_star_mean", 11.0, change=-1.0, percent=-8.3, band=0.5),
    ]
    data = ReportData(
        patient_code="P-9", patient_name="Ångström O'Neil", body_area="neck", dates=("2026-01-01", "2026-02-01", "2026-03-01"),
        views=(ViewImages("front", img, None, np.array([[10, 10], [80, 10], [80, 100]]), "2026-01-01", "",
                          {"ok": False, "reason": "no face", "method": "face-landmarks"}, "could not align"),),
        rows=tuple(rows),
    )
    pdf = build_report(data)
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "Ångström O'Neil" in text and "neck" in text
    assert "Latest: not available" in text and "could not align" in text
    assert "n/a" in text  # the missing value is shown as n/a, not 0
    assert "1 photo(s) could not be aligned" in text
    assert sum(len(p.images) for p in reader.pages) == 1


def test_latin1_fallback_without_dejavu(monkeypatch):
    import analyzer.report.pdf as report

    monkeypatch.setattr(report, "_find_font", lambda: None)
    rows = [_row(0, "redness.a_star_mean", 12.0, band=0.5), _row(1, "redness.a_star_mean", 11.0, change=-1.0,
                                                                 percent=-8.3, band=0.5)]
    pdf = build_report(ReportData(patient_code="P−1 Δ", patient_name="Zoë", rows=tuple(rows)))
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "P-1 change" in text and "Zoë" in text


def test_report_cli_from_store(report_store, tmp_path, capsys):
    from analyzer.cli import main

    store, _, ser = report_store
    args = ["--database-url", store.url, "--data-dir", str(store.data_dir)]
    out = tmp_path / "r.pdf"
    assert main(["report", *args, "--patient", "P-REP-7", "--series", str(ser.id), "--out", str(out)]) == 0
    reader = PdfReader(out)
    assert "P-REP-7" in reader.pages[0].extract_text() and len(reader.pages) == 6
    assert main(["report", *args, "--patient", "NOPE", "--out", str(out)]) == 2
    assert "NOPE" in capsys.readouterr().err
    assert main(["report", *args, "--patient", "P-REP-7", "--out", str(tmp_path / "r.txt")]) == 2
    assert main(["report", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("error: ") == 2 and "Traceback" not in err


def test_report_cli_reads_the_data_folders_settings_like_the_app(report_store, tmp_path, monkeypatch):
    """``report --data-dir DIR`` opens the database the Settings page chose (DIR/settings.json),
    as the app does, not an empty SQLite file in DIR."""
    from analyzer import config
    from analyzer.cli import main

    store, _, ser = report_store
    monkeypatch.delenv("SKIN_PROGRESS_DATABASE_URL", raising=False)
    settings = config.write_settings(store.data_dir, database_url=store.url)
    try:
        assert config.store_location(data_dir=store.data_dir).source == "settings file"
        out = tmp_path / "from-settings.pdf"
        assert main(["report", "--data-dir", str(store.data_dir), "--patient", "P-REP-7",
                     "--series", str(ser.id), "--out", str(out)]) == 0
        assert "P-REP-7" in PdfReader(out).pages[0].extract_text()
        assert not (store.data_dir / config.SQLITE_FILE_NAME).exists()  # no empty database made
    finally:
        settings.unlink()


def test_view_first_photographed_later_uses_its_own_baseline():
    """A view first taken at session 2: its baseline row is session 2, and changes are against it."""
    rows = [
        _row(0, "redness.a_star_mean", 12.0, band=0.5),
        dict(_row(2, "redness.a_star_mean", 9.0, band=0.5), view="left45", alignment_ok=None),
        dict(_row(3, "redness.a_star_mean", 8.0, change=-1.0, percent=-11.1, band=0.5), view="left45"),
    ]
    lines = summary_lines(rows)
    left = next(ln for ln in lines if "left45" in ln)
    assert "1.00" in left and "lower" in left and "11%" in left
    pdf = build_report(ReportData(patient_code="P", rows=tuple(rows)))
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Values: left45 view, Face" in text and "−1.00" in text


def test_report_before_any_analysis_says_so():
    img = np.full((60, 40, 3), 128, np.uint8)
    pdf = build_report(ReportData(patient_code="P", views=(ViewImages("front", img, baseline_label="2026-01-01"),)))
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "No photo of this series has been analysed yet." in text
    assert "not used (no colour chart" not in text
    assert len(reader.pages) == 2  # cover and summary; the view's images and the methods


def test_long_series_table_fits_the_page():
    # 20 sessions: the table shows the baseline and the last four, and its value columns fill
    # the page width exactly (this once failed on float rounding: "effective page width").
    rows = [
        _row(i, "redness.a_star_mean", 12.0 - 0.1 * i, change=-0.1 * i, percent=-0.8 * i, band=0.5,
             date=f"2026-{1 + i // 2:02d}-{1 + 14 * (i % 2):02d}")
        for i in range(20)
    ]
    data = ReportData(patient_code="P-20", patient_name="Long Series", body_area="face",
                      dates=(rows[0]["session_date"], rows[-1]["session_date"]), views=(), rows=tuple(rows))
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(build_report(data))).pages)
    assert rows[-1]["session_date"] in text and rows[0]["session_date"] in text
    assert rows[10]["session_date"] not in text.split("Values:")[-1]  # middle sessions left out of the table
