"""Celery tasks for simulation runs: each takes an id and calls a service.

Every task is acknowledged late and rejected back to the queue when its worker process dies, so a
killed worker costs a retry, not a result; the services make every step safe to repeat. All of
them go to the `simulations` queue (CELERY_TASK_ROUTES) under the simulation time limits.

A transient database error (see `is_transient_database_error`) is retried with Celery's own
`Task.retry` after an exponential back-off (SIMULATION_RETRY_BACKOFF doubling up to
SIMULATION_RETRY_BACKOFF_MAX, at most SIMULATION_RETRY_MAX times), on a fresh connection. Any other
error, or a transient one that outlasts the retries, fails the run with the reason.
"""

from __future__ import annotations

import logging
import threading

from celery import group, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready, worker_shutdown
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import DatabaseError, InterfaceError, connections

from . import dispatch, services

logger = logging.getLogger(__name__)

TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": settings.SIMULATION_SOFT_TIME_LIMIT,
    "time_limit": settings.SIMULATION_TIME_LIMIT,
    "ignore_result": True,
}


# PostgreSQL SQLSTATEs a retry can fix: class 08 (connection exceptions), class 40 (transaction
# rollback: serialization failure 40001, deadlock 40P01), query_canceled 57014 (statement_timeout,
# pg_cancel_backend), admin_shutdown 57P01 (pg_terminate_backend), crash_shutdown 57P02,
# cannot_connect_now 57P03 (starting up, failover), lock_not_available 55P03 (lock_timeout) and
# too_many_connections 53300.
TRANSIENT_SQLSTATE_CLASSES = ("08", "40")
TRANSIENT_SQLSTATES = frozenset({"57014", "57P01", "57P02", "57P03", "55P03", "53300"})


def is_transient_database_error(exc: BaseException) -> bool:
    """True for a database error that the same statement may not meet again a moment later.

    On PostgreSQL the driver's SQLSTATE decides; an OperationalError without one is a connection
    that broke before the server could say why. On SQLite only a locked database is transient.
    """
    if isinstance(exc, InterfaceError):
        return True  # the connection is closed or broken
    if not isinstance(exc, DatabaseError):
        return False
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if sqlstate:
        return sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES or sqlstate in TRANSIENT_SQLSTATES
    message = str(exc).lower()
    if "database is locked" in message or "database table is locked" in message:
        return True
    return type(exc).__name__ == "OperationalError" and type(cause).__module__.startswith(("psycopg", "psycopg2"))


def retry_delay(retries: int) -> int:
    """Seconds before retry number `retries + 1`: SIMULATION_RETRY_BACKOFF doubled, at most the maximum."""
    return get_exponential_backoff_interval(
        factor=settings.SIMULATION_RETRY_BACKOFF,
        retries=retries,
        maximum=settings.SIMULATION_RETRY_BACKOFF_MAX,
        full_jitter=False,
    )


def _one_line(exc: BaseException) -> str:
    """The error's message on one line (PostgreSQL adds CONTEXT and HINT lines)."""
    return " ".join(str(exc).split())


def _retry_or_fail(task, *, run_id: int, exc: Exception, failure: str, fail=None) -> None:
    """Retry `task` later on a fresh connection if `exc` is transient and retries are left, else fail the run
    (or, with `fail`, call `fail(run_id, error)` instead)."""
    if is_transient_database_error(exc):
        # The broken (or aborted) connection must not be reused by the retry.
        connections.close_all()
        retries = task.request.retries
        if retries < settings.SIMULATION_RETRY_MAX:
            delay = retry_delay(retries)
            logger.warning(
                "%s%r hit a transient database error (%s: %s); retry %s of %s in %s s",
                task.name,
                tuple(task.request.args or ()),
                type(exc).__name__,
                _one_line(exc),
                retries + 1,
                settings.SIMULATION_RETRY_MAX,
                delay,
            )
            raise task.retry(exc=exc, countdown=delay, max_retries=settings.SIMULATION_RETRY_MAX)
        failure = f"{failure} (the database error persisted through {retries} retries)"
    logger.exception("%s%r failed", task.name, tuple(task.request.args or ()))
    error = f"{failure}: {type(exc).__name__}: {_one_line(exc)}"
    if fail is None:
        services.run_fail(run_id=run_id, error=error)
    else:
        fail(run_id, error)


