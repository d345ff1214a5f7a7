"""What a person sees, in a real browser at a phone's width (390 px) and a desktop's (1440 px).

`streamlit run app.py` on the half-size demo (demo mode: no sign-in), driven by Playwright with
Debian's Chromium (/usr/bin/chromium; never `playwright install`). On Progress, Review and the
patient view:

* nothing is wider than the window (no sideways scrolling, every chart, picture and frame inside);
* no "None", "nan", snake_case key or raw metric key (group.region.key) in the visible text;
* the before/after slider's two halves are the same face: both pictures fill the same box, inside
  the window, "before" left of the bar, and the pictures themselves match (aligned photos).

Screenshots go to test-artifacts/screenshots/layout-<page>-<width>.png for a person to look at.
"""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from tests.test_app_support import REPO, make_small_demo
from tests.test_browser_access import ARGS, CHROMIUM, _need_browser, _serve, settle

pytestmark = pytest.mark.browser
WIDTHS = (390, 1440)
SHOTS = REPO / "test-artifacts" / "screenshots"

# Words a person should never read: Python's None, a NaN, snake_case keys, raw metric keys.
BAD_WORDS = [
    (re.compile(r"\bNone\b"), "None"),
    (re.compile(r"\b(?:nan|NaN)\b"), "nan"),
    (re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b"), "snake_case key"),
    (re.compile(r"\b[a-z_]+\.[a-z_]+\.[a-z_*]+"), "raw metric key"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _need_browser()
    from analyzer import service

    tmp = tmp_path_factory.mktemp("layout")
    demo = make_small_demo(tmp / "demo")
    data = tmp / "data"
    s = service.open_store(data_dir=data)
    service.ensure_demo(s, sample_dir=demo)
    s.close()
    with _serve(REPO / "app.py", data, SKIN_PROGRESS_SAMPLE_DIR=str(demo)) as (base, log):
        yield {"base": base, "log": log}


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def visible_text(page) -> str:
    """The main column's text as shown, without icon ligatures (an icon's name is not read)."""
    text = page.inner_text('[data-testid="stMain"]')
    icons = set(page.locator('[data-testid="stMain"] [data-testid="stIconMaterial"]').all_inner_texts())
    return "\n".join(line for line in text.splitlines() if line.strip() not in icons)


def bad_words(text: str) -> list[str]:
    out = []
    for rx, what in BAD_WORDS:
        out += [f"{what}: {m.group(0)!r} in …{text[max(0, m.start() - 40):m.end() + 20]!r}…"
                for m in rx.finditer(text)]
    return out


def too_wide(page) -> list[str]:
    """Elements of the main column that reach past the window's right edge (or the page scrolls
    sideways). Elements scrolled inside a box of their own (a table's grid) are judged by that box."""
    return page.evaluate(
        """() => {
            const W = document.documentElement.clientWidth, out = [];
            if (document.documentElement.scrollWidth > W + 1) out.push('page scrolls sideways: '
                + document.documentElement.scrollWidth + ' > ' + W);
            const main = document.querySelector('[data-testid="stMain"]');
            const inScroller = el => { for (let p = el.parentElement; p && p !== main; p = p.parentElement) {
                const s = getComputedStyle(p); if (['auto', 'scroll', 'hidden'].includes(s.overflowX)) return true; }
                return false; };
            for (const el of main.querySelectorAll('*')) {
                const r = el.getBoundingClientRect();
                if (r.width === 0 || r.height === 0) continue;
                if (r.right > W + 1 && !inScroller(el)) {
                    out.push(`${el.tagName.toLowerCase()}.${(el.className && el.className.baseVal !== undefined
                        ? el.className.baseVal : el.className || '').toString().slice(0, 40)}`
                        + ` [${el.getAttribute('data-testid') || ''}] right=${Math.round(r.right)} > ${W}`);
                }
            }
            // charts: the drawn chart (canvas or svg) must fit its own box too
            for (const c of main.querySelectorAll('[data-testid="stVegaLiteChart"] canvas, '
                                                 + '[data-testid="stVegaLiteChart"] svg.marks')) {
                const r = c.getBoundingClientRect();
                if (r.right > W + 1) out.push('chart drawn past the edge: right=' + Math.round(r.right));
            }
            return out;
        }""")


def screenshot(page, name: str) -> None:
    """The whole page (Streamlit scrolls its main column, not the window: the window is made as
    tall as the content for the picture, then put back)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    vp = page.viewport_size
    h = page.evaluate("""() => { const m = document.querySelector('[data-testid="stMain"]');
                                  return m ? m.scrollHeight : document.body.scrollHeight; }""")
    page.set_viewport_size({"width": vp["width"], "height": max(vp["height"], min(int(h) + 40, 9000))})
    page.wait_for_timeout(600)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(vp)
    page.wait_for_timeout(300)


def check_page(page, name: str, width: int) -> None:
    page.wait_for_timeout(800)  # charts draw after the script run
    screenshot(page, f"layout-{name}-{width}")
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()
    assert "Page not found" not in page.inner_text("body"), name
    wide = too_wide(page)
    assert not wide, f"{name} at {width} px: " + "; ".join(wide[:8])
    bad = bad_words(visible_text(page))
    assert not bad, f"{name} at {width} px: " + "; ".join(bad[:8])


def _decode(src: str) -> np.ndarray:
    data = base64.b64decode(src.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("L").resize((96, 96)), np.float32)


def check_slider(page, width: int) -> None:
    """Both halves show the same face: same box, inside the window, and matching pictures."""
    frame_el = page.locator('iframe').first
    frame_el.wait_for()
    fbox = frame_el.bounding_box()
    frame = page.frame_locator('iframe').first
    frame.locator('#after').wait_for()
    boxes = {k: frame.locator(f'#{k}').bounding_box() for k in ("before", "after", "ba")}
    b, a = boxes["before"], boxes["after"]
    for k in ("x", "y", "width", "height"):
        assert abs(b[k] - a[k]) < 1.0, (k, b, a)  # the same box: same scale, same place
    assert fbox["x"] + b["x"] + b["width"] <= width + 1, (fbox, b, width)
    assert b["width"] > 100 and b["height"] > 100
    # the frame is tall enough to show the whole picture (no cut, no scrolling inside)
    assert fbox["height"] >= b["height"] - 1, (fbox, b)
    # "before" is on the left of the bar: the after picture is clipped from the left
    clip = frame.locator('#after').evaluate("e => getComputedStyle(e).clipPath")
    assert clip.startswith("inset(0") and "50%" in clip, clip
    labels = frame.locator("span").all_inner_texts()
    assert labels[0].startswith(("Before", "First")), labels
    # and the two pictures are the same face, lined up (aligned photos of one person)
    pb = _decode(frame.locator('#before').get_attribute("src"))
    pa = _decode(frame.locator('#after').get_attribute("src"))
    corr = float(np.corrcoef(pb.ravel(), pa.ravel())[0, 1])
    assert corr > 0.8, corr


def open_page(page, base: str, path: str) -> None:
    page.goto(f"{base}/{path}")
    settle(page, timeout=240_000)


@pytest.mark.parametrize("width", WIDTHS)
def test_progress_review_and_patient_view_fit_the_window(server, browser, width):
    ctx = browser.new_context(viewport={"width": width, "height": 844 if width < 600 else 900})
    page = ctx.new_page()
    page.set_default_timeout(120_000)
    base = server["base"]

    open_page(page, base, "progress")
    page.wait_for_selector('[data-testid="stVegaLiteChart"]')
    assert "Progress" in visible_text(page)
    check_page(page, "progress", width)

    open_page(page, base, "review")
    assert "Review" in visible_text(page)
    check_page(page, "review", width)
    page.get_by_role("tab", name="Before / after slider").click()
    page.wait_for_timeout(500)
    check_slider(page, width)
    screenshot(page, f"layout-review-slider-{width}")
    page.get_by_role("tab", name="Change maps").click()
    page.wait_for_timeout(500)
    check_page(page, "review-maps", width)

    open_page(page, base, "patient_view")
    page.get_by_role("button", name="Open the patient view for this patient").click()
    settle(page, timeout=240_000)
    page.wait_for_selector('[data-testid="stVegaLiteChart"]')
    assert "Your progress" in visible_text(page)
    check_page(page, "patient-view", width)
    check_slider(page, width)
    ctx.close()


def test_a_bookmarked_page_opens_after_sign_in(tmp_path, browser):
    """/review before sign-in: the sign-in form (no "Page not found"); after it, Review itself.
    /progress (the default page's own address) opens Progress."""
    from tests.test_browser_access import PW, _clinic

    d = tmp_path / "data"
    _clinic(d)
    with _serve(REPO / "app.py", d, SKIN_PROGRESS_SAMPLE_DIR=str(tmp_path / "no-demo")) as (base, _log):
        ctx = browser.new_context(viewport={"width": 390, "height": 844})
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        for path in ("review", "progress"):
            page.goto(f"{base}/{path}")
            page.get_by_label("Username").wait_for()
            settle(page)
            assert "Page not found" not in page.inner_text("body")
            page.get_by_label("Username").fill("anna")
            page.get_by_label("Password", exact=True).fill(PW)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("button", name="Sign out").wait_for()
            settle(page)
            assert page.url.rstrip("/").endswith(f"/{path}"), page.url
            text = page.inner_text("body")
            # that page ran: it asks for a patient (nobody is pre-selected among real patients)
            assert "Page not found" not in text and "Choose or create a patient first" in text
            page.locator('[data-testid="stSidebarNav"]')  # the navigation is there
        ctx.close()
