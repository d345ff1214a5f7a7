"""A neutral reference patch marked on a photo (issue 4, "reference-patch" calibration), end to end:
schema 0003 up and down, the store's checks and the analyses it drops, archives, the service's
known answer (a grey card under a simulated warm cast), and marking it through the sessions page."""
# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import numpy as np
import pytest
import sqlalchemy as sa

from analyzer import ANALYZER_VERSION, auth, service
from analyzer.color import linear_to_srgb, srgb_to_linear
from analyzer.regions import RectROI
from analyzer.store import InvalidInput, Store
from analyzer.store.archive import manifest_of
from analyzer.store.engine import current_revision, downgrade, head_revision, migrate, resolve_url
from tests.store_fixtures import data_dir, db_url, empty_db_url, png_bytes, store  # noqa: F401
from tests.test_app_support import SAMPLES, _load_small, copy_data, jpeg, make_small_demo

D = dt.date


def _photos(store: Store):
    """A patient with a baseline photo, a follow-up of the same view, and an unrelated photo."""
    p = store.create_patient("P-0100", "Ref Test")
    ser = store.create_series(p.id, body_area="face", concerns=[])
    s1 = store.add_session(ser.id, date=D(2024, 1, 1))
    s2 = store.add_session(ser.id, date=D(2024, 2, 1))
    base = store.add_photo(s1.id, view="front", data=png_bytes(1, 64, 48), filename="b.png")
    fu = store.add_photo(s2.id, view="front", data=png_bytes(2, 64, 48), filename="f.png")
    other = store.add_photo(s2.id, view="left45", data=png_bytes(3, 64, 48), filename="o.png")
    return p, base, fu, other


def _save(store, photo, baseline):
    store.save_analysis(photo.id, baseline_photo_id=baseline.id, transform=None, result={"x": 1},
                        analyzer_version=ANALYZER_VERSION)
    store.save_analysis(photo.id, baseline_photo_id=baseline.id, transform=None, result={"x": 1},
                        analyzer_version="0.0.1")


def _n_analyses(store, photo) -> int:
    return sum(store.get_analysis(photo.id, analyzer_version=v) is not None for v in (ANALYZER_VERSION, "0.0.1"))


# ------------------------------------------------------------------ schema 0003
def test_migration_0003_up_and_down_keeps_photos(empty_db_url, data_dir):
    u = resolve_url(empty_db_url)
    store = Store(empty_db_url, data_dir=data_dir)
    _, base, _, _ = _photos(store)
    store.set_reference_patch(base.id, {"x": 2, "y": 3, "w": 10, "h": 8})
    store.close()
    eng = sa.create_engine(u, poolclass=sa.pool.NullPool)
    cols = {c["name"] for c in sa.inspect(eng).get_columns("photos")}
    assert current_revision(eng) == head_revision() and "reference_patch" in cols

    downgrade(u, "0002")
    assert current_revision(eng) == "0002"
    assert "reference_patch" not in {c["name"] for c in sa.inspect(eng).get_columns("photos")}
    with eng.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM photos")).scalar() == 3
        assert c.execute(sa.text("SELECT count(*) FROM analyses")).scalar() == 0

    migrate(u)  # and up again: the column is back, empty
    assert current_revision(eng) == head_revision()
    eng.dispose()
    with Store(empty_db_url, data_dir=data_dir) as s2:
        assert s2.get_photo(base.id).reference_patch is None
        assert s2.set_reference_patch(base.id, {"x": 0, "y": 0, "w": 64, "h": 48}).reference_patch == {
            "x": 0, "y": 0, "w": 64, "h": 48}


