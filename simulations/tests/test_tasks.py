"""The thin tasks: what a worker records when a chunk overruns its time limit or crashes; which errors it retries."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator

import psycopg
import psycopg.errors as pg
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django import db as django_db

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


def _database_error(kind=django_db.OperationalError, cause: Exception | None = None):
    """A Django database error wrapping a driver error, as Django's wrapper raises it."""
    error = kind(str(cause) if cause else "error")
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (_database_error(cause=pg.QueryCanceled("canceling statement due to statement timeout")), True),
        (_database_error(cause=pg.AdminShutdown("terminating connection due to administrator command")), True),
        (_database_error(cause=psycopg.OperationalError("server closed the connection unexpectedly")), True),
        (_database_error(cause=pg.SerializationFailure("could not serialize access")), True),
        (_database_error(cause=pg.DeadlockDetected("deadlock detected")), True),
        (_database_error(cause=pg.LockNotAvailable("canceling statement due to lock timeout")), True),
        (_database_error(cause=pg.CannotConnectNow("the database system is starting up")), True),
        (_database_error(cause=pg.TooManyConnections("too many clients already")), True),
        (_database_error(django_db.InterfaceError, psycopg.InterfaceError("connection already closed")), True),
        (_database_error(cause=sqlite3.OperationalError("database is locked")), True),
        (_database_error(cause=sqlite3.OperationalError("no such table: simulations_simulationrun")), False),
        (_database_error(cause=pg.InvalidCatalogName('database "gone" does not exist')), False),
        (_database_error(django_db.ProgrammingError, pg.UndefinedColumn("column x does not exist")), False),
        (_database_error(django_db.IntegrityError, pg.UniqueViolation("duplicate key")), False),
        (_database_error(django_db.DataError, pg.NumericValueOutOfRange("integer out of range")), False),
        (ValueError("bad merge"), False),
        (MemoryError(), False),
    ],
)
def test_only_database_errors_a_retry_can_fix_count_as_transient(error, transient):
    assert tasks.is_transient_database_error(error) is transient


def test_retry_delays_double_from_the_backoff_up_to_the_maximum(settings):
    settings.SIMULATION_RETRY_BACKOFF, settings.SIMULATION_RETRY_BACKOFF_MAX = 1, 30
    assert [tasks.retry_delay(retries) for retries in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]


@pytest.fixture
def closed_connections(monkeypatch) -> Iterator[list[int]]:
    """Records connection closes instead of closing the test's own connection mid-transaction.

    `Task.apply` then runs retries in this process; Celery hands a retry back instead of raising
    it only when eager errors do not propagate.
    """
    from consortium.celery import app

    closed: list[int] = []
    main = threading.get_ident()
    # Heartbeat threads close their own connections too; only the task's closes count here.
    monkeypatch.setattr(
        tasks.connections, "close_all", lambda: closed.append(1) if threading.get_ident() == main else None
    )
    saved = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield closed
    app.conf.task_eager_propagates = saved


def _flaky(real, failures: int, calls: list):
    """`real`, failing with a statement cancel on its first `failures` calls."""

    def call(**kwargs):
        calls.append(kwargs)
        if len(calls) <= failures:
            raise _database_error(cause=pg.QueryCanceled("canceling statement due to statement timeout"))
        return real(**kwargs)

    return call


@pytest.mark.parametrize("service", ["chunk_execute", "run_finalize"])
def test_chunk_retries_transient_database_errors_on_a_fresh_connection_and_succeeds(
    running, monkeypatch, closed_connections, settings, service
):
    settings.SIMULATION_RETRY_MAX = 3
    calls: list = []
    monkeypatch.setattr(services, service, _flaky(getattr(services, service), 2, calls))
    for index in range(running.chunks_total):
        tasks.run_chunk.apply(args=(running.pk, index))
    running.refresh_from_db()
    assert running.status == SimulationRun.Status.SUCCEEDED, running.error
    assert len(closed_connections) == 2
    # The chunk whose store was cancelled was computed again, nothing was counted twice.
    assert running.chunks_done == running.chunks_total


def test_chunk_fails_the_run_once_the_retry_budget_is_spent(running, monkeypatch, closed_connections, settings):
    settings.SIMULATION_RETRY_MAX = 2
    calls: list = []
    monkeypatch.setattr(services, "chunk_execute", _flaky(services.chunk_execute, 99, calls))
    tasks.run_chunk.apply(args=(running.pk, 0))
    running.refresh_from_db()
    assert len(calls) == 3
    assert running.status == SimulationRun.Status.FAILED
    assert running.error == (
        "The simulation failed (the database error persisted through 2 retries): "
        "OperationalError: canceling statement due to statement timeout"
    )


def test_error_a_retry_cannot_fix_fails_the_run_at_once(running, monkeypatch, closed_connections):
    calls = []

    def broken(**kwargs):
        calls.append(kwargs)
        raise _database_error(django_db.ProgrammingError, pg.UndefinedColumn('column "x" does not exist'))

    monkeypatch.setattr(services, "chunk_execute", broken)
    tasks.run_chunk.apply(args=(running.pk, 0))
    running.refresh_from_db()
    assert (len(calls), closed_connections) == (1, [])
    assert running.status == SimulationRun.Status.FAILED
    assert running.error == 'The simulation failed: ProgrammingError: column "x" does not exist'


def test_claim_and_fan_out_retry_a_transient_error(world, fake_broker, monkeypatch, closed_connections):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=20)
    calls: list = []
    monkeypatch.setattr(services, "run_mark_fanned_out", _flaky(services.run_mark_fanned_out, 1, calls))
    sent = []
    monkeypatch.setattr(tasks.group, "apply_async", lambda self, *a, **k: sent.extend(sig.args for sig in self.tasks))
    tasks.run_simulation.apply(args=(run.pk,))
    run.refresh_from_db()
    assert (run.status, len(calls), len(closed_connections)) == ("running", 2, 1)
    assert run.fanned_out_at is not None
    # The retry handed the chunks out again: duplicates the chunk tasks ignore.
    assert sent == [(run.pk, 0), (run.pk, 0)]


def test_finalize_task_retries_a_transient_error(running, monkeypatch, closed_connections):
    for index in range(running.chunks_total):
        services.chunk_execute(run_id=running.pk, index=index)
    calls: list = []
    monkeypatch.setattr(services, "run_finalize", _flaky(services.run_finalize, 1, calls))
    tasks.finalize_run.apply(args=(running.pk,))
    running.refresh_from_db()
    assert (running.status, len(calls)) == ("succeeded", 2)


def test_defaults_notice_a_lost_worker_within_about_two_minutes_and_retry_without_tripping_it():
    """Heartbeat timeout plus one watchdog pass is 100 s; a retry's back-off stays under the timeout."""
    from django.conf import settings

    assert settings.SIMULATION_HEARTBEAT_TIMEOUT + settings.SIMULATION_DISPATCH_INTERVAL == 100
    assert settings.SIMULATION_RETRY_BACKOFF_MAX < settings.SIMULATION_HEARTBEAT_TIMEOUT
    assert sum(tasks.retry_delay(retries) for retries in range(settings.SIMULATION_RETRY_MAX)) == 181
