"""The scenario page's levers card in a real browser: the button starts a study, the card follows its
progress without a reload and ends with sentences naming the embargo, the overhead and real labs."""

from __future__ import annotations

import re

import pytest

from simulations import tasks
from simulations.models import LeverStudy
from simulations.tests.conftest import fake_broker  # noqa: F401
from tests import factories as f
from tests.browser.seed import seed_world

pytestmark = pytest.mark.browser


def test_find_the_levers_shows_progress_then_sentences_naming_values_and_labs(
    page,
    log_in,
    screenshot,
    fake_broker,  # noqa: F811
    settings,
):
    settings.LEVER_STUDY_DRAWS = 30
    world = seed_world()
    scenario = f.ScenarioFactory(
        consortium=world.consortium, name="Levers", labs=list(world.labs), rules=["shapley"], draws=30
    )
    log_in("coord", world.password)
    page.goto(scenario.get_absolute_url())
    card = page.locator("#lever-study")
    card.get_by_label("Probability of staying in the core").fill("0.8")
    card.get_by_role("button", name="Find the levers").click()
    page.get_by_text("Queued: waiting for a worker").wait_for()
    assert fake_broker.sent and fake_broker.sent[-1][0] == "run_lever_study"
    study = LeverStudy.objects.get(scenario=scenario)
    assert study.target == 0.8

    tasks.run_lever_study.run(study.pk)  # the worker's part; the card polls and swaps itself
    sentences = page.locator(".lever-sentences li")
    sentences.nth(2).wait_for(timeout=10_000)
    texts = sentences.all_inner_texts()
    assert re.search(r"(embargo of at least [\d.]+ months|No embargo up to)", texts[0]), texts[0]
    assert re.search(r"(coordination overhead of at most [\d.]+ times|without coordination overhead)", texts[1])
    kept = LeverStudy.objects.get().results["coalition"]["members"]
    assert kept and all(name in texts[2] for name in kept), texts[2]
    assert set(kept) <= {lab.name for lab in world.labs}
    assert page.get_by_role("button", name="Find the levers again").is_visible()
    screenshot("scenario-levers", phone=True)