# ------------------------------------------------------------------ store: checks and invalidation
def test_bad_patches_are_one_line_errors_and_write_nothing(store):
    _, base, fu, _ = _photos(store)
    store.set_reference_patch(base.id, {"x": 1, "y": 1, "w": 5, "h": 5})
    _save(store, base, base)
    _save(store, fu, base)
    bad = {
        "outside": ({"x": 60, "y": 10, "w": 10, "h": 10}, "outside the photo (64 x 48 pixels)"),
        "below": ({"x": 0, "y": 40, "w": 10, "h": 9}, "outside the photo"),
        "negative": ({"x": -1, "y": 0, "w": 10, "h": 10}, "outside the photo"),
        "no size": ({"x": 0, "y": 0, "w": 0, "h": 10}, "width and height above 0"),
        "missing": ({"x": 0, "y": 0, "w": 5}, "needs x, y, w and h"),
        "not a number": ({"x": "a", "y": 0, "w": 5, "h": 5}, "finite number"),
        "nan": ({"x": float("nan"), "y": 0, "w": 5, "h": 5}, "finite number"),
        "bool": ({"x": True, "y": 0, "w": 5, "h": 5}, "finite number"),
        "extra": ({"x": 0, "y": 0, "w": 5, "h": 5, "z": 1}, "unknown field"),
        "list": ([0, 0, 5, 5], "an object"),
    }
    for label, (patch, words) in bad.items():
        with pytest.raises(InvalidInput) as ei:
            store.set_reference_patch(base.id, patch)
        assert words in str(ei.value) and "\n" not in str(ei.value), label
        assert store.get_photo(base.id).reference_patch == {"x": 1, "y": 1, "w": 5, "h": 5}, label
        assert _n_analyses(store, base) == 2 and _n_analyses(store, fu) == 2, label


def test_changing_the_patch_drops_the_analyses_that_used_the_photo(store):
    _, base, fu, other = _photos(store)
    for ph in (base, fu):
        _save(store, ph, base)
    _save(store, other, other)
    # On the baseline photo: its own analyses and its follow-up's go (every version); others stay.
    rec = store.set_reference_patch(base.id, {"x": 4.5, "y": 2, "w": 10.0, "h": 8})
    assert rec.reference_patch == {"x": 4.5, "y": 2, "w": 10, "h": 8}
    assert (_n_analyses(store, base), _n_analyses(store, fu), _n_analyses(store, other)) == (0, 0, 2)
    # The same patch again changes nothing (a double click drops nothing).
    _save(store, base, base)
    _save(store, fu, base)
    store.set_reference_patch(base.id, {"x": 4.5, "y": 2, "w": 10, "h": 8})
    assert (_n_analyses(store, base), _n_analyses(store, fu)) == (2, 2)
    # On a follow-up: only its own analyses.
    store.set_reference_patch(fu.id, {"x": 0, "y": 0, "w": 64, "h": 48})
    assert (_n_analyses(store, base), _n_analyses(store, fu)) == (2, 0)
    # Clearing is a change too.
    assert store.clear_reference_patch(base.id).reference_patch is None
    assert store.get_photo(base.id).reference_patch is None
    assert _n_analyses(store, base) == 0
    assert store.get_photo(fu.id).reference_patch == {"x": 0, "y": 0, "w": 64, "h": 48}


def test_archive_carries_the_patch_and_older_archives_import(store):
    p, base, fu, _ = _photos(store)
    store.set_reference_patch(fu.id, {"x": 3, "y": 4, "w": 20, "h": 10})
    buf = io.BytesIO()
    store.export_patient(p.id, buf)
    a = buf.getvalue()
    marked = [ph for ph in manifest_of(a)["photos"] if "reference_patch" in ph]
    assert [ph["reference_patch"] for ph in marked] == [{"x": 3, "y": 4, "w": 20, "h": 10}]
    imported = store.import_archive(io.BytesIO(a), code="P-0101")
    sess = store.list_sessions(store.list_series(imported.id)[0].id)
    assert [ph.reference_patch for s in sess for ph in store.list_photos(s.id) if ph.view == "front"] == [
        None, {"x": 3, "y": 4, "w": 20, "h": 10}]
    buf2 = io.BytesIO()
    store.export_patient(imported.id, buf2)
    assert manifest_of(buf2.getvalue())["photos"] == manifest_of(a)["photos"]

    def rezip(edit):
        src, out = zipfile.ZipFile(io.BytesIO(a)), io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            for zi in src.infolist():
                data = src.read(zi)
                if zi.filename == "manifest.json":
                    m = json.loads(data)
                    edit(m)
                    data = json.dumps(m).encode()
                z.writestr(zi, data)
        return out.getvalue()

    # An archive from before schema 0003 (no key) imports, with no patch.
    old = rezip(lambda m: [ph.pop("reference_patch", None) for ph in m["photos"]])
    imp = store.import_archive(io.BytesIO(old), code="P-0102")
    sess = store.list_sessions(store.list_series(imp.id)[0].id)
    assert all(ph.reference_patch is None for s in sess for ph in store.list_photos(s.id))
    # A patch outside its photo is refused with one line, nothing imported.
    n = len(store.list_patients())
    bad = rezip(lambda m: [ph.__setitem__("reference_patch", {"x": 60, "y": 0, "w": 10, "h": 10})
                           for ph in m["photos"] if "reference_patch" in ph])
    with pytest.raises(InvalidInput, match="archive: photo .*outside the photo") as ei:
        store.import_archive(io.BytesIO(bad), code="P-0103")
    assert "\n" not in str(ei.value) and len(store.list_patients()) == n


