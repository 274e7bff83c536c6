"""Browser: set an override on a copy of a scenario, run both, compare and read the waterfall."""

from __future__ import annotations

import pytest

from consortium import services as consortium_services
from consortium.models import Scenario
from simulations import services
from simulations.tests.conftest import execute_in_process, fake_broker  # noqa: F401
from tests.browser.seed import seed_world
from tests.browser.test_journeys import assert_painted
from tests.factories import ScenarioFactory

pytestmark = pytest.mark.browser


def test_an_override_set_in_the_editor_shows_in_the_comparisons_waterfall(page, log_in, screenshot, fake_broker):  # noqa: F811
    world = seed_world()
    base = ScenarioFactory(consortium=world.consortium, name="Founders", labs=world.labs, rules=["shapley"], draws=20)
    execute_in_process(services.run_create(scenario=base, started_by=world.coordinator, draws=20))
    copy = consortium_services.scenario_duplicate(scenario=base, by=world.coordinator)
    borealis = world.labs[1]
    log_in("coord", world.password)

    page.goto(f"/simulations/scenarios/{copy.pk}/edit/")
    page.locator(f"#overrides-{borealis.pk} > summary").click()
    page.locator(f"#id_o_{borealis.pk}_openness").fill("0.2")
    page.get_by_role("button", name="Save scenario").click()
    page.get_by_role("heading", name="Overrides of lab inputs").wait_for()
    assert page.locator("#overrides .badge.overridden").count() == 1
    assert Scenario.objects.get(pk=copy.pk).overrides == {str(borealis.pk): {"openness": 0.2}}
    copy.refresh_from_db()
    execute_in_process(services.run_create(scenario=copy, started_by=world.coordinator, draws=20))

    page.goto(
        f"/simulations/consortia/open-frontier/compare/?scenarios={base.pk}&scenarios={copy.pk}&baseline={base.pk}"
    )
    why = page.locator(f"#why-{copy.pk}")
    assert "Borealis Lab: openness" in why.locator("table").first.inner_text()
    assert why.locator(".badge.overridden").count() == 1
    assert_painted(page, "waterfall-0-0")
    # A closed member's waterfall draws once opened.
    page.locator(f"#why-{copy.pk} details.waterfall").nth(1).locator("summary").click()
    assert_painted(page, "waterfall-0-1")
    total = why.locator("details.waterfall").first.locator(".total-row").inner_text()
    assert "Total change" in total
    screenshot("compare-waterfall", phone=True)


def test_a_run_compares_with_the_scenarios_previous_run_after_a_lab_edit(page, log_in, fake_broker):  # noqa: F811
    """The run page's link opens the comparison of the two runs; the lab edit between them is the difference."""
    world = seed_world()
    scenario = ScenarioFactory(
        consortium=world.consortium, name="Founders", labs=world.labs, rules=["shapley"], draws=20
    )
    first = services.run_create(scenario=scenario, started_by=world.coordinator, draws=20)
    execute_in_process(first)
    borealis = world.labs[1]
    borealis.rd_share = 0.6
    borealis.save()
    second = services.run_create(scenario=scenario, started_by=world.coordinator, draws=20)
    execute_in_process(second)
    log_in("coord", world.password)

    page.goto(second.get_absolute_url())
    page.get_by_role("link", name=f"Compare with run #{first.pk}").click()
    why = page.locator(f"#why-run-{second.pk}")
    why.wait_for()
    assert f"Founders · run #{second.pk}" in why.locator("h2").inner_text()
    assert "Borealis Lab: R&D share" in why.locator("table").first.inner_text()
    assert_painted(page, "waterfall-0-0")
