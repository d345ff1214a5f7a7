"""Issue 17, item 10: one bad region doesn't stop a series. A region outside a smaller
retaken baseline is reported on that region; the rest of the series is analysed; the app
shows the page, not an exception."""
# ruff: noqa: F811  (pytest fixtures imported from tests.store_fixtures)

from __future__ import annotations

import datetime as dt
import io

from PIL import Image

from analyzer import ANALYZER_VERSION, service
from tests.store_fixtures import data_dir, db_url, store  # noqa: F401
from tests.test_app_support import small_photos


def _smaller(jpeg: bytes, f: float = 0.5) -> bytes:
    img = Image.open(io.BytesIO(jpeg))
    buf = io.BytesIO()
    img.resize((round(img.width * f), round(img.height * f))).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def test_a_region_outside_a_smaller_retaken_baseline_is_reported_on_that_region(store):
    ph = small_photos()
    p = store.create_patient("P-1", "Anna", consent_photos=True)
    se = store.create_series(p.id, body_area="face", concerns=["redness"])
    s1 = store.add_session(se.id, date=dt.date(2026, 1, 14))
    s2 = store.add_session(se.id, date=dt.date(2026, 2, 11))
    base = store.add_photo(s1.id, view="front", data=ph["baseline"], filename="b.jpg")
    store.add_photo(s2.id, view="front", data=ph["redder"], filename="f.jpg")
    w, h = base.width, base.height
    store.set_regions(se.id, [
        {"kind": "rect", "name": "inside", "x": w * 0.30, "y": h * 0.40, "w": w * 0.15, "h": h * 0.10},
        {"kind": "rect", "name": "corner", "x": w * 0.80, "y": h * 0.85, "w": w * 0.10, "h": h * 0.08},
    ])
    # the baseline is retaken smaller: "corner" now starts outside it
    store.add_photo(s1.id, view="front", data=_smaller(ph["baseline"]), filename="b2.jpg", replace=True)
    out = service.analyze_series(store, se.id)  # no exception
    assert len(out) == 2
    fu = next(a for a in out if a.session_id == s2.id)
    rec = store.get_analysis(fu.photo_id, analyzer_version=ANALYZER_VERSION, region=service.ALL_REGIONS)
    res = rec.result
    assert "corner" in res["failed_regions"] and "outside the baseline photo" in res["failed_regions"]["corner"]
    assert "inside" in res["regions"] and "corner" not in res["regions"]
    rows = service.progress_table(store, se.id)
    assert any(r.get("region") in ("inside", "Inside") or "inside" in str(r.get("region", "")).lower()
               for r in rows)
    # the problem is named on that region, in words a practitioner reads
    assert any("corner" in c.message.lower() and "outside the baseline photo" in c.message for c in fu.caveats)


def test_the_app_analyses_the_series_and_shows_no_exception_page(tmp_path, monkeypatch):
    from argon2 import PasswordHasher
    from streamlit.testing.v1 import AppTest

    from analyzer import auth
    from tests.access_support import sign_in_practitioner
    from tests.test_app_support import REPO

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.delenv("SKIN_PROGRESS_DATABASE_URL", raising=False)
    monkeypatch.setenv("SKIN_PROGRESS_SAMPLE_DIR", str(tmp_path / "no-demo"))
    monkeypatch.chdir(REPO)
    d = tmp_path / "data"
    monkeypatch.setenv("SKIN_PROGRESS_DATA_DIR", str(d))
    ph = small_photos()
    with service.open_store(data_dir=d) as store:
        p = store.create_patient("P-1", "Anna", consent_photos=True)
        se = store.create_series(p.id, body_area="face", concerns=["redness"])
        s1 = store.add_session(se.id, date=dt.date(2026, 1, 14))
        s2 = store.add_session(se.id, date=dt.date(2026, 2, 11))
        base = store.add_photo(s1.id, view="front", data=ph["baseline"], filename="b.jpg")
        store.add_photo(s2.id, view="front", data=ph["redder"], filename="f.jpg")
        w, h = base.width, base.height
        store.set_regions(se.id, [
            {"kind": "rect", "name": "inside", "x": w * 0.30, "y": h * 0.40, "w": w * 0.15, "h": h * 0.10},
            {"kind": "rect", "name": "corner", "x": w * 0.80, "y": h * 0.85, "w": w * 0.10, "h": h * 0.08}])
        store.add_photo(s1.id, view="front", data=_smaller(ph["baseline"]), filename="b2.jpg", replace=True)
    at = sign_in_practitioner(AppTest.from_file(str(REPO / "app.py"), default_timeout=180), d)
    at.session_state["patient_id"] = p.id
    at.session_state["series_id"] = se.id
    at.switch_page("app_pages/progress.py").run()
    assert not at.exception
    next(b for b in at.button if b.label == "Analyse now").click()
    at.run()
    assert not at.exception, at.exception
    at.switch_page("app_pages/sessions.py").run()
    assert not at.exception
    shown = "\n".join(str(e.value) for kind in ("warning", "caption", "markdown", "info", "error") for e in at.get(kind))
    assert "outside the baseline photo" in shown
