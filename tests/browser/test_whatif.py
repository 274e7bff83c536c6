"""Browser: the scenario page's what-if panel updates in place, with no page load, and saves a copy."""

from __future__ import annotations

import pytest

from consortium.models import Scenario
from simulations.models import SimulationRun
from tests.browser.seed import seed_world
from tests.factories import ScenarioFactory

pytestmark = pytest.mark.browser


def what_if_figures(page) -> list[str]:
    return page.locator("#whatif-results td.whatif-value").evaluate_all(
        "cells => cells.map(cell => cell.dataset.savingsUsd)"
    )


def test_the_what_if_panel_updates_without_a_page_load_and_saves_a_new_scenario(page, log_in, screenshot):
    world = seed_world()
    scenario = ScenarioFactory(consortium=world.consortium, name="Founders", labs=world.labs, rules=["shapley"])
    borealis = world.labs[1]
    log_in("coord", world.password)
    page.goto(scenario.get_absolute_url())
    page.evaluate("window.__sameDocument = 'still here'")
    before = (Scenario.objects.count(), SimulationRun.objects.count())

    panel = page.locator("#whatif")
    panel.get_by_label("Change").select_option(f"o.{borealis.pk}.openness")
    page.locator('#whatif-results[data-state="baseline"]').wait_for()
    assert "Now 1" in panel.inner_text()

    panel.get_by_label("To").fill("0.2")
    page.locator('#whatif-results[data-state="result"]').wait_for()
    first = what_if_figures(page)
    assert len(first) == len(world.labs)
    assert f"{borealis.name}: openness" in page.locator(".whatif-change").inner_text()

    panel.get_by_label("To").fill("0.9")
    page.wait_for_function(
        "old => [...document.querySelectorAll('#whatif-results td.whatif-value')]"
        ".map(cell => cell.dataset.savingsUsd).join() !== old",
        arg=",".join(first),
    )
    assert what_if_figures(page) != first
    assert page.evaluate("window.__sameDocument") == "still here"
    assert page.locator("#whatif-verdict").inner_text().startswith("What if:")

    # A bad value: a message under the input, the figures gone, still the same document.
    panel.get_by_label("To").fill("7")
    page.locator("#whatif-value-error", has_text="Ensure this value is less than or equal to 1").wait_for()
    page.locator('#whatif-results[data-state="empty"]').wait_for()
    assert page.evaluate("window.__sameDocument") == "still here"
    assert (Scenario.objects.count(), SimulationRun.objects.count()) == before

    panel.get_by_label("To").fill("0.5")
    page.locator('#whatif-results[data-state="result"]').wait_for()
    assert page.locator("#whatif-value-error").inner_text() == ""
    screenshot("scenario-whatif", phone=True)
    page.get_by_role("button", name="Save as new scenario").click()
    page.get_by_role("heading", name=f"Founders — what if {borealis.name}: openness = 0.5").wait_for()
    saved = Scenario.objects.get(name=f"Founders — what if {borealis.name}: openness = 0.5")
    assert saved.overrides == {str(borealis.pk): {"openness": 0.5}}
    assert page.url.endswith(saved.get_absolute_url())


def test_a_value_typed_the_moment_the_panel_appears_is_not_lost(page, log_in):
    """The new panel answers input as soon as it is in the page (htmx settles at once, not 20 ms later).

    CI once lost the first value this way: the test typed within htmx's default settle delay, before
    the new input had its listeners, and no request was ever sent.
    """
    world = seed_world()
    scenario = ScenarioFactory(consortium=world.consortium, name="Founders", labs=world.labs, rules=["shapley"])
    borealis = world.labs[1]
    log_in("coord", world.password)
    page.goto(scenario.get_absolute_url())
    # Type into the new input in the same turn of the event loop as the swap that adds it.
    page.evaluate(
        """() => new MutationObserver((changes, observer) => {
            const input = document.querySelector('#whatif_value');
            if (!input) return;
            observer.disconnect();
            input.value = '0.2';
            input.dispatchEvent(new Event('input', {bubbles: true}));
        }).observe(document.body, {childList: true, subtree: true})"""
    )
    page.locator("#whatif").get_by_label("Change").select_option(f"o.{borealis.pk}.openness")
    page.locator('#whatif-results[data-state="result"]').wait_for(timeout=5_000)
    assert f"{borealis.name}: openness" in page.locator(".whatif-change").inner_text()
