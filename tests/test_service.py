"""analyzer.service: seeding the demo, analysing sessions against the baseline, the progress table,
summary sentences, caveats, settings. Real photos (the demo, at half size) and known answers."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from analyzer import ANALYZER_VERSION, service
from tests.test_app_support import KNOWN_DA, copy_data, make_small_demo, small_photos


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    return make_small_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, demo_dir):
    """A data folder with the small demo seeded and analysed once (copied by each test)."""
    data = tmp_path_factory.mktemp("seeded") / "data"
    store = service.open_store(data_dir=data)
    assert service.ensure_demo(store, sample_dir=demo_dir) is not None
    store.close()
    return data


@pytest.fixture
def store(tmp_path, seeded, monkeypatch):
    monkeypatch.delenv("SKIN_PROGRESS_DATABASE_URL", raising=False)
    s = service.open_store(data_dir=copy_data(seeded, tmp_path / "data"))
    yield s
    s.close()


def _series(store):
    p = service.demo_patient(store)
    return p, store.list_series(p.id)[0]


def test_demo_seeded_with_simulated_label_and_baseline(store):
    p, ser = _series(store)
    assert p.is_demo
    sessions = sorted(store.list_sessions(ser.id), key=lambda s: s.date)
    assert [s.date for s in sessions] == [dt.date(2026, 1, 14), dt.date(2026, 2, 11), dt.date(2026, 3, 11)]
    assert store.baseline_session(ser.id).id == sessions[0].id
    assert [service.simulated_note(s) is not None for s in sessions] == [False, False, True]
    assert "simulated" in service.session_label(sessions[2], 3)
    assert "simulated" not in service.session_label(sessions[1], 2)
    assert service.treatment_text(sessions[0]) == "Dermapen 4, 0.5 mm, 2 passes, hyaluronic serum"
    # every photo analysed, for the series' regions, under this analyzer version
    assert service.pending_photos(store, ser.id) == []
    assert set(service.series_rois(ser)) == {"face", "forehead"}


def test_ensure_demo_is_idempotent(store, demo_dir):
    assert service.ensure_demo(store, sample_dir=demo_dir) is None
    assert len(store.list_patients()) == 1


def test_ensure_demo_without_manifest_does_nothing(tmp_path):
    s = service.open_store(data_dir=tmp_path / "d")
    assert service.ensure_demo(s, sample_dir=tmp_path / "nothing-here") is None
    assert s.list_patients() == []


def test_progress_table_recovers_known_redness_change(store):
    _, ser = _series(store)
    rows = service.progress_table(store, ser.id)
    red = [r for r in rows if r["metric"] == "redness.a_star_mean" and r["region"] == "face"]
    by_date = {r["session_date"]: r for r in red}
    assert set(by_date) == {"2026-01-14", "2026-02-11", "2026-03-11"}
    base, known = by_date["2026-01-14"], by_date["2026-03-11"]
    assert base["is_baseline"] and base["change"] == 0.0 and base["percent"] == 0.0
    assert base["value"] is not None and math.isfinite(base["value"]), base["reason"]
    # same pose, a* raised by KNOWN_DA everywhere: the change over the same pixels is KNOWN_DA
    assert known["value"] is not None, known["reason"]
    assert known["change"] == pytest.approx(KNOWN_DA, abs=0.6)
    assert known["percent"] == pytest.approx(100 * known["change"] / abs(known["baseline_value"]), rel=1e-6)
    assert known["simulated"] and not base["simulated"]
    assert known["unit"]
    # tidy: one row per (photo, region, metric), the columns the charts use
    keys = {(r["photo_id"], r["region"], r["metric"]) for r in rows}
    assert len(keys) == len(rows)
    assert {"value", "unit", "percent", "noise_band", "noise_band_percent", "beyond_noise"} <= set(rows[0])


def test_analyses_are_stored_and_never_recomputed(store, monkeypatch):
    _, ser = _series(store)
    import analyzer.pipeline as pipeline

    def boom(*a, **k):
        raise AssertionError("recomputed a stored analysis")

    monkeypatch.setattr(pipeline, "compare", boom)
    monkeypatch.setattr(pipeline, "analyze_metrics", boom)
    out = service.analyze_series(store, ser.id)
    assert len(out) == 3 and not any(a.computed for a in out)


def test_new_region_is_measured_on_every_session(store):
    _, ser = _series(store)
    name = service.add_region(store, ser.id, {"kind": "rect", "name": "patch", "x": 200, "y": 300, "w": 60, "h": 40})
    assert name == "patch"
    assert len(service.pending_photos(store, ser.id)) == 3
    seen = []
    out = service.analyze_series(store, ser.id, progress=lambda f, t: seen.append(f))
    assert all("patch" in a.regions for a in out)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    rows = service.progress_table(store, ser.id)
    assert {r["session_date"] for r in rows if r["region"] == "patch"} == {"2026-01-14", "2026-02-11", "2026-03-11"}
    outlines = service.region_outlines(store, ser.id, "front")
    assert set(outlines) == {"face", "forehead", "patch"}
    import numpy as np

    np.testing.assert_allclose(outlines["patch"], [[200, 300], [260, 300], [260, 340], [200, 340]])
    service.remove_region(store, ser.id, "patch")
    assert "patch" not in {r["region"] for r in service.progress_table(store, ser.id)}


def test_every_region_kind_the_store_accepts_is_measured_or_reported(store):
    """face, named, rect and polygon regions (analyzer.store.validate.REGION_KINDS) are all measured;
    a stored region that can't be placed is reported on every photo, never skipped silently."""
    import numpy as np

    from analyzer.store.validate import REGION_KINDS

    _, ser = _series(store)
    tri = [[200, 300], [270, 300], [235, 360]]
    assert service.add_region(store, ser.id, {"kind": "polygon", "name": "tri", "points": tri}) == "tri"
    service.add_region(store, ser.id, {"kind": "rect", "name": "box", "x": 210, "y": 310, "w": 40, "h": 30})
    kinds = {r["kind"] for r in store.get_series(ser.id).regions} | {"face"}
    assert kinds == set(REGION_KINDS)
    # A region the store accepts but nothing can place (stored directly, as an old record might be).
    store.set_regions(ser.id, list(store.get_series(ser.id).regions) + [{"kind": "named", "name": "elbow"}])
    out = service.analyze_series(store, ser.id)
    assert all({"face", "forehead", "tri", "box"} <= set(a.regions) for a in out)
    assert all(any("Elbow could not be measured" in c.message and "unknown face region" in c.message
                   for c in a.caveats) for a in out)
    np.testing.assert_allclose(service.region_outlines(store, ser.id, "front")["tri"], tri)
    rows = [r for r in service.progress_table(store, ser.id) if r["region"] == "tri"]
    assert {r["session_date"] for r in rows} == {"2026-01-14", "2026-02-11", "2026-03-11"}
    assert any(r["value"] is not None for r in rows)
    with pytest.raises(ValueError, match="at least 3 points"):
        service.add_region(store, ser.id, {"kind": "polygon", "name": "p", "points": [[1, 1], [2, 2]]})


