"""Handing runs to the broker, and recovering the ones that went astray.

Publishing never blocks a request for long: one quick retry for a stale connection, then the run
stays queued with `dispatched_at` unset. `redispatch_and_watch` (run by every worker in a loop, and
by `manage.py dispatch_queued_runs`) re-publishes such runs, re-publishes chunks whose worker was
lost, finishes runs whose finaliser died, and fails runs that cannot make progress, so no run stays
"running" for ever. What it notices, and how soon with the defaults:

- a chunk whose heartbeat stopped (its worker was killed, lost power or network): after
  SIMULATION_HEARTBEAT_TIMEOUT (90 s) plus at most one SIMULATION_DISPATCH_INTERVAL (10 s);
- a broker that came back empty (restarted without persistence, flushed, replaced): on the next
  pass, from a marker key the broker loses with everything else; every queued run and every chunk
  not computing right now is sent again;
- a single message lost some other way: after SIMULATION_STALE_AFTER without a sign of life.

Every re-send is safe: the claim lets one delivery of a run through, a chunk with a result is not
computed again and the merge happens once under a row lock.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, F, Max, Q
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

# A chunk whose worker was lost this many times fails the run instead of looping.
MAX_CHUNK_LOSSES = 3
# Grace before re-publishing a queued run that was never handed over: the web request may still be
# publishing it.
UNDISPATCHED_GRACE = timedelta(seconds=2)
# Set in the broker's own database; a broker that lost its data (restarted without persistence,
# flushed) lost this key too, which tells the next pass to send everything again.
BROKER_MARKER = "consortium-planner:broker-marker"


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


def _broker_marker(command: str) -> bool:
    """Set (`set`) or remove (`forget`) the broker marker; False if the broker is not Redis or is unreachable."""
    from .tasks import run_simulation

    url = run_simulation.app.conf.broker_url or ""
    if not url.startswith(("redis://", "rediss://")):
        return False
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        if command == "forget":
            return bool(client.delete(BROKER_MARKER))
        return bool(client.set(BROKER_MARKER, timezone.now().isoformat(), nx=True))
    except BROKER_ERRORS as exc:
        logger.warning("Broker unreachable, cannot tell whether it lost its messages: %s", exc)
        return False
    finally:
        client.close()


def broker_came_back_empty() -> bool:
    """True once after the broker lost its messages (and on its very first use); False if unsure.

    SET NX of the marker is atomic, so of several workers asking after a restart exactly one gets
    True. Only Redis is asked; the filesystem broker keeps its messages as files.
    """
    return _broker_marker("set")


def _chunks_without_life(run_id: int, silent_before):
    """Chunks of a run without a result that no worker is computing (no heartbeat since `silent_before`)."""
    return SimulationChunk.objects.filter(run_id=run_id, result__isnull=True).filter(
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=silent_before)
    )


def resend_everything(*, done: dict[str, int]) -> bool:
    """Send again every queued run and every chunk or merge of a running run that nothing is working on.

    For a broker that lost its messages, and for `dispatch_queued_runs` after a restore: neither
    knows which messages still exist, and a duplicate costs nothing. False if the broker went
    away before everything was sent.
    """
    from .tasks import finalize_run, run_simulation

    now = timezone.now()
    silent_before = now - timedelta(seconds=settings.SIMULATION_HEARTBEAT_TIMEOUT)
    for run in SimulationRun.objects.filter(status=SimulationRun.Status.QUEUED):
        if not _publish(run_simulation, run.pk):
            return False
        SimulationRun.objects.filter(pk=run.pk).update(dispatched_at=now)
        done["dispatched"] += 1
    for run in SimulationRun.objects.filter(status=SimulationRun.Status.RUNNING):
        if not run.chunks.filter(result__isnull=True).exists():
            if run.chunks.filter(heartbeat_at__gte=silent_before).exists():
                continue  # merging right now
            if not _publish(finalize_run, run.pk):
                return False
            done["finalized"] += 1
            continue
        indexes = list(_chunks_without_life(run.pk, silent_before).values_list("index", flat=True))
        if not indexes:
            continue
        if not chunks_dispatch(run_id=run.pk, indexes=indexes):
            return False
        SimulationRun.objects.filter(pk=run.pk).update(fanned_out_at=now)
        done["chunks_republished"] += len(indexes)
    return True


def redispatch_and_watch(*, everything: bool = False) -> dict[str, int]:
    """One pass of the re-dispatcher and watchdog; returns what it did, by kind.

    With `everything` (or when the broker came back empty) every queued run and every chunk that
    nothing is computing is sent again first.
    """
    from .tasks import finalize_run, run_simulation

    now = timezone.now()
    done = {"dispatched": 0, "chunks_republished": 0, "finalized": 0, "failed": 0}
    came_back_empty = broker_came_back_empty()
    if came_back_empty or everything:
        if not resend_everything(done=done) and came_back_empty:
            # Interrupted: the next pass must know the broker still misses messages.
            _broker_marker("forget")
        return done

    for run in SimulationRun.objects.filter(
        status=SimulationRun.Status.QUEUED, dispatched_at__isnull=True, created_at__lt=now - UNDISPATCHED_GRACE
    ):
        if not run_dispatch(run=run):
            return done
        done["dispatched"] += 1

    stale_before = now - timedelta(seconds=settings.SIMULATION_STALE_AFTER)
    silent_before = now - timedelta(seconds=settings.SIMULATION_HEARTBEAT_TIMEOUT)
    # Sent long ago and still queued: the message may have been lost. A duplicate is harmless,
    # the claim lets only one through.
    for run in SimulationRun.objects.filter(status=SimulationRun.Status.QUEUED, dispatched_at__lt=stale_before):
        if not _publish(run_simulation, run.pk):
            return done
        SimulationRun.objects.filter(pk=run.pk).update(dispatched_at=now)
        done["dispatched"] += 1

    running = SimulationRun.objects.filter(status=SimulationRun.Status.RUNNING)
    # Claimed, but the worker died before handing out the chunks (which takes milliseconds).
    for run in running.filter(fanned_out_at__isnull=True, started_at__lt=silent_before):
        indexes = list(run.chunks.filter(result__isnull=True).values_list("index", flat=True))
        if chunks_dispatch(run_id=run.pk, indexes=indexes):
            services.run_mark_fanned_out(run_id=run.pk)
            done["chunks_republished"] += len(indexes)

    # Chunks sent long ago that never started while the run shows no other sign of life: their
    # messages were lost. fanned_out_at is moved forward so this repeats at most once per period.
    idle = (
        running.filter(fanned_out_at__lt=stale_before)
        .annotate(
            last_started=Max("chunks__started_at"),
            last_finished=Max("chunks__finished_at"),
            last_beat=Max("chunks__heartbeat_at"),
        )
        .filter(Q(last_started__isnull=True) | Q(last_started__lt=stale_before))
        .filter(Q(last_finished__isnull=True) | Q(last_finished__lt=stale_before))
        .filter(Q(last_beat__isnull=True) | Q(last_beat__lt=stale_before))
    )
    for run in idle:
        indexes = list(run.chunks.filter(result__isnull=True, started_at__isnull=True).values_list("index", flat=True))
        if indexes and chunks_dispatch(run_id=run.pk, indexes=indexes):
            SimulationRun.objects.filter(pk=run.pk).update(fanned_out_at=now)
            done["chunks_republished"] += len(indexes)

    # A started chunk whose heartbeat stopped has lost its worker. The conditional UPDATE lets one
    # watchdog of several take it; the chunk then counts as not started until a worker picks it up,
    # so a long queue in front of it is not mistaken for another loss.
    lost = (
        SimulationChunk.objects.filter(
            run__status=SimulationRun.Status.RUNNING, result__isnull=True, started_at__isnull=False
        )
        .filter(Q(heartbeat_at__lt=silent_before) | Q(heartbeat_at__isnull=True, started_at__lt=silent_before))
        .select_related("run")
    )
    for chunk in lost:
        taken = SimulationChunk.objects.filter(
            pk=chunk.pk, result__isnull=True, started_at=chunk.started_at, heartbeat_at=chunk.heartbeat_at
        ).update(started_at=None, heartbeat_at=None, lost=F("lost") + 1)
        if not taken:
            continue
        logger.warning(
            "Chunk %s of run %s lost its worker (last heartbeat %s)", chunk.index, chunk.run_id, chunk.heartbeat_at
        )
        if chunk.lost + 1 >= MAX_CHUNK_LOSSES:
            reason = (
                f"Chunk {chunk.index + 1} of {chunk.run.chunks_total} was lost {chunk.lost + 1} times (its worker "
                "was killed or ran out of memory, or exceeded the time limit). Start the run again, with fewer draws "
                "per chunk if it keeps failing."
            )
            if services.run_fail(run_id=chunk.run_id, error=reason):
                done["failed"] += 1
            continue
        if chunks_dispatch(run_id=chunk.run_id, indexes=[chunk.index]):
            done["chunks_republished"] += 1

    # Every chunk stored but the run never finalised (its worker died while merging, which beats).
    merged = running.annotate(
        pending=Count("chunks", filter=Q(chunks__result__isnull=True)),
        stored=Count("chunks", filter=Q(chunks__result__isnull=False)),
        last_stored=Max("chunks__finished_at"),
        last_beat=Max("chunks__heartbeat_at"),
    ).filter(pending=0, stored__gt=0, last_stored__lt=silent_before)
    for run in merged.filter(Q(last_beat__isnull=True) | Q(last_beat__lt=silent_before)):
        if _publish(finalize_run, run.pk):
            # Counts as a sign of life, so the merge is sent at most once per heartbeat timeout.
            run.chunks.filter(index=0).update(heartbeat_at=now)
            done["finalized"] += 1
    return done
