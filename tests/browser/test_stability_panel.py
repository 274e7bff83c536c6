"""The results page's stability over the draws in a real browser: the P(in core) chart is painted and
the sentences about groups that would rather leave name labs of the run."""

from __future__ import annotations

import re

import pytest

from simulations import services
from simulations.models import SimulationRun
from simulations.tests.conftest import execute_in_process, fake_broker  # noqa: F401
from tests import factories as f
from tests.browser.seed import seed_world
from tests.browser.test_journeys import assert_painted

pytestmark = pytest.mark.browser


def test_stability_chart_is_painted_and_blocking_sentences_name_real_labs(page, log_in, screenshot, fake_broker):  # noqa: F811
    world = seed_world()
    labs = [*world.labs, world.outsider]
    f.MembershipFactory(consortium=world.consortium, lab=world.outsider)
    scenario = f.ScenarioFactory(
        consortium=world.consortium, name="Four labs", labs=labs, rules=["shapley", "equal", "nucleolus"], draws=30
    )
    run = services.run_create(scenario=scenario, started_by=world.coordinator, draws=30)
    execute_in_process(run)
    assert run.status == SimulationRun.Status.SUCCEEDED, run.error

    log_in("coord", world.password)
    page.goto(run.get_absolute_url())
    assert_painted(page, "chart-stability")
    assert page.get_by_text(re.compile(r"Over the draws: in the core in [\d.]+ % of 30 draws")).first.is_visible()
    sentences = page.locator(".blocking-sentence").all_inner_texts()
    assert sentences, "equal split on labs of such different sizes should be blocked in some draws"
    names = {lab.name for lab in labs}
    for sentence in sentences:
        group = sentence.split(" would rather leave in ")[0]
        assert group and set(group.split(" + ")) <= names, sentence
        assert re.search(r"would rather leave in [\d.]+ % of draws \(± [\d.]+ %\), gaining -?\$[\d,]+", sentence)
    screenshot("results-stability", phone=True)
