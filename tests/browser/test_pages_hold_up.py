"""Pages hold up in Chromium: long text wraps, and a phone sees the key figures without scrolling sideways."""

from __future__ import annotations

import pytest

from tests import factories as f
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.seed import seed_results, seed_world

pytestmark = pytest.mark.browser

PAGE_WIDTH = "document.documentElement.scrollWidth"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_10000_character_description_leaves_the_page_at_the_viewports_width(page, log_in, viewport):
    world = seed_world()
    lab = world.labs[0]
    lab.description = "x" * 10_000
    lab.save()
    page.set_viewport_size(viewport)
    log_in("alice", world.password)
    page.goto(lab.get_absolute_url())
    assert page.evaluate(PAGE_WIDTH) == viewport["width"]
    # The text is all there, wrapped inside its card rather than cut off.
    profile = page.locator("section[aria-labelledby=profile-h]")
    assert "x" * 10_000 in profile.inner_text()
    assert profile.bounding_box()["width"] <= viewport["width"]


def _inside(box: dict, width: int) -> bool:
    return box["x"] >= 0 and box["x"] + box["width"] <= width


def _open_results(page, log_in, viewport: dict) -> None:
    """Alice, at this viewport, on the results of a run of the three founders."""
    world = seed_world()
    scenario = f.ScenarioFactory(consortium=world.consortium, name="Three founders", labs=world.labs)
    run = seed_results(scenario)
    page.set_viewport_size(viewport)
    log_in("alice", world.password)
    page.goto(run.get_absolute_url())


def test_on_a_phone_the_results_savings_and_settlement_are_inside_the_viewport(page, log_in):
    _open_results(page, log_in, PHONE)
    assert page.evaluate(PAGE_WIDTH) == PHONE["width"]
    savings = page.locator("table.members-table tbody tr").first.locator("td.savings")
    assert "%" in savings.inner_text()
    assert _inside(savings.bounding_box(), PHONE["width"]), savings.bounding_box()
    settlement = page.locator("table.settlement-table tbody tr").first.locator("td").last
    assert "$" in settlement.inner_text()
    assert _inside(settlement.bounding_box(), PHONE["width"]), settlement.bounding_box()
    # Each figure is named beside it, since the column headings are not shown.
    label = savings.evaluate("(cell) => getComputedStyle(cell, '::before').content")
    assert "Savings" in label


CHART_AXIS = """(id) => {
  const chart = Chart.getChart(document.getElementById(id));
  const x = chart.scales.x;
  return {
    rotation: x.labelRotation, shown: x.ticks.map((t) => t.label), names: chart.data.labels,
    drawn: chart.canvas.dataset.drawn,
  };
}"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_members_names_under_the_results_charts_stay_inside_them(page, log_in, viewport):
    """Tilted, the first member's name ran past the chart's left edge on a phone: there the names
    stand upright, cut to 14 characters (the tooltip and the data keep them whole); on a desktop
    they are shown whole."""
    _open_results(page, log_in, viewport)
    for chart in ("chart-costs", "chart-savings"):
        axis = page.evaluate(CHART_AXIS, chart)
        assert axis["drawn"] == "true"
        assert "Cirrus Research" in axis["names"]
        if viewport is PHONE:
            assert axis["rotation"] == 90, axis
            assert "Cirrus Resear\u2026" in axis["shown"], axis
            assert max(len(label) for label in axis["shown"]) <= 14
        else:
            assert "Cirrus Research" in axis["shown"], axis


# An A4 page's printable width at 96 px per inch (210 mm less 2 x 12.7 mm margins).
PRINTABLE_WIDTH = 698


def test_the_printed_report_fits_its_tables_on_the_page_and_drops_the_breadcrumb(page, log_in):
    world = seed_world()
    scenario = f.ScenarioFactory(consortium=world.consortium, name="Three founders", labs=world.labs)
    run = seed_results(scenario)
    log_in("alice", world.password)
    page.goto(f"/simulations/runs/{run.pk}/report/{world.labs[0].pk}/")
    page.set_viewport_size({"width": PRINTABLE_WIDTH, "height": 1000})
    page.emulate_media(media="print")
    assert not page.locator(".breadcrumbs").is_visible()
    rights = page.evaluate("() => [...document.querySelectorAll('table')].map(t => t.getBoundingClientRect().right)")
    assert rights and max(rights) <= PRINTABLE_WIDTH, rights
    assert page.evaluate(PAGE_WIDTH) <= PRINTABLE_WIDTH
