"""Simulation runs: ORM -> engine -> ORM. The one place a run is created, executed and stored.

A run's life, each step safe to repeat (a broker may deliver a message twice, a lost worker's
message is delivered again):

1. `run_create` snapshots the scenario into the run and hands its id to the broker after commit.
2. `run_claim` turns queued into running with a conditional UPDATE (count 0: someone else has it)
   and creates one `SimulationChunk` row per slice of the Monte Carlo draws.
3. `chunk_execute` computes one slice with the engine and stores it; a chunk that already has a
   result is not computed again. The chunk that completes the set calls `run_finalize`.
4. `run_finalize` merges the chunks in index order (so 1 chunk or 50, 1 worker or 4, give the same
   numbers), writes the result tables and marks the run succeeded, under a row lock so it happens once.

Dispatching (handing ids to the broker) lives in `simulations.dispatch`.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connections, transaction
from django.db.models import F
from django.utils import timezone

from consortium import access
from consortium.models import Consortium, Scenario
from consortium.services import lab_effective_inputs, scenario_labs_check, scenario_weights_check
from labs.selectors import OPENNESS_WEIGHTS, LabEvidence, contribution_totals, evidence_window, lab_evidence_get
from simulations import engine
from simulations.engine.custom import CustomResult, check_custom_rules, member_figures, run_custom
from simulations.engine.errors import EngineError
from simulations.engine.params import ALL_IN_UPLIFT, AREAS

from .models import LeverStudy, MemberResult, SimulationChunk, SimulationRun, StabilityResult, YearResult

logger = logging.getLogger(__name__)

ACTIVE = (SimulationRun.Status.QUEUED, SimulationRun.Status.RUNNING)


class ActiveRunLimitError(Exception):
    """The consortium already has CONSORTIUM_MAX_ACTIVE_RUNS runs queued or running (the API answers 429)."""


def _ledger_deliveries(*, consortium) -> dict[int, dict]:
    """Per lab, what it delivered to the consortium per the ledger: US$ value and H100-equivalent GPU-hours."""
    return {
        row["lab"]: row for row in contribution_totals(consortium=consortium, group_by=("lab",), h100_equivalent=True)
    }


def scenario_evidence_get(
    *, scenario, labs: list | None = None, today: datetime.date | None = None
) -> tuple[dict[int, LabEvidence], dict[str, dict[str, Any]]]:
    """The ledger's evidence on the scenario's labs and the openness each lab's runs take.

    Returns ({lab id: LabEvidence over the scenario's window}, {lab name: openness record}). The
    window is the scenario's `evidence_months` up to `today`. A record says which source the
    scenario asks for (`asked`: "assumed" or "ledger"), which one gave the value (`source`:
    "assumed", "ledger" or "override", an override of openness winning over both), the `value` used,
    the lab's `assumed` and `measured` openness (None: no evidence) and `fallback` (asked for the
    ledger, which has no evidence, so the assumed figure was used). Two queries for any number of labs.
    """
    labs = list(scenario.labs.order_by("name")) if labs is None else labs
    start, end = evidence_window(scenario.evidence_months, today=today)
    evidence = lab_evidence_get(labs=labs, start=start, end=end)
    records = {}
    for lab in labs:
        asked = scenario.openness_source_of(lab.pk)
        measured = evidence[lab.pk].measured_openness
        override = (scenario.overrides.get(str(lab.pk)) or {}).get("openness")
        if override is not None:
            source, value = "override", float(override)
        elif asked == "ledger" and measured is not None:
            source, value = "ledger", measured
        else:
            source, value = "assumed", float(lab.openness)
        records[lab.name] = {
            "asked": asked,
            "source": source,
            "value": value,
            "assumed": float(lab.openness),
            "measured": measured,
            "fallback": asked == "ledger" and source == "assumed",
        }
    return evidence, records


def scenario_spec_build(*, scenario, draws: int | None = None, seed: int | None = None) -> engine.ScenarioSpec:
    return _scenario_inputs(scenario=scenario, draws=draws, seed=seed)[0]


def _scenario_inputs(
    *, scenario, draws: int | None = None, seed: int | None = None
) -> tuple[engine.ScenarioSpec, dict[int, LabEvidence], dict[str, dict[str, Any]]]:
    """The engine's view of a scenario: lab figures from the labs, in-kind values from the ledger.

    Final runs and prices are per hour of each lab's GPU type (the engine converts them with the
    type's or the lab's own throughput factor); prices get the all-in uplift (hosting, staff,
    networking on top of the GPU rental price). Under the weighted rule each lab's weight is its
    share from consortium.services.scenario_weights_check, which raises a ValidationError naming
    the scenario's field when the weights cannot be computed; for basis "delivered" the shares
    follow the H100-equivalent GPU-hours each lab delivered to this consortium. Labs are ordered
    by name so the same scenario always gives the same player order. The scenario's overrides
    replace the lab's own inputs (consortium.services.lab_effective_inputs); the labs are unchanged.
    Openness is then the one scenario_evidence_get picks (assumed, from the ledger, or overridden).
    """
    labs = list(scenario.labs.order_by("name"))
    evidence, openness = scenario_evidence_get(scenario=scenario, labs=labs)
    delivered = _ledger_deliveries(consortium=scenario.consortium)
    delivered_value = {lab_id: max(float(row["delivered_value"]), 0.0) for lab_id, row in delivered.items()}
    weights = scenario_weights_check(
        consortium=scenario.consortium,
        labs=labs,
        rules=scenario.rules,
        basis=scenario.weight_basis,
        values=scenario.weight_values,
        cap=scenario.weight_cap,
        delivered={
            lab_id: None if row["entries_without_factor"] else row["h100_gpu_hours_delivered"]
            for lab_id, row in delivered.items()
        },
    )
    lab_inputs = tuple(
        lab_input_build(
            lab,
            scenario.overrides.get(str(lab.pk)),
            openness=openness[lab.name]["value"],
            weight=weights.get(lab.pk, 1.0),
            delivered_value=delivered_value.get(lab.pk, 0.0),
        )
        for lab in labs
    )
    spec = engine.ScenarioSpec(
        labs=lab_inputs,
        params=engine.Params.from_dict(scenario.effective_parameters()),
        rules=tuple(scenario.rules),
        draws=scenario.draws if draws is None else draws,
        seed=scenario.seed if seed is None else seed,
    )
    return spec, evidence, openness


def evidence_snapshot(*, scenario, labs: list, evidence: dict[int, LabEvidence]) -> dict[str, Any]:
    """What a run records of the ledger's evidence: the window, the weights and each lab's figures by name."""
    any_lab = next(iter(evidence.values()), None)
    return {
        "months": scenario.evidence_months,
        "start": any_lab.start.isoformat() if any_lab else None,
        "end": any_lab.end.isoformat() if any_lab else None,
        "weights": {str(kind): weight for kind, weight in OPENNESS_WEIGHTS.items()},
        "labs": {lab.name: evidence[lab.pk].to_dict() for lab in labs if lab.pk in evidence},
    }


def lab_input_build(
    lab, overrides=None, *, weight: float = 1.0, delivered_value: float = 0.0, openness: float | None = None
) -> engine.LabInput:
    """One lab as the engine takes it: its inputs with the scenario's overrides (see scenario_spec_build);
    `openness`, when given, is the one scenario_evidence_get picked (assumed, from the ledger or overridden)."""
    values = lab_effective_inputs(lab, overrides)
    return engine.LabInput(
        name=lab.name,
        final_run_gpu_hours=float(values["final_run_gpu_hours"]),
        rd_share=float(values["rd_share"]),
        price_per_gpu_hour=float(values["price_per_gpu_hour"]) * ALL_IN_UPLIFT,
        area_weights=tuple(float(values["area_weights"][area]) for area in AREAS),
        openness=float(values["openness"]) if openness is None else float(openness),
        weight=weight,
        delivered_value=delivered_value,
        gpu_type=values["gpu_type"],
        throughput_factor=values["throughput_factor"],
    )


def scenario_overrides_snapshot(*, scenario) -> dict[str, dict[str, dict[str, Any]]]:
    """What a run records of the scenario's overrides: {lab name: {field: {"lab": own, "scenario": used}}}.

    The spec beside it holds the values used; this says which of them are overrides and what the
    lab's own value was when the run started.
    """
    snapshot = {}
    for lab in scenario.labs.filter(pk__in=[int(key) for key in scenario.overrides]).order_by("name"):
        fields = scenario.overrides[str(lab.pk)]
        snapshot[lab.name] = {
            name: {"lab": _json_value(getattr(lab, name)), "scenario": value} for name, value in fields.items()
        }
    return snapshot


def _json_value(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


@transaction.atomic
def run_create(*, scenario, started_by, draws: int | None = None, seed: int | None = None) -> SimulationRun:
    """Snapshot the scenario into a queued run and hand it to the broker once the row is committed.

    If the broker is unreachable the run stays queued with `dispatched_at` unset (see
    `SimulationRun.queue_notice`) and the worker's re-dispatcher sends it when the broker is back.
    """
    if not access.is_coordinator(started_by, scenario.consortium):
        raise PermissionDenied("Only the consortium's coordinators can start runs.")
    # Locked, so an archive committed at the same moment either comes first (and is seen) or waits.
    scenario.archived_at = (
        Scenario.objects.select_for_update().filter(pk=scenario.pk).values_list("archived_at", flat=True).get()
    )
    if scenario.is_archived:
        raise ValidationError(
            {"scenario": f"“{scenario.name}” is archived, so it starts no new runs; unarchive it first."}
        )
    if draws is not None and not 1 <= draws <= 100_000:
        raise ValidationError({"draws": "Draws must be between 1 and 100000."})
    if seed is not None and not 0 <= seed <= 2**31 - 1:
        raise ValidationError({"seed": "The seed must be between 0 and 2147483647."})
    if scenario.is_custom:
        _check_active_runs(consortium=scenario.consortium)
        return _custom_run_create(scenario=scenario, started_by=started_by)
    lab_count = scenario.labs.count()
    if not lab_count:
        raise ValidationError({"labs": "The scenario has no labs; add at least one before running it."})
    _check_run_size(draws=scenario.draws if draws is None else draws, labs=lab_count)
    # A lab may have left (or become an observer) since the scenario was saved.
    scenario_labs_check(consortium=scenario.consortium, labs=scenario.labs.all())
    _check_active_runs(consortium=scenario.consortium)
    try:
        spec, evidence, openness = _scenario_inputs(scenario=scenario, draws=draws, seed=seed)
    except EngineError as exc:
        raise ValidationError({"scenario": f"The scenario cannot be simulated: {exc}"}) from None
    labs = list(scenario.labs.order_by("name"))
    lab_ids = {lab.name: lab.pk for lab in labs}
    run = SimulationRun.objects.create(
        scenario=scenario,
        inputs={
            "spec": spec.to_dict(),
            "lab_ids": lab_ids,
            "overrides": scenario_overrides_snapshot(scenario=scenario),
            "openness": openness,
            "evidence": evidence_snapshot(scenario=scenario, labs=labs, evidence=evidence),
        },
        seed=spec.seed,
        draws=spec.draws,
        engine_version=engine.ENGINE_VERSION,
        chunks_total=math.ceil(spec.draws / settings.SIMULATION_CHUNK_DRAWS),
        created_by=started_by,
    )
    from .dispatch import run_dispatch  # dispatch builds on this module

    transaction.on_commit(lambda: run_dispatch(run=run))
    return run


def _custom_run_create(*, scenario, started_by) -> SimulationRun:
    """A custom game's run: its table and rules snapshotted, one chunk, no draws (the table is given)."""
    try:
        rules = list(check_custom_rules(scenario.kind, scenario.game, scenario.rules))
    except EngineError as exc:
        raise ValidationError({"rules": f"The game cannot be split by these rules: {exc}"}) from None
    run = SimulationRun.objects.create(
        scenario=scenario,
        inputs={
            "custom": {"kind": scenario.kind, "game": scenario.game, "rules": rules},
            "spec": {"rules": rules},
            "lab_ids": dict(scenario.player_labs),
        },
        seed=0,
        draws=0,
        engine_version=engine.ENGINE_VERSION,
        chunks_total=1,
        created_by=started_by,
    )
    from .dispatch import run_dispatch  # dispatch builds on this module

    transaction.on_commit(lambda: run_dispatch(run=run))
    return run


