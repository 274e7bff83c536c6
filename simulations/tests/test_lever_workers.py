"""Lever studies through a real Celery worker process (Redis broker, PostgreSQL)."""

from __future__ import annotations

import pytest

from simulations import engine, levers
from simulations.engine.levers import largest_stable_coalition
from simulations.models import LeverStudy

from .conftest import wait_for
from .test_workers import RUN_TIMEOUT, big_scenario

pytestmark = pytest.mark.services


def test_a_lever_study_goes_queued_running_succeeded_on_a_worker_with_progress_between(world, start_worker, settings):
    settings.LEVER_STUDY_DRAWS = 40
    scenario = big_scenario(world, 8, rules=("shapley", "proportional"))
    study = levers.lever_study_create(scenario=scenario, started_by=world.coordinator, target=0.8)
    assert LeverStudy.objects.get(pk=study.pk).status == "queued"
    start_worker(concurrency=1)
    seen = set()

    def finished() -> bool:
        fresh = LeverStudy.objects.get(pk=study.pk)
        seen.add((fresh.status, fresh.progress, fresh.step))
        return fresh.is_finished

    wait_for(finished, timeout=RUN_TIMEOUT, interval=0.02, what="the lever study to finish")
    fresh = LeverStudy.objects.get(pk=study.pk)
    assert fresh.status == "succeeded", fresh.error
    assert ("running", 0.45, "Searching the largest coordination overhead") in seen, seen
    assert len(fresh.sentences) == 3
    expected = largest_stable_coalition(engine.ScenarioSpec.from_dict(fresh.inputs["spec"]), rule="shapley")
    assert fresh.results["coalition"]["members"] == list(expected.members)
    assert fresh.results["coalition"]["method"] == "exact"
