"""Custom games through real Celery worker processes (Redis broker, PostgreSQL in CI)."""

from __future__ import annotations

import pytest

from consortium.services import custom_game_create
from simulations import services
from simulations.models import MemberResult, SimulationRun, StabilityResult

from .test_workers import wait_finished

pytestmark = pytest.mark.services

TABLE = "coalition,cost\nLab A,6\nLab B,6\nLab A+Lab B,9\n"


def test_both_kinds_of_custom_game_run_on_a_worker(world, start_worker):
    table = custom_game_create(
        consortium=world.consortium,
        created_by=world.coordinator,
        name="Deal",
        kind="table",
        text=TABLE,
        rules=["shapley", "nucleolus", "least_core"],
    )
    types = "\n".join(f"T{i},{1000 + 7 * i},{1 + i % 5}" for i in range(2000))
    airport = custom_game_create(
        consortium=world.consortium,
        created_by=world.coordinator,
        name="Runway",
        kind="airport",
        text="player,cost,count\n" + types,
        rules=["shapley", "nucleolus", "proportional"],
    )
    runs = [services.run_create(scenario=s, started_by=world.coordinator) for s in (table, airport)]
    start_worker(concurrency=1)
    for run in runs:
        fresh = wait_finished(run)
        assert fresh.status == SimulationRun.Status.SUCCEEDED, fresh.error
    shapley = dict(MemberResult.objects.filter(run=runs[0], rule="shapley").values_list("lab_name", "allocated_cost"))
    assert shapley == {"Lab A": pytest.approx(4.5), "Lab B": pytest.approx(4.5)}
    assert MemberResult.objects.filter(run=runs[1]).count() == 3 * 2000
    grand = 1000 + 7 * 1999
    for rule in ("shapley", "nucleolus", "proportional"):
        rows = MemberResult.objects.filter(run=runs[1], rule=rule)
        assert sum(rows.values_list("allocated_cost", flat=True)) == pytest.approx(grand)
    # Airport games are concave: Shapley and the nucleolus lie in the core.
    for rule in ("shapley", "nucleolus"):
        assert StabilityResult.objects.get(run=runs[1], rule=rule).in_core