def _check_run_size(*, draws: int, labs: int) -> None:
    most = settings.RUN_MAX_DRAW_LABS
    if draws * labs > most:
        raise ValidationError(
            {
                "draws": f"{draws} draws x {labs} labs = {draws * labs} is more than one run may compute, "
                f"{most} (RUN_MAX_DRAW_LABS); use at most {max(most // labs, 1)} draws for {labs} labs."
            }
        )


def _check_active_runs(*, consortium) -> None:
    """Refuse a start when the consortium has CONSORTIUM_MAX_ACTIVE_RUNS runs queued or running.

    The consortium's row is locked until the new run is committed, so simultaneous starts count
    one after the other and together never pass the cap (PostgreSQL; SQLite serialises writers).
    """
    Consortium.objects.select_for_update().filter(pk=consortium.pk).first()
    active = SimulationRun.objects.filter(scenario__consortium=consortium, status__in=ACTIVE).count()
    # Lever studies (simulations.levers) take the same workers, so they count too.
    studies = LeverStudy.objects.filter(scenario__consortium=consortium, status__in=LeverStudy.ACTIVE).count()
    most = settings.CONSORTIUM_MAX_ACTIVE_RUNS
    if active + studies >= most:
        also = f" and {studies} lever studies" if studies else ""
        raise ActiveRunLimitError(
            f"{consortium} already has {active} runs{also} queued or running, the most it may have at once "
            f"({most}, CONSORTIUM_MAX_ACTIVE_RUNS). Wait for one to finish or cancel one, then start this run."
        )