# ------------------------------------------------------------------ service: known answer
CARD = {"x": 20, "y": 620, "w": 100, "h": 100}  # a mid-grey card, bottom left (half-size demo photo)
WHITE = {"x": 460, "y": 620, "w": 80, "h": 80}  # a clipped white patch: can't tell its colour
WARM = np.array([1.25, 1.0, 0.75], np.float32)  # simulated warm light: gains in linear RGB


@pytest.fixture(scope="module")
def card_series(tmp_path_factory):
    """A neutral baseline photo with a grey card and, a month later, the same scene under a
    SIMULATED warm cast. Analysed once without any patch; each test works on a copy."""
    img = _load_small(SAMPLES / "2026-01-14" / "front.jpg")
    for r, v in ((CARD, 0.55), (WHITE, 1.0)):
        img[r["y"]:r["y"] + r["h"], r["x"]:r["x"] + r["w"]] = v
    warm = np.clip(linear_to_srgb(srgb_to_linear(img) * WARM), 0, 1)
    data = tmp_path_factory.mktemp("card") / "data"
    s = service.open_store(data_dir=data)
    _, ser = service.create_patient_with_series(s, code="P-CARD", display_name="Grey card", consent_photos=True)
    _, (bp,), _ = service.add_session_with_photos(s, ser.id, date=D(2026, 1, 1),
                                                  photos=[("front", jpeg(img), "neutral.jpg")])
    _, (fp,), _ = service.add_session_with_photos(s, ser.id, date=D(2026, 2, 1),
                                                  photos=[("front", jpeg(warm), "warm-simulated.jpg")],
                                                  notes=f"{service.SIMULATED_TAG} warm light cast")
    out = service.analyze_series(s, ser.id)
    s.close()
    return data, ser.id, bp.id, fp.id, out


def _change(store, series_id, photo_id, metric):
    rows = service.progress_table(store, series_id)
    return next(r for r in rows if r["photo_id"] == photo_id and r["metric"] == metric
                and r["region"] == service.DEFAULT_REGION)["change"]


def test_marked_grey_cards_cancel_a_warm_cast(card_series, tmp_path, monkeypatch):
    data, sid, bp, fp, before = card_series
    monkeypatch.delenv("SKIN_PROGRESS_DATABASE_URL", raising=False)
    store = service.open_store(data_dir=copy_data(data, tmp_path / "data"))
    assert [(a.photo_id, a.calibration) for a in before] == [(bp, "none"), (fp, "none")]
    assert before[1].aligned
    remedy = next(c for c in before[1].caveats if c.kind == "calibration")
    assert remedy.remedy_text == ("Retake with the colour chart in frame, or mark a neutral reference patch "
                                  "(grey card, white headband) on the photo.")
    # Before: the cast reads as a large change in a* (redness) and b* (through ITA).
    da0 = _change(store, sid, fp, "redness.a_star_mean")
    dita0 = _change(store, sid, fp, "pigmentation.ita_deg_mean")
    assert da0 > 3.0 and abs(dita0) > 10.0, (da0, dita0)

    # Mark the same grey card on both photos (as a practitioner: audited).
    prac = auth.Principal(role="practitioner", via="local", name="anna", signed_in_at=auth.utcnow())
    out = service.set_reference_patch(store, bp, RectROI(**CARD), user=prac)
    assert [a.photo_id for a in out] == [bp, fp]  # the baseline, then its follow-up
    assert out[0].calibration == "reference-patch" and out[0].computed
    out = service.set_reference_patch(store, fp, CARD, user=prac)
    assert [(a.photo_id, a.calibration) for a in out] == [(fp, "reference-patch")]
    assert not any(c.kind == "calibration" for c in out[0].caveats)
    assert service.pending_photos(store, sid) == []
    da1 = _change(store, sid, fp, "redness.a_star_mean")
    dita1 = _change(store, sid, fp, "pigmentation.ita_deg_mean")
    assert abs(da1) < 1.0 and abs(dita1) < 3.0, (da1, dita1)
    assert abs(da1) < abs(da0) / 4
    # The review's heat map shows the same calibrated change as the numbers, not the cast.
    ri = service.review_images(store, fp, region=service.DEFAULT_REGION, max_side=400)
    med = float(np.nanmedian(ri.maps["delta_a_star"]))
    assert abs(med - da1) < 0.75 and abs(med - da0) > 2.0, (med, da1, da0)
    acts = [(e.action, e.detail) for e in store.list_audit()]
    assert ("photo.reference_patch", f"photo {fp}: x 20, y 620, 100 x 100") in acts

    # A clipped patch is refused in one line, before anything changes.
    with pytest.raises(InvalidInput, match="clipped") as ei:
        service.set_reference_patch(store, fp, WHITE, user=prac)
    assert "\n" not in str(ei.value) and store.get_photo(fp).reference_patch == CARD
    # A patient can't mark one, even on their own photo.
    pat = auth.Principal(role="patient", via="link", name="link-1", signed_in_at=auth.utcnow(),
                         patient_id=store.get_series(sid).patient_id, token_id=1)
    with pytest.raises(auth.AccessDenied):
        service.set_reference_patch(store, fp, None, user=pat)
    assert store.get_photo(fp).reference_patch == CARD

    # Clearing the follow-up's patch brings the cast back.
    out = service.set_reference_patch(store, fp, None, user=prac)
    assert out[0].calibration == "none"
    assert _change(store, sid, fp, "redness.a_star_mean") > 3.0
    store.close()