def test_bad_region_is_refused_in_one_line(store):
    _, ser = _series(store)
    with pytest.raises(ValueError, match="allowed"):
        service.add_region(store, ser.id, {"kind": "named", "name": "elbow"})
    with pytest.raises(ValueError, match="width and height"):
        service.add_region(store, ser.id, {"kind": "rect", "name": "r", "x": 1, "y": 1, "w": 0, "h": 5})


def test_upload_new_session_and_corrupt_file(store):
    _, ser = _series(store)
    photos = small_photos()
    rec, added, errors = service.add_session_with_photos(
        store, ser.id, date=dt.date(2026, 4, 8), device="Dermapen 4", needle_depth_mm=1.0, passes=3,
        photos=[("front", photos["later"], "later.jpg"), ("left45", b"not a photo at all", "broken.jpg")])
    assert len(added) == 1 and len(errors) == 1
    assert "broken.jpg" in errors[0] and "\n" not in errors[0]
    assert [p.view for p in store.list_photos(rec.id)] == ["front"]  # nothing stored for the bad file
    out = service.analyze_session(store, rec.id)
    assert len(out) == 1 and out[0].computed and out[0].baseline_photo_id is not None
    assert out[0].aligned is True


def test_review_images_in_baseline_frame(store):
    _, ser = _series(store)
    sess = sorted(store.list_sessions(ser.id), key=lambda s: s.date)
    pid = store.list_photos(sess[2].id)[0].id
    r = service.review_images(store, pid, region="face", max_side=400)
    assert r.aligned and r.baseline_rgb.shape == r.followup_rgb.shape
    assert max(r.baseline_rgb.shape[:2]) == 400
    assert r.polygon is not None and r.polygon.shape[1] == 2
    assert set(r.maps) == {"delta_a_star", "delta_L_star", "delta_roughness"}
    import numpy as np

    da = r.maps["delta_a_star"]
    assert da.shape == r.baseline_rgb.shape[:2]
    # the known change shows in the map: a* up by about KNOWN_DA where measured
    assert np.nanmedian(da) == pytest.approx(KNOWN_DA, abs=0.7)


def _row(**kw):
    r = {"view": "front", "region": "left_cheek", "metric": "redness.a_star_mean", "is_baseline": False,
         "session_date": "2026-02-01", "session_id": 2, "percent": -18.2, "noise_band_percent": 4.1,
         "beyond_noise": True, "simulated": None, "reason": None}
    r.update(kw)
    return r


def test_sided_regions_are_named_by_the_patients_side():
    # left_cheek is the image's left (analyzer.regions), which is the patient's right cheek
    assert service.region_label("left_cheek") == "Patient's right cheek"
    assert service.region_label("right_cheek") == "Patient's left cheek"
    assert service.region_label("forehead") == "Forehead" and service.region_label("my patch") == "My patch"