def run_cancel(*, run: SimulationRun, by) -> SimulationRun:
    """Cancel a queued or running run; chunks still waiting skip their work and nothing is stored."""
    if not access.is_coordinator(by, run.scenario.consortium):
        raise PermissionDenied("Only the consortium's coordinators can cancel its runs.")
    cancelled = SimulationRun.objects.filter(pk=run.pk, status__in=ACTIVE).update(
        status=SimulationRun.Status.CANCELLED,
        finished_at=timezone.now(),
        error=f"Cancelled by {by.get_username()}.",
    )
    run.refresh_from_db()
    if not cancelled:
        raise ValidationError(
            {"status": f"Run {run.pk} has already {run.status}; only queued or running runs can be cancelled."}
        )
    return run


def run_fail(*, run_id: int, error: str) -> bool:
    """Mark an active run failed with a readable reason; False if it had already finished."""
    return bool(
        SimulationRun.objects.filter(pk=run_id, status__in=ACTIVE).update(
            status=SimulationRun.Status.FAILED, error=error[:2000], finished_at=timezone.now()
        )
    )


def _chunk_bounds(draws: int, chunks: int) -> list[tuple[int, int]]:
    return [(index * draws // chunks, (index + 1) * draws // chunks) for index in range(chunks)]


def run_claim(*, run_id: int) -> list[int]:
    """Start a queued run; return the chunk indexes to hand out, or [] when there is nothing to do.

    A second delivery of the same message finds the run no longer queued and does nothing. A
    delivery after a worker died between the claim and the fan-out (running, never fanned out)
    hands the chunks out again; chunk tasks are idempotent, so an overlap costs nothing.
    """
    now = timezone.now()
    with transaction.atomic():
        claimed = SimulationRun.objects.filter(pk=run_id, status=SimulationRun.Status.QUEUED).update(
            status=SimulationRun.Status.RUNNING, started_at=now
        )
        run = SimulationRun.objects.filter(pk=run_id).first()
        if run is None:
            return []
        if claimed:
            SimulationChunk.objects.bulk_create(
                [
                    SimulationChunk(run=run, index=index, start=start, stop=stop)
                    for index, (start, stop) in enumerate(_chunk_bounds(run.draws, run.chunks_total))
                ],
                ignore_conflicts=True,
            )
    if run.status != SimulationRun.Status.RUNNING or run.fanned_out_at is not None:
        return []
    return list(run.chunks.filter(result__isnull=True).values_list("index", flat=True))


def run_mark_fanned_out(*, run_id: int) -> None:
    SimulationRun.objects.filter(pk=run_id, fanned_out_at__isnull=True).update(fanned_out_at=timezone.now())


def _spec_of(run: SimulationRun) -> engine.ScenarioSpec:
    return engine.ScenarioSpec.from_dict(run.inputs["spec"])


def _encode(result: engine.ChunkResult) -> bytes:
    return json.dumps(result.to_dict()).encode()


def _decode(data: bytes | memoryview) -> engine.ChunkResult:
    return engine.ChunkResult.from_dict(json.loads(bytes(data)))


class _Heartbeat(threading.Thread):
    """Writes `heartbeat_at` on some chunk rows every SIMULATION_HEARTBEAT_INTERVAL seconds.

    Hand-written because nothing else tells a lost worker from a slow one in time: the engine has no
    progress hook (a chunk is one numpy computation that may legitimately take up to
    SIMULATION_SOFT_TIME_LIMIT, 600 s), Celery's worker heartbeats are per worker and travel through
    the broker that may itself be lost, and Redis re-delivers an unacknowledged task only after the
    visibility timeout (3600 s). A thread with its own database connection keeps beating while the
    main thread computes (numpy releases the GIL; pure Python switches threads every 5 ms).
    """

    def __init__(self, chunks) -> None:
        super().__init__(name="simulations-heartbeat", daemon=True)
        self.chunks = chunks
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(settings.SIMULATION_HEARTBEAT_INTERVAL):
                try:
                    self.chunks.update(heartbeat_at=timezone.now())
                except DatabaseError as exc:
                    # A database blip: the next beat tries again on a fresh connection.
                    logger.warning("Heartbeat not written: %s", exc)
                    connections.close_all()
        finally:
            connections.close_all()


@contextmanager
def _heartbeat(chunks) -> Iterator[None]:
    """Keep `chunks` (a queryset) beating while the block runs; never inside a transaction that locks them."""
    beat = _Heartbeat(chunks)
    beat.start()
    try:
        yield
    finally:
        beat.stopped.set()
        beat.join(timeout=5)


def chunk_execute(*, run_id: int, index: int) -> bool:
    """Compute one chunk of a running run and store it; True when every chunk now has its result.

    Cancelled or finished runs are skipped. An engine error fails the run with the engine's message.
    Safe to repeat after any database error: the result and the progress count are stored in one
    transaction, only if the chunk has no result yet, and a chunk with a result is not computed again.
    """
    run = SimulationRun.objects.filter(pk=run_id).first()
    if run is None or run.status != SimulationRun.Status.RUNNING:
        return False
    chunk = SimulationChunk.objects.get(run_id=run_id, index=index)
    if chunk.result is None:
        now = timezone.now()
        this_chunk = SimulationChunk.objects.filter(pk=chunk.pk, result__isnull=True)
        this_chunk.update(started_at=now, heartbeat_at=now, attempts=F("attempts") + 1)
        try:
            if "custom" in run.inputs:
                custom = run.inputs["custom"]
                with _heartbeat(this_chunk):
                    payload = json.dumps(run_custom(custom["kind"], custom["game"], custom["rules"]).to_dict()).encode()
            else:
                with _heartbeat(this_chunk):
                    payload = _encode(engine.simulate_chunk(_spec_of(run), chunk.start, chunk.stop))
        except EngineError as exc:
            run_fail(run_id=run_id, error=f"The engine rejected the scenario: {exc}")
            return False
        with transaction.atomic():
            stored = this_chunk.update(result=payload, finished_at=timezone.now())
            if stored:
                SimulationRun.objects.filter(pk=run_id, status=SimulationRun.Status.RUNNING).update(
                    chunks_done=F("chunks_done") + 1
                )
    return not SimulationChunk.objects.filter(run_id=run_id, result__isnull=True).exists()


def _member_rows(run: SimulationRun, result: engine.ScenarioResult, lab_ids: dict[str, int]) -> list[MemberResult]:
    return [
        MemberResult(
            run=run,
            lab_id=lab_ids.get(member.name),
            lab_name=member.name,
            rule=rule,
            exact=rule_result.exact,
            standalone_cost=member.standalone_cost,
            allocated_cost=member.allocated_cost,
            allocated_stderr=rule_result.stderr[index] if rule_result.stderr is not None else None,
            savings=member.savings,
            savings_pct=member.savings_pct,
            savings_p10=member.savings_p10,
            savings_p50=member.savings_p50,
            savings_p90=member.savings_p90,
            savings_pct_p10=member.savings_pct_p10,
            savings_pct_p50=member.savings_pct_p50,
            savings_pct_p90=member.savings_pct_p90,
            prob_saving=member.prob_saving,
            delivered_value=member.delivered_value,
            settlement=member.settlement,
            savings_central=member.savings_central,
            savings_pct_central=member.savings_pct_central,
            no_consortium_cost=member.no_consortium_cost,
            savings_vs_no_consortium=member.savings_vs_no_consortium,
            savings_vs_no_consortium_pct=member.savings_vs_no_consortium_pct,
            savings_vs_no_consortium_p10=member.savings_vs_no_consortium_p10,
            savings_vs_no_consortium_p90=member.savings_vs_no_consortium_p90,
            direct_cost=member.direct_cost,
            note=member.note,
            prob_above_outside=_finite(member.prob_above_outside),
            prob_above_outside_stderr=_finite(member.prob_above_outside_stderr),
        )
        for rule, rule_result in result.rules.items()
        for index, member in enumerate(rule_result.members)
    ]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _draw_stability_fields(draws: engine.DrawStability | None) -> dict:
    """StabilityResult's per-draw columns (all empty when the engine checked no draw)."""
    if draws is None:
        return {}
    figures = draws.to_dict()
    return {
        "draws_checked": figures.pop("draws"),
        "blocking_draws": figures.pop("blocking"),
        "draws_method": figures.pop("method"),
        **figures,
    }


def _stability_rows(run: SimulationRun, result: engine.ScenarioResult) -> list[StabilityResult]:
    return [
        StabilityResult(
            run=run,
            rule=rule,
            **rule_result.stability.to_dict(),
            **_draw_stability_fields(rule_result.draw_stability),
        )
        for rule, rule_result in result.rules.items()
    ]


def _year_rows(run: SimulationRun, result: engine.ScenarioResult) -> list[YearResult]:
    """Per-year series under the run's first rule, the one the scenario leads with."""
    first = next(iter(result.rules.values()))
    return [
        YearResult(
            run=run,
            lab_name=member.name,
            year=year,
            standalone_cost=member.standalone_by_year[t],
            consortium_cost=member.consortium_by_year[t],
            cumulative_savings=member.cumulative_savings_by_year[t],
        )
        for member in first.members
        for t, year in enumerate(result.years)
    ]


def _custom_store(run: SimulationRun, result: CustomResult) -> None:
    """Store a custom game's figures (engine.custom.member_figures) in the result tables, inside
    run_finalize's transaction."""
    lab_ids = run.inputs.get("lab_ids", {})
    rows = [
        MemberResult(run=run, lab_id=lab_ids.get(figures["lab_name"]), rule=rule, **figures)
        for rule in result.rules
        for figures in member_figures(result, rule)
    ]
    MemberResult.objects.bulk_create(rows, batch_size=2000)
    StabilityResult.objects.bulk_create(
        [StabilityResult(run=run, rule=rule, **rr.stability.to_dict()) for rule, rr in result.rules.items()]
    )
    run.status = SimulationRun.Status.SUCCEEDED
    run.chunks_done = run.chunks_total
    run.headline = engine.HEADLINE_CENTRAL
    run.warnings = []
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "chunks_done", "headline", "warnings", "finished_at"])
    run.chunks.update(result=None)


