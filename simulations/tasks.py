"""Celery tasks for simulation runs: each takes an id and calls a service.

Every task is acknowledged late and rejected back to the queue when its worker process dies, so a
killed worker costs a retry, not a result; the services make every step safe to repeat. All of
them go to the `simulations` queue (CELERY_TASK_ROUTES) under the simulation time limits.
"""

from __future__ import annotations

import logging
import threading

from celery import group, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import connections

from . import dispatch, services

logger = logging.getLogger(__name__)

TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": settings.SIMULATION_SOFT_TIME_LIMIT,
    "time_limit": settings.SIMULATION_TIME_LIMIT,
    "ignore_result": True,
}


@shared_task(name="simulations.tasks.run_simulation", **TASK_OPTIONS)
def run_simulation(run_id: int) -> None:
    """Claim a queued run and fan its chunks out over the workers."""
    indexes = services.run_claim(run_id=run_id)
    if not indexes:
        return
    group(run_chunk.s(run_id, index) for index in indexes).apply_async()
    services.run_mark_fanned_out(run_id=run_id)


@shared_task(name="simulations.tasks.run_chunk", **TASK_OPTIONS)
def run_chunk(run_id: int, index: int) -> None:
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
        logger.exception("Chunk %s of run %s failed", index, run_id)
        services.run_fail(run_id=run_id, error=f"The simulation failed: {type(exc).__name__}: {exc}")


@shared_task(name="simulations.tasks.finalize_run", **TASK_OPTIONS)
def finalize_run(run_id: int) -> None:
    """Merge and store a run whose chunks are all computed (sent by the watchdog)."""
    try:
        services.run_finalize(run_id=run_id)
    except SoftTimeLimitExceeded:
        services.run_fail(run_id=run_id, error=f"Merging the results exceeded {settings.SIMULATION_SOFT_TIME_LIMIT} s.")
    except Exception as exc:
        # Left running, the watchdog would send this merge again on every pass, forever.
        logger.exception("Merging the results of run %s failed", run_id)
        services.run_fail(run_id=run_id, error=f"Merging the results failed: {type(exc).__name__}: {exc}")


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