def test_summary_sentences():
    base = _row(is_baseline=True, session_date="2026-01-01", session_id=1, percent=0.0, beyond_noise=None)
    cards = service.summary_cards([base, _row()])
    assert [c.sentence for c in cards] == [
        "Patient's right cheek redness down 18% since the first session, beyond the 4% noise band."]
    assert cards[0].improved is True
    inside = service.summary_cards([base, _row(percent=2.4, beyond_noise=False)])[0]
    assert inside.sentence == ("Patient's right cheek redness up 2% since the first session, within the 4% noise band: "
                               "not a measurable change yet.")
    assert inside.improved is None
    lit = service.summary_cards([base, _row(caveats="calibration,lighting")])[0]
    assert lit.sentence == ("Patient's right cheek redness down 18% since the first session, beyond the 4% noise band "
                            "(the lighting of that photo differs from the baseline's, so part of this may be "
                            "lighting).")
    assert service.summary_cards([base, _row(caveats="calibration")])[0].caution is None
    sim = service.summary_cards([base, _row(simulated="redness lowered")])[0]
    assert "simulated" in sim.sentence and sim.simulated
    # the latest measured session wins; an unmeasured one is skipped
    later = _row(session_date="2026-03-01", session_id=3, percent=None, reason="alignment refused")
    assert "18%" in service.summary_cards([base, _row(), later])[0].sentence
    only_bad = service.summary_cards([base, later])[0]
    assert "alignment refused" in only_bad.sentence


def test_caveats_in_plain_words():
    res = {"alignment": {"ok": False, "reason": "a different person"}, "followup": None,
           "baseline": {"quality": {"warnings": []}, "calibration": {"method": "none"}}}
    cav = service.caveats_from_result(res)
    # another person's photo: not "retake with the same pose" but "check the patient" (issue 18)
    assert cav[0].kind == "identity" and "another person" in cav[0].message
    assert cav[0].remedy == "check_patient" and "check the patient" in cav[0].remedy_text
    assert "same pose" not in cav[0].remedy_text
    res["alignment"]["reason"] = "not enough matching points between the photos"
    cav = service.caveats_from_result(res)
    assert cav[0].kind == "alignment" and cav[0].remedy == "retake"
    res = {"alignment": {"ok": True}, "followup": {
        "quality": {"warnings": ["photo is blurred", "clipped highlights on 3% of the skin"], "lighting_differs": True},
        "calibration": {"method": "none"}}}
    kinds = [c.kind for c in service.caveats_from_result(res)]
    assert kinds == ["blur", "highlights", "lighting", "calibration"]
    # the metrics module's own sentences
    res = {"alignment": {"ok": True}, "followup": {"quality": {"warnings": [
        "The photo looks blurred in this region: texture numbers will read low.",
        "12% of the region is overexposed (clipped highlights).",
        "9% of the region is underexposed (clipped shadows).",
        "The lighting differs from the baseline's (overall lightness -3.3 L*): changes may be lighting, not skin.",
        "No colour chart or reference patch: the photo is not colour-calibrated, so changes across sessions "
        "may be lighting, not skin."]}}}
    assert [c.kind for c in service.caveats_from_result(res)] == [
        "blur", "highlights", "shadows", "lighting", "calibration"]
    assert service.caveats_from_result(res)[-1].remedy == "mark_reference"


def test_rows_to_csv_leaves_missing_values_empty():
    text = service.rows_to_csv([{"metric": "redness.a_star_mean", "value": None, "percent": -3.25,
                                 "reason": "empty region"}])
    header, line = text.strip().split("\n")
    cells = dict(zip(header.split(","), line.split(","), strict=True))
    assert cells["value"] == "" and cells["percent"] == "-3.25" and cells["reason"] == "empty region"


def test_settings_file_and_location(tmp_path, monkeypatch):
    monkeypatch.delenv("SKIN_PROGRESS_DATABASE_URL", raising=False)
    loc = service.store_location(data_dir=tmp_path)
    assert loc.source == "default" and loc.database_url.endswith("skin-progress.sqlite3")
    url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    service.write_settings(tmp_path, database_url=url)
    assert service.store_location(data_dir=tmp_path) == service.StoreLocation(tmp_path, url, "settings file")
    monkeypatch.setenv("SKIN_PROGRESS_DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite3'}")
    assert service.store_location(data_dir=tmp_path).source == "environment"
    monkeypatch.delenv("SKIN_PROGRESS_DATABASE_URL")
    service.write_settings(tmp_path, database_url=None)
    assert service.read_settings(tmp_path) == {}


def test_create_patient_with_series_is_all_or_nothing(tmp_path):
    s = service.open_store(data_dir=tmp_path / "d")
    with pytest.raises(ValueError):
        service.create_patient_with_series(s, code="P-1", display_name="Ann", concerns=[42])
    assert s.list_patients() == []
    p, ser = service.create_patient_with_series(s, code="P-1", display_name="Ann", concerns=["redness"])
    assert s.list_series(p.id)[0].id == ser.id
    with pytest.raises(ValueError, match="code"):
        service.create_patient_with_series(s, code=" ", display_name="Bob")


def test_metric_catalogue_covers_the_contract_keys():
    from analyzer.metrics import METRIC_KEYS

    keys = {f"{g}.{k}" for g, ks in METRIC_KEYS.items() for k in ks}
    assert keys == set(service.METRICS)
    assert ANALYZER_VERSION
