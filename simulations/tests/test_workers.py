"""Runs on real Celery worker processes with a real Redis broker and PostgreSQL.

Each test starts its own worker(s) on a private redis-server; see conftest.py. Waits are bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from simulations import engine, services
from simulations.models import MemberResult, SimulationChunk, SimulationRun
from simulations.tasks import run_chunk, run_simulation
from tests import factories as f

from .conftest import wait_for
from .test_services import stored_numbers

pytestmark = pytest.mark.services

RUN_TIMEOUT = 60


def big_scenario(world, n_labs: int, rules=("shapley", "proportional", "scrb")):
    labs = [
        f.LabFactory(
            name=f"Lab {index:02d}", final_run_gpu_hours=200_000 * (1 + index % 7), rd_share=0.7 + 0.01 * index
        )
        for index in range(n_labs)
    ]
    # Runs start only for scenarios whose labs are current members or candidates.
    for lab in labs:
        f.MembershipFactory(consortium=world.consortium, lab=lab)
    return f.ScenarioFactory(consortium=world.consortium, labs=labs, rules=list(rules), name=f"{n_labs} labs")


def run_get(run) -> SimulationRun:
    return SimulationRun.objects.get(pk=run.pk)


def wait_finished(run, timeout: float = RUN_TIMEOUT) -> SimulationRun:
    return wait_for(
        lambda: (fresh := run_get(run)).is_finished and fresh, timeout=timeout, what=f"run {run.pk} to finish"
    )


def queue_length(broker, name: str = "simulations") -> int:
    with socket.create_connection(("127.0.0.1", broker.port)) as sock:
        sock.sendall(f"LLEN {name}\r\n".encode())
        return int(sock.recv(64).decode().strip().lstrip(":"))


def chunk_in_progress(run) -> bool:
    return SimulationChunk.objects.filter(run=run, started_at__isnull=False, result__isnull=True).exists()


def test_run_goes_queued_running_succeeded_with_progress_in_between(world, start_worker, settings):
    settings.SIMULATION_CHUNK_DRAWS = 100
    scenario = big_scenario(world, 12)
    run = services.run_create(scenario=scenario, started_by=world.coordinator, draws=800, seed=4)
    fresh = run_get(run)
    assert (fresh.status, fresh.chunks_total) == ("queued", 8)
    assert fresh.dispatched_at is not None

    start_worker(concurrency=1)
    seen = set()

    def finished() -> bool:
        fresh = run_get(run)
        seen.add((fresh.status, round(fresh.progress, 3)))
        return fresh.is_finished

    wait_for(finished, timeout=RUN_TIMEOUT, interval=0.02, what="the run to finish")
    fresh = run_get(run)
    assert fresh.status == "succeeded", fresh.error
    assert any(status == "running" and 0 < progress < 1 for status, progress in seen), seen
    assert fresh.dispatched_at <= fresh.started_at <= fresh.finished_at
    assert MemberResult.objects.filter(run=run).count() == 12 * 3


def test_worker_process_killed_mid_run_is_redelivered_and_completes(world, start_worker, settings):
    settings.SIMULATION_CHUNK_DRAWS = 100
    scenario = big_scenario(world, 12)
    run = services.run_create(scenario=scenario, started_by=world.coordinator, draws=600, seed=8)
    worker = start_worker(concurrency=1)
    wait_for(lambda: chunk_in_progress(run), timeout=RUN_TIMEOUT, interval=0.01, what="a chunk to start")
    children = worker.children()
    assert children
    for pid in children:
        os.kill(pid, signal.SIGKILL)

    fresh = wait_finished(run)
    assert fresh.status == "succeeded", fresh.error
    assert max(SimulationChunk.objects.filter(run=run).values_list("attempts", flat=True)) >= 2
    reference = engine.run_scenario(engine.ScenarioSpec.from_dict(fresh.inputs["spec"]))
    for member in reference.rules["shapley"].members:
        row = MemberResult.objects.get(run=run, rule="shapley", lab_name=member.name)
        assert row.savings_p50 == pytest.approx(member.savings_p50)


def test_whole_worker_killed_mid_run_hands_its_work_to_the_next_worker(world, start_worker, settings):
    settings.SIMULATION_CHUNK_DRAWS = 100
    scenario = big_scenario(world, 12)
    run = services.run_create(scenario=scenario, started_by=world.coordinator, draws=600, seed=9)
    first = start_worker(concurrency=1, SIMULATION_VISIBILITY_TIMEOUT=3, SIMULATION_RESTORE_INTERVAL=1)
    wait_for(lambda: chunk_in_progress(run), timeout=RUN_TIMEOUT, interval=0.01, what="a chunk to start")
    os.killpg(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=10)
    assert run_get(run).status == "running"

    start_worker(concurrency=1, SIMULATION_VISIBILITY_TIMEOUT=3, SIMULATION_RESTORE_INTERVAL=1)
    fresh = wait_finished(run)
    assert fresh.status == "succeeded", fresh.error
    assert fresh.chunks_done == fresh.chunks_total == 6
    assert max(SimulationChunk.objects.filter(run=run).values_list("attempts", flat=True)) == 2


def test_run_started_while_the_broker_is_down_runs_once_it_is_back(world, start_worker, broker, client_as):
    scenario = big_scenario(world, 4)
    start_worker(concurrency=1)
    broker.stop()
    began = time.monotonic()
    response = client_as("coordinator").post(f"/api/v1/scenarios/{scenario.pk}/runs/", {"draws": 200}, format="json")
    assert time.monotonic() - began < 10
    assert response.status_code == 202
    body = response.json()
    assert body["notice"] == "The job queue is unreachable; the run is saved and will start when it is back."
    run = SimulationRun.objects.get(pk=body["id"])
    time.sleep(1.5)
    assert (run_get(run).status, run_get(run).dispatched_at) == ("queued", None)

    broker.start()
    fresh = wait_finished(run, timeout=90)
    assert fresh.status == "succeeded", fresh.error
    assert fresh.dispatched_at is not None
    assert client_as("coordinator").get(f"/api/v1/runs/{run.pk}/").json()["notice"] == ""


def test_duplicate_deliveries_change_nothing(world, start_worker, broker, settings):
    settings.SIMULATION_CHUNK_DRAWS = 50
    scenario = big_scenario(world, 6)
    run = services.run_create(scenario=scenario, started_by=world.coordinator, draws=200, seed=3)
    run_simulation.delay(run.pk)
    run_simulation.delay(run.pk)
    start_worker(concurrency=2)
    fresh = wait_finished(run)
    assert fresh.status == "succeeded", fresh.error
    numbers, finished_at = stored_numbers(run), fresh.finished_at
    attempts = list(SimulationChunk.objects.filter(run=run).values_list("attempts", flat=True))

    run_simulation.delay(run.pk)
    for index in range(fresh.chunks_total):
        run_chunk.delay(run.pk, index)
    wait_for(lambda: queue_length(broker) == 0, timeout=20, what="the duplicates to be consumed")
    time.sleep(1)
    fresh = run_get(run)
    assert (fresh.status, fresh.chunks_done, fresh.finished_at) == ("succeeded", 4, finished_at)
    # Deliveries after the run finished compute nothing.
    assert list(SimulationChunk.objects.filter(run=run).values_list("attempts", flat=True)) == attempts
    assert stored_numbers(run) == numbers


def test_cancelled_run_stops_and_stores_nothing(world, start_worker, broker, client_as, settings):
    settings.SIMULATION_CHUNK_DRAWS = 100
    scenario = big_scenario(world, 12)
    run = services.run_create(scenario=scenario, started_by=world.coordinator, draws=2000, seed=2)
    start_worker(concurrency=1)
    wait_for(lambda: run_get(run).chunks_done >= 1, timeout=RUN_TIMEOUT, interval=0.02, what="a first chunk")
    response = client_as("coordinator").post(f"/api/v1/runs/{run.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    done_at_cancel = SimulationChunk.objects.filter(run=run, result__isnull=False).count()

    wait_for(lambda: queue_length(broker) == 0, timeout=RUN_TIMEOUT, what="the remaining chunks to be skipped")
    time.sleep(1)
    fresh = run_get(run)
    assert fresh.status == "cancelled"
    computed = SimulationChunk.objects.filter(run=run, result__isnull=False).count()
    # At most the chunk already in the worker's hands finishes after the cancel.
    assert computed <= done_at_cancel + 1 < fresh.chunks_total
    assert not MemberResult.objects.filter(run=run).exists()


def test_same_seed_gives_identical_numbers_on_one_worker_and_one_chunk_or_two_workers_and_many(
    world, start_worker, settings
):
    scenario = big_scenario(world, 10)
    settings.SIMULATION_CHUNK_DRAWS = 600
    single = services.run_create(scenario=scenario, started_by=world.coordinator, draws=600, seed=21)
    worker = start_worker(concurrency=1)
    assert wait_finished(single).status == "succeeded"
    worker.stop()

    settings.SIMULATION_CHUNK_DRAWS = 12
    spread = services.run_create(scenario=scenario, started_by=world.coordinator, draws=600, seed=21)
    start_worker(concurrency=2)
    assert wait_finished(spread).status == "succeeded"

    assert (run_get(single).chunks_total, run_get(spread).chunks_total) == (1, 50)
    assert stored_numbers(spread) == stored_numbers(single)
