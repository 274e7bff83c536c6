"""The membership advisor in a real browser: the consortium page loads it for the newest scenario
(htmx, after the page is shown), lists the candidates in the advisor's order with a sentence each,
switches scenario in place, and reads on a phone without scrolling sideways."""

from __future__ import annotations

import pytest

from consortium.models import Application
from simulations.advisor import advisor_get
from tests import factories as f
from tests.browser.seed import seed_world

pytestmark = pytest.mark.browser


def test_advisor_lists_candidates_in_order_and_switches_scenario(page, log_in, screenshot):
    world = seed_world()
    aurora, borealis, cirrus = world.labs
    small = f.ScenarioFactory(consortium=world.consortium, name="Two labs", labs=[aurora, borealis])
    newest = f.ScenarioFactory(consortium=world.consortium, name="Founding three", labs=list(world.labs))
    Application.objects.create(consortium=world.consortium, lab=world.outsider, note="We build evaluation suites.")
    fjord = f.LabFactory(name="Fjord Labs", slug="fjord", final_run_gpu_hours=1_800_000, openness=0.6)
    f.ArtifactReuseFactory(artifact=f.ArtifactFactory(lab=cirrus), reusing_lab=fjord)
    expected = [v.lab for v in advisor_get(scenario=newest).advice.joins]
    assert sorted(expected) == ["Delta Institute", "Echo Systems", "Fjord Labs"]

    log_in("coord", world.password)
    page.goto(world.consortium.get_absolute_url())
    rows = page.locator("#advisor-joining tbody tr[data-lab]")
    rows.first.wait_for()
    assert page.locator("#advisor-panel [data-advisor-scenario]").get_attribute("data-advisor-scenario") == str(
        newest.pk
    )
    assert [rows.nth(i).get_attribute("data-lab") for i in range(rows.count())] == expected
    first = rows.first
    assert first.locator("th").inner_text().startswith(expected[0])
    reason = page.locator("#advisor-joining tr.advisor-why .reason").first.inner_text()
    assert reason.startswith(f"{expected[0]} brings ") and "H100-equivalent GPU-hours a year" in reason
    assert "$" in first.locator('td[data-label="Members\' savings change"]').inner_text()
    assert "%" in first.locator('td[data-label="Its own savings"]').inner_text()
    leaving = page.locator("#advisor-leaving tbody tr[data-lab]")
    assert sorted(leaving.nth(i).get_attribute("data-lab") for i in range(leaving.count())) == sorted(
        lab.name for lab in world.labs
    )
    fits = "t => t.scrollWidth <= t.parentElement.clientWidth + 1"
    assert page.locator("#advisor-joining").evaluate(fits), "the advisor's table scrolls sideways on a desktop"
    screenshot("consortium-advisor", phone=True)

    page.get_by_label("Scenario", exact=True).select_option(str(small.pk))
    page.get_by_role("button", name="Show").click()
    page.locator(f'#advisor-panel [data-advisor-scenario="{small.pk}"]').wait_for()
    assert "Cirrus Research" in [
        rows.nth(i).get_attribute("data-lab")
        for i in range(page.locator("#advisor-joining tbody tr[data-lab]").count())
    ]
    assert page.url.endswith(world.consortium.get_absolute_url())  # swapped in place, no page load

    custom = f.ScenarioFactory(
        consortium=world.consortium,
        name="Negotiated table",
        labs=[],
        kind="table",
        rules=["shapley"],
        game={"players": ["A", "B"], "coalitions": {"A": 1.0, "B": 1.0, "A+B": 1.5}},
    )
    page.goto(f"{world.consortium.get_absolute_url()}?advisor={custom.pk}")
    page.locator("#advisor-panel .form-errors").get_by_text("is a custom game").wait_for()
