"""Handing runs to the broker, and recovering the ones that went astray.

Publishing never blocks a request for long: one quick retry for a stale connection, then the run
stays queued with `dispatched_at` unset. `redispatch_and_watch` (run by every worker in a loop, and
by `manage.py dispatch_queued_runs`) re-publishes such runs, re-publishes chunks whose worker was
lost, finishes runs whose finaliser died, and fails runs that cannot make progress, so no run stays
"running" for ever.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Max, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from . import services
from .models import SimulationChunk, SimulationRun

logger = logging.getLogger(__name__)

# One immediate retry covers a pooled connection the broker closed when it restarted.
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
BROKER_ERRORS: tuple[type[BaseException], ...] = (KombuOperationalError, ConnectionError, OSError, TimeoutError)
try:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    BROKER_ERRORS += (RedisConnectionError, RedisTimeoutError)
except ImportError:  # pragma: no cover - redis is a requirement, the filesystem broker does without
    pass

# A chunk lost this many times (its worker killed each time) fails the run instead of looping.
MAX_CHUNK_ATTEMPTS = 3
# Grace before re-publishing a queued run that was never handed over: the web request may still be
# publishing it.
UNDISPATCHED_GRACE = timedelta(seconds=2)


def _publish(task, *args) -> bool:
    try:
        task.apply_async(args=args, retry=True, retry_policy=PUBLISH_RETRY_POLICY)
    except BROKER_ERRORS as exc:
        logger.warning("Broker unreachable, %s%r not sent: %s", task.name, args, exc)
        return False
    return True


def run_dispatch(*, run: SimulationRun) -> bool:
    """Send a queued run to the workers; False (run left queued, undispatched) if the broker is down."""
    from .tasks import run_simulation

    if not _publish(run_simulation, run.pk):
        return False
    now = timezone.now()
    SimulationRun.objects.filter(pk=run.pk, dispatched_at__isnull=True).update(dispatched_at=now)
    run.dispatched_at = run.dispatched_at or now
    return True


def chunks_dispatch(*, run_id: int, indexes: list[int]) -> bool:
    from .tasks import run_chunk

    return all(_publish(run_chunk, run_id, index) for index in indexes)


def redispatch_and_watch() -> dict[str, int]:
    """One pass of the re-dispatcher and watchdog; returns what it did, by kind."""
    from .tasks import finalize_run, run_simulation

    now = timezone.now()
    done = {"dispatched": 0, "chunks_republished": 0, "finalized": 0, "failed": 0}

    for run in SimulationRun.objects.filter(
        status=SimulationRun.Status.QUEUED, dispatched_at__isnull=True, created_at__lt=now - UNDISPATCHED_GRACE
    ):
        if not run_dispatch(run=run):
            return done
        done["dispatched"] += 1

    stale_before = now - timedelta(seconds=settings.SIMULATION_STALE_AFTER)
    # Sent long ago and still queued: the message may have been lost (a broker restarted without
    # persistence). A duplicate is harmless, the claim lets only one through.
    for run in SimulationRun.objects.filter(status=SimulationRun.Status.QUEUED, dispatched_at__lt=stale_before):
        if not _publish(run_simulation, run.pk):
            return done
        SimulationRun.objects.filter(pk=run.pk).update(dispatched_at=now)
        done["dispatched"] += 1

    running = SimulationRun.objects.filter(status=SimulationRun.Status.RUNNING)
    # Claimed, but the worker died before handing out the chunks.
    for run in running.filter(fanned_out_at__isnull=True, started_at__lt=stale_before):
        indexes = list(run.chunks.filter(result__isnull=True).values_list("index", flat=True))
        if chunks_dispatch(run_id=run.pk, indexes=indexes):
            services.run_mark_fanned_out(run_id=run.pk)
            done["chunks_republished"] += len(indexes)

    # Chunks sent long ago that never started while the run shows no other sign of life: their
    # messages were lost. fanned_out_at is moved forward so this repeats at most once per period.
    idle = (
        running.filter(fanned_out_at__lt=stale_before)
        .annotate(last_started=Max("chunks__started_at"), last_finished=Max("chunks__finished_at"))
        .filter(Q(last_started__isnull=True) | Q(last_started__lt=stale_before))
        .filter(Q(last_finished__isnull=True) | Q(last_finished__lt=stale_before))
    )
    for run in idle:
        indexes = list(run.chunks.filter(result__isnull=True, started_at__isnull=True).values_list("index", flat=True))
        if indexes and chunks_dispatch(run_id=run.pk, indexes=indexes):
            SimulationRun.objects.filter(pk=run.pk).update(fanned_out_at=now)
            done["chunks_republished"] += len(indexes)

    # A chunk started longer ago than any task may run has lost its worker.
    lost_before = now - timedelta(seconds=settings.SIMULATION_TIME_LIMIT + 30)
    lost = SimulationChunk.objects.filter(
        run__status=SimulationRun.Status.RUNNING, result__isnull=True, started_at__lt=lost_before
    ).select_related("run")
    for chunk in lost:
        if chunk.attempts >= MAX_CHUNK_ATTEMPTS:
            reason = (
                f"Chunk {chunk.index + 1} of {chunk.run.chunks_total} was lost {chunk.attempts} times (its worker "
                "was killed or ran out of memory, or exceeded the time limit). Start the run again, with fewer draws "
                "per chunk if it keeps failing."
            )
            if services.run_fail(run_id=chunk.run_id, error=reason):
                done["failed"] += 1
            continue
        SimulationChunk.objects.filter(pk=chunk.pk, result__isnull=True).update(started_at=None)
        SimulationRun.objects.filter(pk=chunk.run_id).update(fanned_out_at=now)
        if chunks_dispatch(run_id=chunk.run_id, indexes=[chunk.index]):
            done["chunks_republished"] += 1

    # Every chunk stored but the run never finalised (its worker died while merging).
    merged = running.annotate(
        pending=Count("chunks", filter=Q(chunks__result__isnull=True)),
        stored=Count("chunks", filter=Q(chunks__result__isnull=False)),
        last_stored=Max("chunks__finished_at"),
    ).filter(pending=0, stored__gt=0, last_stored__lt=lost_before)
    for run in merged:
        if _publish(finalize_run, run.pk):
            done["finalized"] += 1
    return done
