"""Real browser: `streamlit run app.py` driven by Playwright with Debian's Chromium.

Starts the app on a free port with an empty data folder (the half-size demo as sample folder),
checks that it opens on the demo's progress chart, creates a patient, adds two sessions and
uploads a photo to each, waits for the analysis, and checks that the progress chart and the
before/after view are on the page. Screenshots of each page go to test-artifacts/screenshots/
for a person to look at. Never runs `playwright install`: it uses /usr/bin/chromium.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.access_support import ensure_practitioner, sign_in_browser
from tests.test_app_support import REPO, make_small_demo, small_photos

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "test-artifacts" / "screenshots"
pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    if os.environ.get("SKIN_PROGRESS_REQUIRE_BROWSER"):
        raise RuntimeError("SKIN_PROGRESS_REQUIRE_BROWSER is set but /usr/bin/chromium is missing "
                           "(apt-get install -y chromium)")
    pytest.skip("Debian Chromium (/usr/bin/chromium) is not installed", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def run_app(data: Path, sample_dir: Path, log_path: Path):
    """`streamlit run app.py` on a free port with ``data`` as its data folder and ``sample_dir`` as its
    demo folder; yields the base URL once the server answers its health check (60 s at most)."""
    port = _free_port()
    env = dict(os.environ, SKIN_PROGRESS_DATA_DIR=str(data), SKIN_PROGRESS_SAMPLE_DIR=str(sample_dir))
    env.pop("SKIN_PROGRESS_DATABASE_URL", None)
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("streamlit did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    demo = make_small_demo(tmp / "demo")
    data = tmp / "data"
    with run_app(data, demo, tmp / "streamlit.log") as url:
        yield {"url": url, "data": data, "tmp": tmp}


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        ctx = browser.new_context(viewport={"width": 1400, "height": 1800})
        pg = ctx.new_page()
        pg.set_default_timeout(60_000)
        yield pg
        browser.close()


def wait_idle(page, timeout: float = 120.0) -> None:
    """Wait until the script run is over: the app says it is not running, and no "Running..."
    status widget, for a full second (a click's rerun starts a moment after the click)."""
    deadline = time.time() + timeout
    page.wait_for_selector('[data-testid="stApp"]')
    quiet = 0
    while time.time() < deadline:
        state = page.get_attribute('[data-testid="stApp"]', "data-test-script-state")
        running = state != "notRunning" or page.locator('[data-testid="stStatusWidget"]').count() > 0
        quiet = 0 if running else quiet + 1
        if quiet >= 4:
            return
        page.wait_for_timeout(250)
    raise AssertionError("the app kept running for too long")


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def goto_page(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()
    wait_idle(page)


def no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()


def test_practitioner_workflow_in_a_real_browser(server, page, tmp_path):
    from analyzer import service

    # first start: app.py seeds the demo (no sign-in in demo mode) and opens on the demo patient's
    # progress chart, the default page, whose address is the root. (A first request at another page's
    # address goes through app.py and its gate too: tests/test_browser_access.py.)
    page.goto(server["url"] + "/")
    wait_idle(page, timeout=240)
    page.wait_for_selector('[data-testid="stVegaLiteChart"]')
    no_exception(page)
    assert "DEMO-001" in page.inner_text("body")
    assert page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="common").count() == 0
    shot(page, "01-progress-demo")

    # a real patient needs a signed-in practitioner (creating the account ends demo mode)
    ensure_practitioner(server["data"])
    sign_in_browser(page, server["url"])
    page.get_by_role("button", name="Sign out").wait_for(timeout=60_000)
    wait_idle(page)
    no_exception(page)

    # create a patient
    goto_page(page, "Patients")
    page.get_by_text("New patient").click()
    page.get_by_role("textbox", name="Patient code").fill("BR-0001")
    page.get_by_role("textbox", name="Display name").fill("Browser Test")
    page.locator(".st-key-np_cp label").click()  # photo consent: photos are refused without it
    page.keyboard.press("Tab")  # leave the field: its value is committed before the submit
    wait_idle(page)
    page.get_by_role("button", name="Create patient").click()
    wait_idle(page)
    no_exception(page)
    try:
        try:
            page.get_by_text("Created Browser Test").first.wait_for(timeout=30_000)
        except Exception:
            # On a loaded machine a click can land while the form is still being redrawn and be
            # lost. Click once more only if the patient does not exist (its code shows nowhere).
            if page.get_by_text("BR-0001").count() == 0:
                page.get_by_role("button", name="Create patient").click()
                wait_idle(page)
            page.get_by_text("Created Browser Test").first.wait_for(timeout=60_000)
    except Exception:
        shot(page, "02-patients-failed")
        raise
    shot(page, "02-patients")

    # two sessions, one photo each, analysed after upload
    photos = small_photos()
    files = {}
    for key in ("baseline", "later"):
        f = tmp_path / f"{key}.jpg"
        f.write_bytes(photos[key])
        files[key] = f
    goto_page(page, "Series & sessions")
    for key, date in (("baseline", "2026/01/10"), ("later", "2026/02/07")):
        # the date field is made of year / month / day segments: type into the year, it moves on
        page.locator('.st-key-as_date [data-type="year"]').click()
        page.keyboard.type(date.replace("/", ""), delay=30)
        page.get_by_role("textbox", name="Practitioner").click()
        page.get_by_role("button", name="Add session").click()
        wait_idle(page)
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(files[key]))
        page.wait_for_selector(f'text={files[key].name}')
        page.get_by_role("button", name="Upload and analyse").click()
        wait_idle(page, timeout=180)
        no_exception(page)
        if page.get_by_text("Check before keeping").count():  # the later photo is farther: kept anyway
            page.get_by_role("button", name="Keep", exact=True).click()
            wait_idle(page, timeout=180)
            no_exception(page)
        try:  # on a loaded machine the result line can land after the script looks idle
            page.get_by_text("stored and analysed").first.wait_for(timeout=120_000)
        except Exception:
            shot(page, f"03-upload-{key}-failed")
            raise AssertionError(page.inner_text("body")[-2000:]) from None
    shot(page, "03-series-and-sessions")

    store = service.open_store(data_dir=server["data"])
    p = next(x for x in store.list_patients() if x.code == "BR-0001")
    ser = store.list_series(p.id)[0]
    assert sorted(str(x.date) for x in store.list_sessions(ser.id)) == ["2026-01-10", "2026-02-07"]
    assert service.pending_photos(store, ser.id) == []

    # the progress chart of the new patient
    goto_page(page, "Progress")
    page.wait_for_selector('[data-testid="stVegaLiteChart"]')
    no_exception(page)
    assert "Browser Test" in page.inner_text("body")
    assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 1
    shot(page, "04-progress")

    # review: before/after slider (an iframe with a range input) and the overlay
    goto_page(page, "Review")
    no_exception(page)
    page.get_by_role("tab", name="Before / after slider").click()
    frame = page.frame_locator("iframe").first
    frame.locator('input[type="range"]').wait_for()
    assert page.locator('[data-testid="stImage"]').count() >= 1
    shot(page, "05-review-before-after")
    page.get_by_role("tab", name="Change maps").click()
    page.wait_for_timeout(300)
    shot(page, "06-review-change-maps")

    # patient view: read-only, the patient's own charts
    goto_page(page, "Patients")
    page.locator(f".st-key-pview_{p.id} button").first.click()
    wait_idle(page)
    no_exception(page)
    body = page.inner_text("body")
    assert "Your progress, Browser Test" in body and "DEMO-001" not in body
    page.wait_for_selector('[data-testid="stVegaLiteChart"]')
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0  # no way to other pages
    shot(page, "07-patient-view")
    page.get_by_role("button", name="Back to the practitioner view").click()
    wait_idle(page)

    goto_page(page, "Settings")
    no_exception(page)
    assert str(Path(server["data"]).resolve()) in page.inner_text("body")
    shot(page, "08-settings")
