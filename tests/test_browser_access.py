"""Access control in a real browser: `streamlit run tests/apps/access_app.py` + Playwright driving
Debian's Chromium (/usr/bin/chromium; never `playwright install`).

Skipped when Chromium is missing, unless SKIN_PROGRESS_REQUIRE_BROWSER=1 (CI), then it fails.
"""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def _serve(script: Path, data: Path, **extra_env):
    """`streamlit run script` on a free port with its own data folder; yields (base URL, log path)."""
    port = _free_port()
    env = dict(os.environ, SKIN_PROGRESS_DATA_DIR=str(data), PYTHONPATH=str(REPO), **extra_env)
    for k in ("SKIN_PROGRESS_DEMO", "SKIN_PROGRESS_SETUP_CODE", "SKIN_PROGRESS_DATABASE_URL"):
        env.pop(k, None)
    log_path = data.parent / f"streamlit-{port}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=str(script.parent), env=env, stdout=log, stderr=subprocess.STDOUT)
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
                raise RuntimeError("streamlit exited: " + log_path.read_text()[-2000:])
        else:
            raise RuntimeError("streamlit did not become healthy in 30 s")
        yield base, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _clinic(d: Path) -> dict:
    """Alice (P-A) and Bob (P-B), each with a GPS-tagged photo; practitioner 'anna'; a link for Alice."""
    from analyzer import auth
    from analyzer.store import Store

    store = Store(data_dir=d)
    ids = {}
    for code, name, seed in (("P-A", "Alice Alpha", 1), ("P-B", "Bob Beta", 2)):
        p = store.create_patient(code, name)
        s = store.create_series(p.id, body_area="face", concerns=["redness"], name=f"series of {code}")
        se = store.add_session(s.id, date=dt.date(2026, 1, 1))
        ph = store.add_photo(se.id, view="front", data=gps_jpeg(seed), filename=f"{code}.jpg")
        ids[code] = dict(patient=p.id, series=s.id, photo=ph.id)
    prac = auth.create_first_practitioner(store, "anna", PW, PW)
    ids["link"] = auth.issue_patient_link(store, prac, ids["P-A"]["patient"]).token
    store.close()
    return ids


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """tests/apps/access_app.py (the gate + a patient page through PatientScope) on a free port."""
    _need_browser()
    d = tmp_path_factory.mktemp("browser") / "data"
    ids = _clinic(d)
    with _serve(APP, d) as (base, log):
        yield dict(base=base, ids=ids, log=log)


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def settle(page, timeout: float = 60_000) -> None:
    """Wait until the app script has run and finished (state ``notRunning``, no running status widget)."""
    page.wait_for_timeout(250)  # let a click's rerun start
    page.wait_for_function(
        """() => { const app = document.querySelector('[data-testid="stApp"]');
                   return app && app.getAttribute('data-test-script-state') === 'notRunning'
                          && !document.querySelector('[data-testid="stStatusWidgetRunningIcon"]'); }""",
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
    prac.get_by_role("button", name="Revoke").first.click()  # the newest link is listed first
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


# ---- the real app (app.py + its pages), once the gate is wired in --------------------------------

REAL_APP = Path(os.environ.get("SKIN_PROGRESS_ACCESS_APP") or REPO / "app.py")


@pytest.mark.skipif("require_user(" not in REAL_APP.read_text(),
                    reason="app.py does not call ui.auth.require_user yet")
def test_browser_real_app_gate_has_no_side_door(tmp_path, browser):
    """A fresh server: the very first request names a page directly. Nothing may show.

    (With a folder named pages/ next to app.py, Streamlit would start in its old pages-folder
    mode and serve /patients straight from pages/patients.py, without app.py and its gate, until
    some session has run st.navigation. The pages live in app_pages/, which closes that door.)
    """
    d = tmp_path / "data"
    ids = _clinic(d)
    with _serve(REAL_APP, d, SKIN_PROGRESS_SAMPLE_DIR=str(tmp_path / "no-demo")) as (base, log):
        ctx = browser.new_context()
        for path in ("patients", "progress", "patient_view", "settings", "access"):
            page = ctx.new_page()
            page.goto(f"{base}/{path}")
            settle(page)
            text = body(page)
            assert "Alice" not in text and "Bob" not in text, f"/{path} shown without sign-in"
            page.close()

        # the patient link shows the patient view of Alice only; leaving it is not possible
        page = ctx.new_page()
        page.goto(f"{base}/?access={ids['link']}")
        page.get_by_text("Alice Alpha").first.wait_for(timeout=60_000)
        settle(page)
        assert "Bob" not in body(page) and "access=" not in page.url
        leave = page.get_by_role("button", name="Back to the practitioner view")
        if leave.count():
            leave.click()
            settle(page)
            assert "Bob" not in body(page) and "Alice Alpha" in body(page)
        page.get_by_role("button", name="Sign out").click()
        page.get_by_text("You are signed out.").wait_for(timeout=30_000)
        assert "Alice" not in body(page)

        # a practitioner signs in and out
        page.get_by_label("Username").fill("anna")
        page.get_by_label("Password", exact=True).fill(PW)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Sign out").wait_for(timeout=60_000)
        settle(page)
        page.get_by_role("button", name="Sign out").click()
        page.get_by_text("You are signed out.").wait_for(timeout=30_000)
        settle(page)
        assert "Alice" not in body(page) and "Bob" not in body(page)
        ctx.close()
        logged = log.read_text()
        for secret in ("Alice", "Bob", ids["link"], PW):
            assert secret not in logged
