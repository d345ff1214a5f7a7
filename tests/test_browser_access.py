"""Access control in a real browser: `streamlit run tests/apps/access_app.py` + Playwright driving
Debian's Chromium (/usr/bin/chromium; never `playwright install`).

Skipped when Chromium is missing, unless SKIN_PROGRESS_REQUIRE_BROWSER=1 (CI), then it fails.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from tests.test_auth import gps_jpeg

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[1]
APP = REPO / "tests" / "apps" / "access_app.py"
PW = "correct horse battery"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def _need_browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("SKIN_PROGRESS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and SKIN_PROGRESS_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} not installed")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if os.environ.get("SKIN_PROGRESS_REQUIRE_BROWSER") == "1":
            raise
        pytest.skip("playwright (python package) not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Two patients (Alice with a GPS-tagged photo, Bob), one practitioner; the app on a free port."""
    _need_browser()
    from analyzer import auth
    from analyzer.store import Store

    d = tmp_path_factory.mktemp("browser") / "data"
    store = Store(data_dir=d)
    ids = {}
    for code, name, seed in (("P-A", "Alice Alpha", 1), ("P-B", "Bob Beta", 2)):
        p = store.create_patient(code, name)
        s = store.create_series(p.id, body_area="face", concerns=["redness"], name=f"series of {code}")
        se = store.add_session(s.id, date=dt.date(2026, 1, 1))
        ph = store.add_photo(se.id, view="front", data=gps_jpeg(seed), filename=f"{code}.jpg")
        ids[code] = dict(patient=p.id, series=s.id, photo=ph.id)
    auth.create_first_practitioner(store, "anna", PW, PW)
    store.close()

    port = _free_port()
    env = dict(os.environ, SKIN_PROGRESS_DATA_DIR=str(d), PYTHONPATH=str(REPO))
    for k in ("SKIN_PROGRESS_DEMO", "SKIN_PROGRESS_SETUP_CODE"):
        env.pop(k, None)
    log = open(d.parent / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=str(REPO), env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(base + "/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
            if proc.poll() is not None:
                raise RuntimeError("streamlit exited: " + (d.parent / "streamlit.log").read_text()[-2000:])
        else:
            raise RuntimeError("streamlit did not become healthy in 30 s")
        yield dict(base=base, ids=ids, log=d.parent / "streamlit.log")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def settle(page, timeout: float = 30_000) -> None:
    """Wait until the app script has finished (no running status widget)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    page.wait_for_function(
        """() => { const app = document.querySelector('[data-testid="stApp"]');
                   return app && app.getAttribute('data-test-script-state') !== 'running'
                          && !document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]'); }""",
        timeout=timeout)
    page.wait_for_timeout(300)


def body(page) -> str:
    return page.inner_text("body")


def sign_in(page, base: str) -> None:
    page.goto(base)
    page.get_by_label("Username").fill("anna")
    page.get_by_label("Password", exact=True).fill(PW)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Alice Alpha (P-A)").wait_for(timeout=30_000)
    settle(page)


def test_browser_patient_link_own_data_only_revocation_and_sign_out(server, browser):
    base, ids = server["base"], server["ids"]
    prac_ctx = browser.new_context()
    prac = prac_ctx.new_page()
    sign_in(prac, base)
    assert "role: practitioner" in body(prac)

    # the practitioner makes a link; the code is shown once
    prac.get_by_role("button", name="Create link").click()
    code_el = prac.locator('[data-testid="stCode"]').first
    code_el.wait_for(timeout=30_000)
    token = re.search(r"[A-Za-z0-9_-]{32}", code_el.inner_text()).group(0)

    # the patient opens the link in another browser, with Bob's id slipped into the URL
    pat_ctx = browser.new_context()
    pat = pat_ctx.new_page()
    pat.goto(f"{base}/?access={token}&patient={ids['P-B']['patient']}&photo={ids['P-B']['photo']}")
    pat.get_by_text("role: patient").wait_for(timeout=30_000)
    settle(pat)
    text = body(pat)
    assert "denied" in text
    assert "Bob" not in text and "P-B" not in text
    assert "access=" not in pat.url  # the token left the address bar

    # the patient's own page (only their own id in the URL) shows their photo, without GPS
    pat.goto(f"{base}/?access={token}")
    pat.get_by_role("heading", name="Alice Alpha (P-A)").wait_for(timeout=30_000)
    settle(pat)
    assert "Bob" not in body(pat)
    src = pat.locator('[data-testid="stImage"] img').first.get_attribute("src")
    data = pat_ctx.request.get(src if src.startswith("http") else base + src).body()
    im = Image.open(io.BytesIO(data))
    assert im.format == "JPEG" and not im.getexif() and b"GPSCam" not in data

    # the practitioner revokes the link: the patient's next interaction is refused
    prac.get_by_role("button", name="Revoke").click()
    prac.get_by_text("revoked").first.wait_for(timeout=30_000)
    pat.get_by_role("button", name="Refresh").click()
    pat.get_by_text("expired or was withdrawn").wait_for(timeout=30_000)
    settle(pat)
    assert "Alice" not in body(pat)
    pat.goto(f"{base}/?access={token}")
    pat.get_by_text("not valid").wait_for(timeout=30_000)
    assert "Alice" not in body(pat)

    # signing out ends the practitioner's access
    prac.get_by_role("button", name="Sign out").click()
    prac.get_by_text("You are signed out.").wait_for(timeout=30_000)
    settle(prac)
    assert "Alice" not in body(prac) and "Bob" not in body(prac)
    prac.goto(base)
    prac.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
    assert "Alice" not in body(prac)
    prac_ctx.close()
    pat_ctx.close()

    log = server["log"].read_text()
    for secret in ("Alice", "Bob", token, PW):
        assert secret not in log


def test_browser_code_guessing_is_slowed_down(server, browser):
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(server["base"])
    page.get_by_role("tab", name="Patient code").click()
    field = page.get_by_label("Access code")
    seen = []
    for i in range(6):
        field.fill(f"guess{i:027d}")
        page.get_by_role("button", name="Open my progress").click()
        page.locator('[data-testid="stAlertContentError"]').first.wait_for(timeout=30_000)
        settle(page)
        seen.append(page.locator('[data-testid="stAlertContentError"]').first.inner_text())
    assert all(s.startswith("this link or code is not valid") for s in seen[:5])
    assert seen[5].startswith("too many failed attempts")
    ctx.close()
