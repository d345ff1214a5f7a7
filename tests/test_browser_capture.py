"""Real browser, fake camera: capture through the ghost-capture component, check, keep.

Chromium's fake camera plays a Y4M (I420) file written from a real photo (zoom/30cm.jpg, 1152 x
1536). The data folder holds a patient whose baseline session has that same photo as its front
view, and a second session. On the sessions page's camera tab the test checks that the
component shows the live camera at the source's size with the baseline's ghost and face outline
over it, takes the photo, gets the pre-keep verdict, keeps the photo, and finds it stored at the
camera's full resolution and aligned to the baseline. It prints the captured resolution and the
time from the shot to the verdict. Never runs `playwright install`: it uses /usr/bin/chromium.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.access_support import ensure_practitioner, sign_in_browser
from tests.conftest import photo_path
from tests.test_browser import CHROMIUM, SHOTS, goto_page, no_exception, run_app, shot, wait_idle

pytestmark = pytest.mark.browser

SOURCE = "faces/zoom/30cm.jpg"


def write_y4m(rgb8: np.ndarray, path: Path, frames: int = 2) -> None:
    """A Y4M file (4:2:0, I420 planes, BT.601 studio range as OpenCV writes it) of one still."""
    h, w = rgb8.shape[:2]
    yuv = cv2.cvtColor(cv2.cvtColor(rgb8, cv2.COLOR_RGB2BGR), cv2.COLOR_BGR2YUV_I420)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(frames):
            f.write(b"FRAME\n")
            f.write(yuv.tobytes())


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from analyzer import service
    from analyzer.io import load_photo

    tmp = tmp_path_factory.mktemp("capture")
    data = tmp / "data"
    src = photo_path(SOURCE)
    rgb8 = load_photo(src).to_uint8()
    y4m = tmp / "camera.y4m"
    write_y4m(rgb8, y4m)
    ensure_practitioner(data)
    store = service.open_store(data_dir=data)
    pat, ser = service.create_patient_with_series(store, code="CAM-001", display_name="Camera Test",
                                                   consent_photos=True)
    base, _, _ = service.add_session_with_photos(store, ser.id, date=dt.date(2026, 1, 10),
                                                 photos=[("front", src.read_bytes(), "baseline-30cm.jpg")])
    later, _, _ = service.add_session_with_photos(store, ser.id, date=dt.date(2026, 2, 10))
    store.close()
    return {"tmp": tmp, "data": data, "y4m": y4m, "size": (rgb8.shape[1], rgb8.shape[0]),
            "series_id": ser.id, "later_id": later.id}


@pytest.fixture(scope="module")
def server(setup):
    tmp, data = setup["tmp"], setup["data"]
    with run_app(data, tmp / "no-demo", tmp / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def page(setup):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-video-capture={setup['y4m']}"])
        ctx = browser.new_context(viewport={"width": 1440, "height": 1100})
        pg = ctx.new_page()
        pg.set_default_timeout(60_000)
        yield pg
        browser.close()


def test_capture_through_the_component_at_full_resolution(setup, server, page, capsys):
    from analyzer import ANALYZER_VERSION, service

    sign_in_browser(page, server)
    page.get_by_role("button", name="Sign out").wait_for(timeout=60_000)
    wait_idle(page)
    goto_page(page, "Series & sessions")
    no_exception(page)
    # nobody is pre-selected among real patients: choose the patient in the sidebar
    if "Choose or create a patient first" in page.inner_text("body"):
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name="Camera Test (CAM-001)").click()
        wait_idle(page)
    assert "Camera Test" in page.inner_text("body")
    page.get_by_role("tab", name="Camera (tablet)").click()

    frame = page.frame_locator('iframe[title="ui.capture.ghost_capture"]')
    # the live camera at the source's own size, the ghost and the outline over it
    info = frame.get_by_test_id("capture-info")
    info.get_by_text("Camera ").wait_for(timeout=60_000)
    w, h = setup["size"]
    assert f"Camera {w} × {h}" in info.inner_text()
    ghost = frame.get_by_test_id("ghost-image")
    assert (ghost.get_attribute("src") or "").startswith("data:image/jpeg;base64,")
    assert ghost.evaluate("g => g.complete && g.naturalWidth > 0 && getComputedStyle(g).display !== 'none'")
    assert float(ghost.evaluate("g => getComputedStyle(g).opacity")) == pytest.approx(0.35, abs=0.01)
    assert frame.locator("svg ellipse").count() == 1
    # the frame settles at one height (no resize loop between the component and the page)
    heights = []
    for _ in range(4):
        heights.append(page.locator('iframe[title="ui.capture.ghost_capture"]').bounding_box()["height"])
        page.wait_for_timeout(400)
    assert len(set(heights)) == 1, heights
    size = frame.locator("video").evaluate("v => [v.videoWidth, v.videoHeight]")
    assert size == [w, h]
    # the opacity slider changes the ghost live; the edges view swaps the picture
    frame.get_by_label("ghost opacity").fill("0.6")
    assert float(ghost.evaluate("g => getComputedStyle(g).opacity")) == pytest.approx(0.6, abs=0.01)
    frame.get_by_label("edges only").check()
    assert (ghost.get_attribute("src") or "").startswith("data:image/png;base64,")
    frame.get_by_label("edges only").uncheck()
    page.locator('iframe[title="ui.capture.ghost_capture"]').evaluate("e => e.scrollIntoView()")
    page.screenshot(path=str(SHOTS / "capture-01-ghost-1440.png"))

    # take the photo: the verdict comes back on the page
    t0 = time.perf_counter()
    frame.get_by_role("button", name="Take photo").click()
    page.get_by_text("Check before keeping").wait_for(timeout=120_000)
    verdict_box = page.locator('[data-testid="stAlert"]').filter(has_text="keep").first
    verdict_box.wait_for(timeout=60_000)
    shot_to_verdict = time.perf_counter() - t0
    wait_idle(page)
    no_exception(page)
    body = page.inner_text("body")
    assert "Good to keep" in body, body[-3000:]
    captured = frame.get_by_test_id("capture-info").inner_text()
    timing = page.get_by_text("checked in").first.inner_text()
    page.get_by_text("Check before keeping").evaluate("e => e.scrollIntoView()")
    page.screenshot(path=str(SHOTS / "capture-02-verdict-1440.png"))

    page.get_by_role("button", name="Keep", exact=True).click()
    wait_idle(page, timeout=180)
    no_exception(page)
    assert "stored and analysed" in page.inner_text("body")

    store = service.open_store(data_dir=setup["data"])
    photos = store.list_photos(setup["later_id"])
    assert len(photos) == 1
    p = photos[0]
    assert (p.width, p.height) == (w, h)  # the camera's full resolution, not the widget's size
    a = store.get_analysis(p.id, analyzer_version=ANALYZER_VERSION)
    assert a is not None and a.result["alignment"]["ok"] is True
    shot(page, "capture-03-kept")
    # on a phone-sized window the camera fits the width (nothing wider than the window)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(1500)
    cam = page.locator('iframe[title="ui.capture.ghost_capture"]')
    cam.evaluate("e => e.scrollIntoView()")
    box = cam.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert frame.locator("body").evaluate("b => document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(SHOTS / "capture-04-camera-390.png"))
    with capsys.disabled():
        print(f"\n[capture] {captured.strip()} | stored {p.width}x{p.height} | "
              f"app: {timing.strip()} | shot to verdict on screen {shot_to_verdict:.2f} s")