@shared_task(bind=True, name="simulations.tasks.run_simulation", **TASK_OPTIONS)
def run_simulation(self, run_id: int) -> None:
    """Claim a queued run and fan its chunks out over the workers."""
    try:
        indexes = services.run_claim(run_id=run_id)
        if not indexes:
            return
        group(run_chunk.s(run_id, index) for index in indexes).apply_async()
        services.run_mark_fanned_out(run_id=run_id)
    except SoftTimeLimitExceeded:
        services.run_fail(run_id=run_id, error="Starting the run exceeded the time limit.")
    except Exception as exc:
        _retry_or_fail(self, run_id=run_id, exc=exc, failure="Starting the run failed")


@shared_task(bind=True, name="simulations.tasks.run_chunk", **TASK_OPTIONS)
def run_chunk(self, run_id: int, index: int) -> None:
    """Compute one chunk; the chunk that completes the set merges and stores the results."""
    try:
        if services.chunk_execute(run_id=run_id, index=index):
            services.run_finalize(run_id=run_id)
    except SoftTimeLimitExceeded:
        services.run_fail(
            run_id=run_id,
            error=f"A chunk exceeded the time limit of {settings.SIMULATION_SOFT_TIME_LIMIT} s. "
            "Run fewer draws, or ask the operator to raise SIMULATION_SOFT_TIME_LIMIT.",
        )
    except Exception as exc:
        _retry_or_fail(self, run_id=run_id, exc=exc, failure="The simulation failed")


@shared_task(bind=True, name="simulations.tasks.finalize_run", **TASK_OPTIONS)
def finalize_run(self, run_id: int) -> None:
    """Merge and store a run whose chunks are all computed (sent by the watchdog)."""
    try:
        services.run_finalize(run_id=run_id)
    except SoftTimeLimitExceeded:
        services.run_fail(run_id=run_id, error=f"Merging the results exceeded {settings.SIMULATION_SOFT_TIME_LIMIT} s.")
    except Exception as exc:
        # Left running, the watchdog would send this merge again on every pass, forever.
        _retry_or_fail(self, run_id=run_id, exc=exc, failure="Merging the results failed")


_stop = threading.Event()


def _redispatch_loop() -> None:
    while True:
        try:
            done = dispatch.redispatch_and_watch()
            if any(done.values()):
                logger.info("Re-dispatcher: %s", done)
        except Exception:
            logger.exception("Re-dispatcher pass failed; trying again in %s s", settings.SIMULATION_DISPATCH_INTERVAL)
        finally:
            # Children forked later (after a SIGKILL) must not inherit an open database socket.
            connections.close_all()
        if _stop.wait(settings.SIMULATION_DISPATCH_INTERVAL):
            return


@worker_ready.connect
def start_redispatcher(**kwargs) -> None:
    """Each worker re-sends runs the web process could not hand to the broker and watches for lost work."""
    _stop.clear()
    threading.Thread(target=_redispatch_loop, name="simulations-redispatcher", daemon=True).start()


@worker_shutdown.connect
def stop_redispatcher(**kwargs) -> None:
    _stop.set()


@shared_task(bind=True, name="simulations.tasks.run_lever_study", **TASK_OPTIONS)
def run_lever_study(self, study_id: int) -> None:
    """Compute a queued lever study (embargo, overhead, largest stable coalition) and store it."""
    from . import levers

    def fail(pk: int, error: str) -> None:
        levers.lever_study_fail(study_id=pk, error=error)

    try:
        levers.lever_study_execute(study_id=study_id)
    except SoftTimeLimitExceeded:
        fail(study_id, f"The lever study exceeded the time limit of {settings.SIMULATION_SOFT_TIME_LIMIT} s.")
    except Exception as exc:
        _retry_or_fail(self, run_id=study_id, exc=exc, failure="The lever study failed", fail=fail)
