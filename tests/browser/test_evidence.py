"""Browser: the lab page shows assumed and measured openness; a scenario takes openness from the ledger,
and its results set the ledger's reuse beside the model's commons."""

from __future__ import annotations

import pytest

from consortium.models import Scenario
from simulations import services
from simulations.tests.conftest import execute_in_process, fake_broker  # noqa: F401
from tests.browser.seed import seed_world
from tests.factories import ScenarioFactory

pytestmark = pytest.mark.browser


def test_lab_page_and_results_show_the_ledger_beside_the_assumptions(page, log_in, screenshot, fake_broker):  # noqa: F811
    world = seed_world()
    aurora = world.labs[0]
    aurora.openness = 0.9
    aurora.save()
    scenario = ScenarioFactory(
        consortium=world.consortium, name="Founders", labs=world.labs, rules=["shapley"], draws=20
    )
    log_in("coord", world.password)

    page.goto(f"/labs/{aurora.slug}/")
    assert "90 %" in page.locator("#openness-assumed").inner_text()
    measured = page.locator("#openness-measured").inner_text()
    assert "100 %" in measured and "1 artifact" in measured
    assert "60,000 GPU-h" in page.locator("#reuse-of-its-work").inner_text()
    screenshot("lab-evidence", phone=True)

    page.goto(f"/simulations/scenarios/{scenario.pk}/edit/")
    page.get_by_label("from the ledger (its artifacts' openness)").check()
    page.get_by_role("button", name="Save scenario").click()
    page.get_by_role("heading", name="Openness: assumed and measured").wait_for()
    assert Scenario.objects.get(pk=scenario.pk).openness_source == "ledger"
    table = page.locator("#openness-table").inner_text()
    assert "Aurora AI" in table and "from the ledger" in table

    scenario.refresh_from_db()
    run = services.run_create(scenario=scenario, started_by=world.coordinator, draws=20)
    execute_in_process(run)
    assert run.inputs["openness"]["Aurora AI"] == {
        "asked": "ledger",
        "source": "ledger",
        "value": 1.0,
        "assumed": 0.9,
        "measured": 1.0,
        "fallback": False,
    }
    page.goto(f"/simulations/runs/{run.pk}/")
    evidence = page.locator("#evidence-table")
    evidence.wait_for()
    rows = evidence.inner_text()
    assert "Borealis Lab" in rows and "42,000 GPU-h" in rows
    assert "GPU-hours a year" in rows
    if page.locator("#evidence-ahead").count():
        assert "runs ahead of the evidence" in page.locator("#evidence-ahead").inner_text()
    assert page.locator("#evidence").get_by_text("Openness this run used").count() == 1
    screenshot("results-evidence", phone=True)