# ------------------------------------------------------------------ the sessions page
@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    demo = make_small_demo(tmp_path_factory.mktemp("demo"))
    data = tmp_path_factory.mktemp("seeded") / "data"
    s = service.open_store(data_dir=data)
    service.ensure_demo(s, sample_dir=demo)
    s.close()
    return demo, data


def test_mark_a_patch_through_the_sessions_page(demo_data, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.test_app_support import REPO

    demo, seeded = demo_data
    d = copy_data(seeded, tmp_path / "data")
    monkeypatch.delenv("SKIN_PROGRESS_DATABASE_URL", raising=False)
    monkeypatch.setenv("SKIN_PROGRESS_SAMPLE_DIR", str(demo))
    monkeypatch.setenv("SKIN_PROGRESS_DATA_DIR", str(d))
    monkeypatch.chdir(REPO)
    s = service.open_store(data_dir=d)
    ser = s.list_series(service.demo_patient(s).id)[0]
    sess = sorted(s.list_sessions(ser.id), key=lambda x: x.date)
    photo = s.list_photos(sess[1].id)[0]  # the second session's front photo (a follow-up)

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()  # demo mode: no sign-in
    at.switch_page("app_pages/sessions.py").run()
    assert not at.exception
    caps = " ".join(c.value for c in at.caption)
    assert "Colour calibration: **none" in caps
    assert f"Photo size: {photo.width} × {photo.height} pixels" in caps
    assert any(e.label == "Colour reference" for e in at.expander)
    n_images = len(at.get("image"))
    for k, val in zip("xywh", (20, 300, 40, 40), strict=True):
        at.number_input(key=f"ref_{k}_{photo.id}").set_value(val)
    at.run()
    assert not at.exception and len(at.get("image")) == n_images  # the preview follows the numbers
    at.button(key=f"ref_save_{photo.id}").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert s.get_photo(photo.id).reference_patch == {"x": 20, "y": 300, "w": 40, "h": 40}
    assert any("Colour calibration: reference patch marked on the photo" in m.value for m in at.success)
    a = s.get_analysis(photo.id, analyzer_version=ANALYZER_VERSION)
    assert a.result["followup"]["calibration"]["method"] == "reference-patch"
    assert "Colour calibration: **reference patch marked on the photo**" in " ".join(c.value for c in at.caption)
    # A patch running off the photo: one line, nothing changed.
    at.number_input(key=f"ref_x_{photo.id}").set_value(photo.width - 10)
    at.button(key=f"ref_save_{photo.id}").click().run()
    assert not at.exception and len(at.error) == 1 and "outside the photo" in at.error[0].value
    assert s.get_photo(photo.id).reference_patch == {"x": 20, "y": 300, "w": 40, "h": 40}
    # Clear.
    at.button(key=f"ref_clear_{photo.id}").click().run()
    assert not at.exception and s.get_photo(photo.id).reference_patch is None
    assert s.get_analysis(photo.id, analyzer_version=ANALYZER_VERSION).result["followup"]["calibration"][
        "method"] == "none"
    s.close()
