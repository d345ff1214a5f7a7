"""Real browser at phone size (390 px): a patient sends a day-1 and a day-3 recovery photo through
their link; the practitioner's recovery chart shows both, and a symptom raises a flag on the
patient list. Never runs `playwright install`: it uses /usr/bin/chromium.

The recovery photos are SIMULATED: the baseline photo (the demo's first session, half size) with
CIELAB a* raised by 6 (day 1) and 2.5 (day 3), so the redness settles by a known amount. Between
the two uploads the test moves the treatment session and the day-1 visit two days back in the
database (the clock can't be moved in a running server): the day-3 check-in is then open today.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.access_support import ensure_practitioner, sign_in_browser
from tests.test_app_support import SAMPLES, _load_small, jpeg, shift_a_star
from tests.test_browser import CHROMIUM, SHOTS, goto_page, no_exception, run_app, wait_idle

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from analyzer import auth, service
    from tests.access_support import PASSWORD, USERNAME

    tmp = tmp_path_factory.mktemp("checkin")
    data = tmp / "data"
    base = _load_small(SAMPLES / "2026-01-14" / "front.jpg")
    files = {"day1": tmp / "day1.jpg", "day3": tmp / "day3.jpg"}
    files["day1"].write_bytes(jpeg(shift_a_star(base, 6.0)))
    files["day3"].write_bytes(jpeg(shift_a_star(base, 2.5)))
    ensure_practitioner(data)
    store = service.open_store(data_dir=data)
    pat, ser = service.create_patient_with_series(store, code="REC-001", display_name="Rita Recovery",
                                                  concerns=["redness"], consent_photos=True)
    today = dt.date.today()
    treat, _, _ = service.add_session_with_photos(store, ser.id, date=today - dt.timedelta(days=1),
                                                  photos=[("front", jpeg(base), "before.jpg")], device="Dermapen 4",
                                                  needle_depth_mm=1.0)
    service.analyze_series(store, ser.id)
    prac = auth.authenticate(store, USERNAME, PASSWORD)
    link = auth.issue_patient_link(store, prac, pat.id)
    store.close()
    return {"tmp": tmp, "data": data, "files": files, "patient_id": pat.id, "series_id": ser.id,
            "treatment_id": treat.id, "token": link.token, "today": today}


@pytest.fixture(scope="module")
def server(setup):
    tmp, data = setup["tmp"], setup["data"]
    with run_app(data, tmp / "no-demo", tmp / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                                    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"])
        yield b
        b.close()


def _phone_page(browser):
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    return pg


def _fits(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px phone"


def _nav(page, title: str) -> None:
    """Go to a page through the sidebar (folded away on a phone: open it first)."""
    link = page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True)
    def on_screen() -> bool:
        box = link.bounding_box() if link.count() else None
        return box is not None and 0 <= box["x"] < PHONE["width"]

    for _ in range(3):
        if on_screen():
            break
        expand = page.get_by_test_id("stExpandSidebarButton")
        if expand.is_visible():
            expand.click()
        more = page.locator('[data-testid="stSidebarNavViewButton"]')
        if more.is_visible():
            more.click()
        page.wait_for_timeout(800)
    if not on_screen():
        page.screenshot(path=str(SHOTS / "checkin-nav-failed-390.png"))
    goto_page(page, title)


def _send_checkin(page, photo, *, day: int, symptom: tuple[str, str]) -> None:
    page.get_by_text(f"Recovery check-in: day {day}").wait_for(timeout=60_000)
    page.get_by_role("tab", name="Upload a photo instead").click()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(photo))
    wait_idle(page)
    name, level = symptom
    page.locator('[data-testid="stRadio"]').filter(has_text=name).get_by_text(level, exact=True).click()
    wait_idle(page)
    page.get_by_role("button", name="Send my check-in").click()
    wait_idle(page, timeout=240)
    if page.get_by_role("button", name="Send it anyway").count():  # the check before keeping had a remark
        page.get_by_role("button", name="Send it anyway").click()
        wait_idle(page, timeout=240)
    no_exception(page)
    page.get_by_text(f"Your day-{day} check-in was sent to your practitioner").wait_for(timeout=60_000)


def test_patient_sends_day1_and_day3_photos_chart_and_flag_at_phone_size(setup, server, browser, capsys):
    from analyzer import service
    from analyzer.recovery import curves_from_sessions

    SHOTS.mkdir(parents=True, exist_ok=True)
    pat = _phone_page(browser)
    pat.goto(f"{server}/?access={setup['token']}")
    wait_idle(pat)
    no_exception(pat)
    body = pat.inner_text("body")
    assert "Recovery check-in: day 1" in body and "Aftercare" in body and "sunscreen" in body
    assert "Series verdict" not in body
    _fits(pat)
    pat.screenshot(path=str(SHOTS / "checkin-01-day1-390.png"), full_page=True)
    _send_checkin(pat, setup["files"]["day1"], day=1, symptom=("Redness", "mild"))
    _fits(pat)
    pat.get_by_text("Thank you").first.scroll_into_view_if_needed()
    pat.screenshot(path=str(SHOTS / "checkin-02-day1-sent-390.png"))

    # two days later: move the treatment and the day-1 visit back two days
    store = service.open_store(data_dir=setup["data"])
    sessions = store.list_sessions(setup["series_id"])
    visit1 = next(s for s in sessions if s.kind == "recovery")
    today = setup["today"]
    store.update_session(setup["treatment_id"], date=today - dt.timedelta(days=3))
    store.update_session(visit1.id, date=today - dt.timedelta(days=2))
    pat.goto(f"{server}/?access={setup['token']}")  # the link again (a reload would start a new sign-in)
    wait_idle(pat)
    _send_checkin(pat, setup["files"]["day3"], day=3, symptom=("Swelling", "moderate"))
    _fits(pat)
    pat.get_by_text("Thank you").first.scroll_into_view_if_needed()
    pat.screenshot(path=str(SHOTS / "checkin-03-day3-sent-390.png"))

    # stored: two recovery visits sent by the patient, analysed, on the recovery curve at days 1 and 3
    visits = [s for s in store.list_sessions(setup["series_id"]) if s.kind == "recovery"]
    assert len(visits) == 2 and all(service.sent_by_patient(store, v.id).sent_by == "patient" for v in visits)
    rows = service.progress_table(store, setup["series_id"])
    curve = curves_from_sessions(rows, store.list_sessions(setup["series_id"]), view="front")[0]
    assert [d for d, _ in curve.points] == [1.0, 3.0]
    excess = dict(curve.excess)
    assert excess[1.0] > excess[3.0] > 0 and curve.ok
    flags = service.recovery_flags(store, patient_id=setup["patient_id"])
    assert [f.text for f in flags if f.kind == "symptom"] == ["day 3: moderate swelling"]
    store.close()
    with capsys.disabled():
        print(f"\nrecovery curve: excess a* {excess}, half-life {curve.half_life_days:.2f} days")

    # the practitioner, also on a phone: the flag on the patient list, the chart on the session page
    prac = _phone_page(browser)
    sign_in_browser(prac, server)
    prac.get_by_role("button", name="Sign out").wait_for(timeout=60_000)
    wait_idle(prac)
    _nav(prac, "Patients")
    if prac.get_by_test_id("stSidebarCollapseButton").is_visible():
        prac.get_by_test_id("stSidebarCollapseButton").click()
        prac.wait_for_timeout(500)
    body = prac.inner_text("body")
    assert "1 patient with a recovery flag" in body and "day 3: moderate swelling" in body
    assert "1 recovery flag" in body
    _fits(prac)
    prac.get_by_text("day 3: moderate swelling").scroll_into_view_if_needed()
    prac.screenshot(path=str(SHOTS / "checkin-04-flag-390.png"))
    # choose the patient in the sidebar, then open Series & sessions
    _nav(prac, "Series & sessions")
    if "Rita Recovery" not in prac.locator('[data-testid="stMain"]').inner_text():
        if not prac.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.is_visible():
            prac.get_by_test_id("stExpandSidebarButton").click()
        prac.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
        prac.get_by_role("option", name="Rita Recovery (REC-001)").click()
        wait_idle(prac)
        if prac.get_by_test_id("stSidebarCollapseButton").is_visible():
            prac.get_by_test_id("stSidebarCollapseButton").click()
    no_exception(prac)
    label = (today - dt.timedelta(days=3)).isoformat()
    prac.locator('[data-testid="stExpander"] summary').filter(has_text=label).first.click()
    wait_idle(prac)
    prac.get_by_text("Redness after the session").first.wait_for(timeout=60_000)
    assert "redness halves in" in prac.inner_text("body")
    chart = prac.locator('[data-testid="stVegaLiteChart"]').first
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    prac.screenshot(path=str(SHOTS / "checkin-05-chart-390.png"))
    _fits(prac)
    # the day-1 visit says it was sent by the patient, with the symptoms
    prac.locator('[data-testid="stExpander"] summary').filter(
        has_text=(today - dt.timedelta(days=2)).isoformat()).first.click()
    wait_idle(prac)
    badge = prac.get_by_text("check-in day 1: redness mild")
    badge.wait_for(timeout=30_000)
    assert "sent by the patient" in badge.inner_text()
    badge.scroll_into_view_if_needed()
    prac.screenshot(path=str(SHOTS / "checkin-06-visit-390.png"))
