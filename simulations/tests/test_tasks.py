"""The thin tasks: what a worker records when a chunk overruns its time limit or crashes."""

from __future__ import annotations

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from simulations import services, tasks
from simulations.models import SimulationRun


@pytest.fixture
def running(world, fake_broker):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=20)
    services.run_claim(run_id=run.pk)
    return run


@pytest.mark.parametrize(
    ("raised", "message"),
    [
        (SoftTimeLimitExceeded(), "A chunk exceeded the time limit of 600 s. Run fewer draws"),
        (MemoryError("out of memory"), "The simulation failed: MemoryError: out of memory"),
        (RuntimeError("disk full"), "The simulation failed: RuntimeError: disk full"),
    ],
)
def test_chunk_that_overruns_or_crashes_fails_the_run_with_a_reason(running, monkeypatch, settings, raised, message):
    settings.SIMULATION_SOFT_TIME_LIMIT = 600

    def explode(**kwargs):
        raise raised

    monkeypatch.setattr(services, "chunk_execute", explode)
    tasks.run_chunk.run(running.pk, 0)
    running.refresh_from_db()
    assert running.status == SimulationRun.Status.FAILED
    assert running.error.startswith(message)
    assert running.finished_at is not None


def test_run_task_fans_out_one_chunk_task_per_chunk(world, fake_broker, monkeypatch, settings):
    settings.SIMULATION_CHUNK_DRAWS = 7
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=20)
    sent = []
    monkeypatch.setattr(tasks.group, "apply_async", lambda self, *a, **k: sent.extend(sig.args for sig in self.tasks))
    tasks.run_simulation.run(run.pk)
    run.refresh_from_db()
    assert (run.status, run.chunks_total) == ("running", 3)
    assert run.fanned_out_at is not None
    assert sent == [(run.pk, 0), (run.pk, 1), (run.pk, 2)]
    sent.clear()
    tasks.run_simulation.run(run.pk)
    assert sent == []


@pytest.mark.parametrize(
    ("raised", "message"),
    [
        (SoftTimeLimitExceeded(), "Merging the results exceeded 600 s."),
        (ValueError("bad merge"), "Merging the results failed: ValueError: bad merge"),
        (KeyError("shapley"), "Merging the results failed: KeyError: 'shapley'"),
    ],
)
def test_finalize_that_overruns_or_crashes_fails_the_run_instead_of_leaving_it_running(
    running, monkeypatch, settings, raised, message
):
    settings.SIMULATION_SOFT_TIME_LIMIT = 600

    def explode(**kwargs):
        raise raised

    monkeypatch.setattr(services, "run_finalize", explode)
    tasks.finalize_run.run(running.pk)
    running.refresh_from_db()
    assert running.status == SimulationRun.Status.FAILED
    assert running.error == message
    assert running.finished_at is not None
