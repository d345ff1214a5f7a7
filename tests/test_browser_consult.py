"""Real browser (issue 20): the practitioner's PDF from Progress, and the before/after export
refused without marketing consent, then made once it is recorded (no metadata in the download).
Screenshots of Progress and the Consultation page at 1440 px and 390 px go to
test-artifacts/screenshots/. Uses /usr/bin/chromium; never runs `playwright install`."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from PIL import Image
from pypdf import PdfReader

from tests.access_support import ensure_practitioner, sign_in_browser
from tests.test_app_support import small_photos
from tests.test_browser import (  # noqa: F401 - fixtures and helpers shared with the main browser test
    CHROMIUM,
    goto_page,
    no_exception,
    run_app,
    shot,
    wait_idle,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def seeded_server(tmp_path_factory):
    """A data folder with one analysed patient (two sessions), then `streamlit run app.py` on it."""

    from analyzer import service
    from analyzer.store import Store
    from tests.test_app_support import make_small_demo

    tmp = tmp_path_factory.mktemp("browser-consult")
    data = tmp / "data"
    store = Store(data_dir=data, new_database_ok=True)
    pat = store.create_patient("MK-0001", "Marketing Test", consent_photos=True, consent_reports=True)
    ser = store.create_series(pat.id, body_area="face", concerns=["enlarged_pores", "hyperpigmentation"],
                              name="Consult")
    photos = small_photos()
    for d, key in ((dt.date(2026, 1, 10), "baseline"), (dt.date(2026, 2, 7), "later")):
        s = store.add_session(ser.id, date=d, device="Dermapen 4", needle_depth_mm=0.5, passes=2)
        store.add_photo(s.id, view="front", data=photos[key], filename=f"{key}.jpg")
    service.analyze_series(store, ser.id)
    service.write_settings(data, clinic_name="Clinique Lumière")
    store.close()
    ensure_practitioner(data)
    with run_app(data, make_small_demo(tmp / "demo"), tmp / "streamlit.log") as url:
        yield {"url": url, "data": data, "patient_id": pat.id}


def test_practitioner_pdf_and_consent_gated_export(seeded_server):
    from playwright.sync_api import sync_playwright

    from analyzer import service

    srv = seeded_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        ctx = browser.new_context(viewport={"width": 1440, "height": 1600}, accept_downloads=True)
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        sign_in_browser(page, srv["url"])
        page.get_by_role("button", name="Sign out").wait_for(timeout=60_000)
        wait_idle(page)
        page.locator(".st-key-_pick_patient").click()  # the sidebar's patient picker
        page.get_by_role("option", name="Marketing Test (MK-0001)").click()
        wait_idle(page)
        goto_page(page, "Progress")
        no_exception(page)
        assert "Marketing Test" in page.inner_text("body")

        # the practitioner's PDF
        with page.expect_download() as dl:
            page.get_by_role("button", name="Report (PDF)", exact=True).click()
        pdf = open(dl.value.path(), "rb").read()
        text = "\n".join(pg.extract_text() for pg in PdfReader(io.BytesIO(pdf)).pages)
        assert "Practitioner's copy" in text and "Treatment parameters per session" in text
        assert "Dermapen 4, 0.5 mm, 2 passes" in text and "Clinique Lumière" in text

        # the export: refused without marketing consent, with a plain message
        page.get_by_text("Before/after picture for the clinic").click()
        page.get_by_role("button", name="Make before/after picture").click()
        wait_idle(page)
        err = page.locator('[data-testid="stAlert"]').filter(has_text="no marketing consent")
        err.first.wait_for()
        assert "Patients page" in err.first.inner_text()
        assert page.get_by_role("button", name="Download before/after picture").count() == 0
        shot(page, "20-export-refused-1440")

        # the patient agrees: record it (Patients page, Edit patient), then make the picture
        goto_page(page, "Patients")
        page.get_by_text("Edit patient: Marketing Test").click()
        page.get_by_role("button", name="Record marketing consent (dated now)").click()
        wait_idle(page)
        no_exception(page)
        # the rerun that shows the recorded consent can land after the script looks idle
        page.get_by_text(re.compile(r"Given \d{4}-\d\d-\d\d")).first.wait_for(timeout=60_000)
        goto_page(page, "Progress")
        page.get_by_text("Before/after picture for the clinic").click()
        page.get_by_text("Mask the eyes").click()
        page.get_by_role("button", name="Make before/after picture").click()
        wait_idle(page, timeout=180)
        no_exception(page)
        with page.expect_download() as dl:
            page.get_by_role("button", name="Download before/after picture").click()
        png = open(dl.value.path(), "rb").read()
        im = Image.open(io.BytesIO(png))
        assert im.format == "PNG" and len(im.getexif()) == 0 and "exif" not in im.info
        shot(page, "21-export-made-1440")

        store = service.open_store(data_dir=srv["data"])
        acts = [e.action for e in store.list_audit(patient_id=srv["patient_id"])]
        assert "export.before_after" in acts and "export.report_practitioner" in acts
        store.close()

        # the consultation view, wide and on a phone
        goto_page(page, "Consultation")
        page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=180_000)
        wait_idle(page, timeout=180)
        no_exception(page)
        shot(page, "22-consultation-1440")
        page.set_viewport_size({"width": 390, "height": 1400})
        page.wait_for_timeout(800)
        shot(page, "23-consultation-390")
        goto_page_mobile = page.locator('[data-testid="stSidebarNav"]')
        if goto_page_mobile.count() and goto_page_mobile.is_visible():
            goto_page(page, "Progress")
            shot(page, "24-progress-390")
        browser.close()
