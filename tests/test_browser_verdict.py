"""Real browser: a change that can't be told is shown as such (hollow, grey, plain words) in the
progress chart and in the patient view, never as better or worse.

The small demo (tests.test_app_support.make_small_demo) holds real photos of one person from two
sessions without a colour chart (the third carries a SIMULATED a* change): the absolute redness
(a*) of every follow-up can't be told from the light, so its points must be hollow and grey. The
redness against untreated skin in the same photo leads, with a verdict. Uses /usr/bin/chromium,
never `playwright install`. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import pytest

from tests.test_browser import goto_page, no_exception, page, server, shot, wait_idle  # noqa: F401 - fixtures
from ui.charts import CANT_TELL_COLOUR

pytestmark = pytest.mark.browser


def _hollow_grey_points(chart) -> int:
    """Vega (SVG) symbols drawn with the can't-tell stroke and no fill, in one chart element."""
    return chart.evaluate(
        """(el, grey) => [...el.querySelectorAll('g.mark-symbol path')].filter(p => {
               const s = (p.getAttribute('stroke') || '').toLowerCase();
               const f = (p.getAttribute('fill') || 'transparent').toLowerCase();
               return s === grey && (f === 'transparent' || f === 'none');
           }).length""", CANT_TELL_COLOUR.lower())


def _coloured_points(chart) -> list[str]:
    """Fill colours of the filled symbols of a chart element."""
    return chart.evaluate(
        """el => [...el.querySelectorAll('g.mark-symbol path')].map(p => (p.getAttribute('fill') || '')
                 .toLowerCase()).filter(f => f && f !== 'transparent' && f !== 'none')""")


def _charts(pg) -> list[tuple[str, object]]:
    charts = pg.locator('[data-testid="stVegaLiteChart"]')
    return [(charts.nth(i).evaluate("el => el.textContent") or "", charts.nth(i)) for i in range(charts.count())]


def _absolute_redness(pg) -> list:
    """The value and change charts of the absolute redness (a*), not of the redness against
    untreated skin."""
    return [c for t, c in _charts(pg) if "Redness" in t and "untreated" not in t
            and ("value at each session" in t or "change from baseline" in t)]


def test_cant_tell_is_hollow_grey_in_the_chart_and_the_patient_view(server, page):  # noqa: F811
    page.set_viewport_size({"width": 1440, "height": 2400})
    page.goto(server["url"] + "/")
    wait_idle(page, timeout=240)
    page.wait_for_selector('[data-testid="stVegaLiteChart"] svg')
    no_exception(page)
    body = page.inner_text("body")
    # the summary card and the caption under the chart say it in plain words
    assert "can't tell since the first session" in body, body[-3000:]
    assert "hollow grey point: can't tell: the lighting differs and there was no colour reference" in body \
        or "hollow grey point: can't tell: there was no colour reference" in body, body[-3000:]
    assert "hold the grey card by the cheek" in body
    # the comparable measure leads: its charts come before the absolute a* charts
    titles = [t for t, _ in _charts(page)]
    lead = next(i for i, t in enumerate(titles) if "untreated skin" in t)
    absolute = next(i for i, t in enumerate(titles) if "Redness" in t and "untreated" not in t)
    assert lead < absolute, titles
    a_star = _absolute_redness(page)
    assert len(a_star) == 2, titles
    for c in a_star:
        c.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    # both follow-up sessions: hollow grey, in the value chart and in the change chart
    assert all(_hollow_grey_points(c) >= 2 for c in a_star), [_hollow_grey_points(c) for c in a_star]
    for c in a_star:
        assert not any(f in ("#d62728", "#2ca02c", "red", "green") for f in _coloured_points(c))
    assert "hollow grey: can't tell" in " ".join(titles)
    shot(page, "verdict-01-progress-cant-tell")
    a_star[0].screenshot(path=str(_shots() / "verdict-02-a-star-chart.png"))

    # the patient view: the same point, the same words
    goto_page(page, "Patients")
    page.locator('[class*="st-key-pview_"] button').first.click()
    wait_idle(page)
    no_exception(page)
    page.wait_for_selector('[data-testid="stVegaLiteChart"] svg')
    body = page.inner_text("body")
    assert "Your progress" in body
    assert "can't tell" in body and "hold the grey card by the cheek" in body
    assert "hollow grey point" in body
    a_star = _absolute_redness(page)
    assert len(a_star) == 2
    for c in a_star:
        c.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    assert all(_hollow_grey_points(c) >= 2 for c in a_star)
    shot(page, "verdict-03-patient-view-cant-tell")
    page.set_viewport_size({"width": 390, "height": 2400})
    wait_idle(page)
    page.wait_for_timeout(800)
    shot(page, "verdict-04-patient-view-390px")


def _shots():
    from tests.test_browser import SHOTS

    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
