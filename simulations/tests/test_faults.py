"""Fault injection on real workers, PostgreSQL and Redis: every run survives and gives the same numbers.

Each fault strikes a run in progress: a statement cancelled or a connection terminated while chunks
are computed and while the results are merged, a worker killed outright, the broker restarted
without persistence while a run waits in it. Each run must end `succeeded` with the numbers of an
undisturbed run of the same seed, and each recovery must come within the bound docs/operations.md
gives for it ("Runs and recovery"), computed from the same settings.

Database faults are made deterministic by holding a lock the worker's next statement needs, then
cancelling (pg_cancel_backend: SQLSTATE 57014, the error a statement_timeout raises) or terminating
(pg_terminate_backend: 57P01) the backend that waits for it.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import time

import psycopg
import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection

from simulations import dispatch, services, tasks
from simulations.models import SimulationChunk, SimulationRun

from .conftest import execute_in_process, wait_for
from .test_services import stored_numbers
from .test_workers import big_scenario, chunk_in_progress, queue_length, run_get, wait_finished

pytestmark = pytest.mark.services

# Slack for what the bounds do not count: a worker process noticing its message, the machine's load.
SLACK = 4.0


def dsn(postgres_db) -> str:
    params = postgres_db.settings_dict
    return psycopg.conninfo.make_conninfo(
        host=params["HOST"],
        port=params["PORT"] or 5432,
        user=params["USER"],
        password=params.get("PASSWORD") or None,
        dbname=params["NAME"],
    )


_references: dict[str, list[tuple]] = {}


def reference_numbers(run: SimulationRun) -> list[tuple]:
    """The numbers of an undisturbed run of the same inputs (seed and draws included), computed in this process.

    The copy is never handed to the broker, so no worker touches it. Tests that share inputs share it.
    """
    key = json.dumps(run.inputs["spec"], sort_keys=True)
    if key not in _references:
        undisturbed = SimulationRun.objects.create(
            scenario=run.scenario,
            inputs=run.inputs,
            seed=run.seed,
            draws=run.draws,
            engine_version=run.engine_version,
            chunks_total=run.chunks_total,
            created_by=run.created_by,
        )
        execute_in_process(undisturbed)
        assert undisturbed.status == "succeeded", undisturbed.error
        _references[key] = stored_numbers(undisturbed)
    return _references[key]


def strike_blocked_statement(postgres_db, *, lock: str, statement: str, fault: str) -> float:
    """Hold `lock`, wait for a worker statement matching `statement` to wait for it, then `fault` its backend.

    Returns the monotonic time of the fault; the lock is released right after it.
    """
    holder = psycopg.connect(dsn(postgres_db))
    admin = psycopg.connect(dsn(postgres_db), autocommit=True)
    try:
        holder.execute(lock)

        def waiting_backend():
            row = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
                "AND query ~ %s",
                (statement,),
            ).fetchone()
            return row and row[0]

        pid = wait_for(waiting_backend, timeout=60, interval=0.01, what=f"a worker statement like {statement}")
        assert admin.execute(f"SELECT {fault}(%s)", (pid,)).fetchone()[0]
        struck = time.monotonic()
        holder.rollback()
        return struck
    finally:
        holder.close()
        admin.close()


FAULTS = {
    # (lock held, statement that waits for it)
    "chunks": (
        "SELECT 1 FROM simulations_simulationchunk WHERE run_id = {run} FOR UPDATE",
        r'^UPDATE "simulations_simulationchunk" SET "(started_at|result)"',
    ),
    "finalize": ("LOCK TABLE simulations_memberresult IN EXCLUSIVE MODE", r'^INSERT INTO "simulations_memberresult"'),
}


@pytest.mark.parametrize("fault", ["pg_cancel_backend", "pg_terminate_backend"])
@pytest.mark.parametrize("during", ["chunks", "finalize"])
def test_statement_cancel_or_terminated_connection_is_retried_and_the_run_succeeds(
    world, start_worker, postgres_db, settings, during, fault
):
    """The task retries after SIMULATION_RETRY_BACKOFF seconds on a fresh connection: no failed run, same numbers."""
    settings.SIMULATION_CHUNK_DRAWS = 100
    run = services.run_create(scenario=big_scenario(world, 7), started_by=world.coordinator, draws=300, seed=11)
    worker = start_worker(concurrency=1)
    wait_for(lambda: run_get(run).status == "running", timeout=30, what="the run to start")
    lock, statement = FAULTS[during]
    struck = strike_blocked_statement(postgres_db, lock=lock.format(run=run.pk), statement=statement, fault=fault)
    struck_at = time.time() - (time.monotonic() - struck)

    fresh = wait_finished(run)
    recovered = time.monotonic() - struck
    assert fresh.status == "succeeded", fresh.error
    log = worker.output()
    retried = re.search(r"run_chunk\((\d+), (\d+)\) hit a transient database error .*; retry 1 of 10 in 1 s", log)
    assert retried and int(retried[1]) == run.pk, log[-3000:]
    bound = tasks.retry_delay(0)  # the first retry's back-off, SIMULATION_RETRY_BACKOFF
    if during == "chunks":
        # The struck chunk starts again after the back-off, or once the chunks the single pool
        # process took meanwhile (Celery reserves one more message while a retry waits) are done.
        chunks = SimulationChunk.objects.filter(run=run)
        chunk_seconds = max((chunk.finished_at - chunk.started_at).total_seconds() for chunk in chunks)
        restarted = chunks.get(index=int(retried[2])).started_at.timestamp() - struck_at
        assert bound <= restarted + 0.05 <= bound + 2 * chunk_seconds + SLACK, (restarted, chunk_seconds)
        print(f"\n{fault} during chunks: chunk restarted after {restarted:.1f} s (back-off {bound} s)", end=" ")
    else:
        assert bound <= recovered <= bound + SLACK, recovered
    print(f"\n{fault} during {during}: run finished {recovered:.1f} s after the fault")
    assert stored_numbers(fresh) == reference_numbers(fresh)


def test_real_statement_timeout_counts_as_transient(postgres_db):
    with pytest.raises(DatabaseError) as raised, connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '5ms'")
        cursor.execute("SELECT pg_sleep(0.2)")
    assert "canceling statement due to statement timeout" in str(raised.value)
    assert tasks.is_transient_database_error(raised.value)
    connection.close()


def test_lost_worker_is_noticed_from_its_heartbeat_and_the_next_worker_finishes(world, start_worker, settings):
    """Bound: SIMULATION_HEARTBEAT_TIMEOUT + SIMULATION_DISPATCH_INTERVAL after the last heartbeat."""
    settings.SIMULATION_CHUNK_DRAWS = 100
    heartbeat = {"SIMULATION_HEARTBEAT_INTERVAL": 1, "SIMULATION_HEARTBEAT_TIMEOUT": 6}
    run = services.run_create(scenario=big_scenario(world, 8), started_by=world.coordinator, draws=400, seed=12)
    first = start_worker(concurrency=1, **heartbeat)
    wait_for(lambda: chunk_in_progress(run), timeout=60, interval=0.01, what="a chunk to start")
    os.killpg(first.process.pid, signal.SIGKILL)
    killed = time.monotonic()
    first.process.wait(timeout=10)
    chunk = SimulationChunk.objects.get(run=run, started_at__isnull=False, result__isnull=True)

    start_worker(concurrency=1, **heartbeat)
    wait_for(lambda: SimulationChunk.objects.get(pk=chunk.pk).lost == 1, timeout=60, interval=0.05, what="the loss")
    noticed = time.monotonic() - killed
    timeout, interval = heartbeat["SIMULATION_HEARTBEAT_TIMEOUT"], heartbeat["SIMULATION_HEARTBEAT_INTERVAL"]
    dispatch_interval = 1  # the start_worker fixture's SIMULATION_DISPATCH_INTERVAL
    assert timeout - interval <= noticed <= timeout + dispatch_interval + SLACK, noticed

    fresh = wait_finished(run)
    assert fresh.status == "succeeded", fresh.error
    print(f"\nlost worker noticed after {noticed:.1f} s (bound {timeout + dispatch_interval} s)")
    assert SimulationChunk.objects.get(pk=chunk.pk).attempts == 2
    assert stored_numbers(fresh) == reference_numbers(fresh)


def broker_marker_set(broker) -> bool:
    with socket.create_connection(("127.0.0.1", broker.port)) as sock:
        key = dispatch.BROKER_MARKER.encode()
        sock.sendall(b"EXISTS " + key + b"\r\n")
        return sock.recv(16).strip() == b":1"


def test_broker_restarted_without_persistence_while_a_run_is_queued_is_noticed_on_the_next_pass(
    world, start_worker, broker
):
    """A watching worker re-sends the queued run within SIMULATION_DISPATCH_INTERVAL of the broker's return."""
    watcher = start_worker(concurrency=1, queues="celery")  # watches, but takes no simulation work
    wait_for(lambda: broker_marker_set(broker), timeout=10, what="the watchdog's broker marker")
    run = services.run_create(scenario=big_scenario(world, 6), started_by=world.coordinator, draws=300, seed=13)
    sent_at = run_get(run).dispatched_at
    assert queue_length(broker) == 1

    broker.stop()
    broker.start()
    back = time.monotonic()
    wait_for(lambda: queue_length(broker) == 1, timeout=30, interval=0.05, what="the run to be sent again")
    noticed = time.monotonic() - back
    assert noticed <= 1 + SLACK, noticed  # SIMULATION_DISPATCH_INTERVAL is 1 s here
    # The watchdog records the new dispatch just after it publishes (CI once read between the two).
    wait_for(lambda: run_get(run).dispatched_at > sent_at, timeout=5, interval=0.05, what="the new dispatch time")
    wait_for(lambda: "'dispatched': 1" in watcher.output(), timeout=10, what="the watchdog's report")

    start_worker(concurrency=1)
    fresh = wait_finished(run)
    assert fresh.status == "succeeded", fresh.error
    print(f"\nbroker restart noticed after {noticed:.1f} s (bound 1 s)")
    assert stored_numbers(fresh) == reference_numbers(fresh)


def test_dispatch_queued_runs_resends_a_queued_run_whose_message_was_flushed(world, start_worker, broker):
    run = services.run_create(scenario=big_scenario(world, 6), started_by=world.coordinator, draws=300, seed=13)
    assert queue_length(broker) == 1
    with socket.create_connection(("127.0.0.1", broker.port)) as sock:
        sock.sendall(b"FLUSHDB\r\n")
        assert sock.recv(16).startswith(b"+OK")
    assert queue_length(broker) == 0

    out = io.StringIO()
    call_command("dispatch_queued_runs", stdout=out)
    assert out.getvalue().strip() == "dispatched: 1, chunks_republished: 0, finalized: 0, failed: 0"
    assert queue_length(broker) == 1
    start_worker(concurrency=1)
    fresh = wait_finished(run)
    assert fresh.status == "succeeded", fresh.error
    assert stored_numbers(fresh) == reference_numbers(fresh)