def run_finalize(*, run_id: int) -> bool:
    """Merge a running run's chunks and store its results; True if this call finished the run.

    The run row is locked for the whole step so two chunks finishing together store one result
    set; a cancelled or already finished run is left alone. Everything is one transaction, so a
    database error leaves nothing behind and the step can simply be repeated. The run's first chunk
    beats while it merges, from outside the transaction (which locks the chunks at the end; one row
    cannot be locked in an order that deadlocks with it).
    """
    with _heartbeat(SimulationChunk.objects.filter(run_id=run_id, index=0)), transaction.atomic():
        run = SimulationRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != SimulationRun.Status.RUNNING:
            return False
        chunks = list(run.chunks.order_by("index"))
        if len(chunks) != run.chunks_total or any(chunk.result is None for chunk in chunks):
            return False
        if "custom" in run.inputs:
            _custom_store(run, CustomResult.from_dict(json.loads(bytes(chunks[0].result))))
            return True
        try:
            result = engine.finalize(_spec_of(run), [_decode(chunk.result) for chunk in chunks])
        except EngineError as exc:
            run.status = SimulationRun.Status.FAILED
            run.error = f"The engine could not finish the run: {exc}"[:2000]
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "error", "finished_at"])
            return False
        lab_ids = run.inputs.get("lab_ids", {})
        MemberResult.objects.bulk_create(_member_rows(run, result, lab_ids))
        StabilityResult.objects.bulk_create(_stability_rows(run, result))
        YearResult.objects.bulk_create(_year_rows(run, result))
        run.status = SimulationRun.Status.SUCCEEDED
        run.chunks_done = run.chunks_total
        run.engine_version = result.engine_version
        run.headline = result.headline
        run.warnings = list(result.warnings)
        run.outsider_share = result.outsider_share
        run.finished_at = timezone.now()
        run.save(
            update_fields=[
                "status",
                "chunks_done",
                "engine_version",
                "headline",
                "warnings",
                "outsider_share",
                "finished_at",
            ]
        )
        # Chunk payloads are only needed to merge; the result tables now hold the answer.
        run.chunks.update(result=None)
    return True
