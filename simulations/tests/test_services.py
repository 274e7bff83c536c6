"""Run services in one process: snapshot, claim, chunks, merge, cancel, failure and recovery."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from simulations import dispatch, engine, services
from simulations.engine.errors import EngineError
from simulations.engine.params import ALL_IN_UPLIFT
from simulations.models import MemberResult, SimulationChunk, SimulationRun, StabilityResult, YearResult
from tests import factories as f

from .conftest import execute_in_process

RESULT_FIELDS = [
    "standalone_cost",
    "allocated_cost",
    "savings",
    "savings_pct",
    "savings_p10",
    "savings_p50",
    "savings_p90",
    "savings_pct_p10",
    "savings_pct_p50",
    "savings_pct_p90",
    "prob_saving",
    "settlement",
]


def stored_numbers(run: SimulationRun) -> list[tuple]:
    return list(
        MemberResult.objects.filter(run=run)
        .order_by("rule", "lab_name")
        .values_list("rule", "lab_name", *RESULT_FIELDS)
    )


@pytest.fixture
def small_chunks(settings):
    settings.SIMULATION_CHUNK_DRAWS = 40
    return settings


def test_spec_uses_lab_figures_with_the_all_in_uplift_and_ledger_deliveries(world):
    f.ComputeContributionFactory(
        lab=world.lab_a,
        consortium=world.consortium,
        gpu_hours_delivered=Decimal("1000"),
        price_per_gpu_hour=Decimal("2"),
    )
    f.ComputeContributionFactory(
        lab=world.lab_a, consortium=world.other_consortium, gpu_hours_delivered=Decimal("5000")
    )
    spec = services.scenario_spec_build(scenario=world.scenario)

    assert [lab.name for lab in spec.labs] == ["Lab A", "Lab B"]
    lab_a, lab_b = spec.labs
    assert lab_a.price_per_gpu_hour == pytest.approx(2.40 * ALL_IN_UPLIFT)
    assert lab_a.final_run_gpu_hours == 2_000_000
    assert (lab_a.gpu_type, lab_a.throughput_factor) == ("H100", None)
    assert lab_a.delivered_value == pytest.approx(2000.0)  # only deliveries to this consortium count
    assert lab_b.delivered_value == 0.0
    # Without the weighted rule the weights play no part.
    assert lab_a.weight == lab_b.weight == 1.0
    assert spec.draws == world.scenario.draws and spec.seed == world.scenario.seed
    assert tuple(spec.rules) == tuple(world.scenario.rules)


def test_spec_passes_each_labs_gpu_type_and_own_throughput_factor(world):
    world.lab_a.gpu_type, world.lab_a.price_per_gpu_hour = "A100", Decimal("1.20")
    world.lab_a.save()
    world.lab_b.gpu_type, world.lab_b.throughput_factor = "other", 0.5
    world.lab_b.save()
    lab_a, lab_b = services.scenario_spec_build(scenario=world.scenario).labs

    assert (lab_a.gpu_type, lab_a.throughput_factor) == ("A100", None)
    assert lab_a.h100_factor == pytest.approx(312 / 989)
    assert lab_a.price_per_gpu_hour == pytest.approx(1.20 * ALL_IN_UPLIFT)  # per A100 hour, as the lab gives it
    assert (lab_b.gpu_type, lab_b.throughput_factor, lab_b.h100_factor) == ("other", 0.5, 0.5)


def test_weighted_rule_on_delivered_compute_weighs_h100_equivalent_hours_from_the_ledger(world):
    world.scenario.rules = ["weighted", "shapley"]
    world.scenario.save()
    f.ComputeContributionFactory(
        lab=world.lab_a, consortium=world.consortium, gpu_type="A100", gpu_hours_delivered=Decimal("9890")
    )
    f.ComputeContributionFactory(
        lab=world.lab_b, consortium=world.consortium, gpu_type="H100", gpu_hours_delivered=Decimal("3120")
    )
    # Deliveries to another consortium do not count.
    f.ComputeContributionFactory(lab=world.lab_b, consortium=world.other_consortium, gpu_hours_delivered=9999)
    lab_a, lab_b = services.scenario_spec_build(scenario=world.scenario).labs

    # 9,890 A100 hours are 3,120 H100-equivalent hours: the two labs delivered alike.
    assert lab_a.weight == pytest.approx(0.5)
    assert lab_b.weight == pytest.approx(0.5)
    assert lab_a.delivered_value == pytest.approx(9890 * 2.40)  # the money value stays in hours x price


@pytest.mark.parametrize(
    ("basis", "values", "cap", "expected"),
    [
        ("shares", {"a": 75, "b": 25}, None, (0.75, 0.25)),
        ("scale", {"a": 3, "b": 1}, None, (0.75, 0.25)),
        ("scale", {"a": 3, "b": 1}, 0.6, (0.6, 0.4)),
    ],
)
def test_weighted_rule_takes_the_scenarios_shares_or_scale(world, basis, values, cap, expected):
    ids = {"a": str(world.lab_a.pk), "b": str(world.lab_b.pk)}
    world.scenario.rules = ["weighted"]
    world.scenario.weight_basis = basis
    world.scenario.weight_values = {ids[key]: value for key, value in values.items()}
    world.scenario.weight_cap = cap
    world.scenario.save()
    lab_a, lab_b = services.scenario_spec_build(scenario=world.scenario).labs
    assert (lab_a.weight, lab_b.weight) == pytest.approx(expected)


def test_run_snapshot_carries_gpu_types_throughput_factors_and_weights(world, fake_broker):
    world.lab_b.gpu_type, world.lab_b.throughput_factor = "other", 0.8
    world.lab_b.save()
    world.scenario.rules = ["weighted"]
    world.scenario.weight_basis = "shares"
    world.scenario.weight_values = {str(world.lab_a.pk): 60, str(world.lab_b.pk): 40}
    world.scenario.save()
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator)

    lab_a, lab_b = run.inputs["spec"]["labs"]
    assert (lab_a["gpu_type"], lab_a["throughput_factor"], lab_a["weight"]) == ("H100", None, pytest.approx(0.6))
    assert (lab_b["gpu_type"], lab_b["throughput_factor"], lab_b["weight"]) == ("other", 0.8, pytest.approx(0.4))
    # The snapshot is what the worker runs: it rebuilds the same engine inputs.
    assert engine.ScenarioSpec.from_dict(run.inputs["spec"]).labs[1].h100_factor == 0.8


def test_run_snapshot_is_unchanged_by_later_ledger_and_lab_edits(world, fake_broker):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, seed=11, draws=50)
    before = run.inputs
    f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium)
    world.lab_a.final_run_gpu_hours = 9_000_000
    world.lab_a.save()
    run.refresh_from_db()

    assert run.inputs == before
    assert run.inputs["spec"]["labs"][0]["final_run_gpu_hours"] == 2_000_000
    assert run.inputs["lab_ids"] == {"Lab A": world.lab_a.pk, "Lab B": world.lab_b.pk}
    assert (run.seed, run.draws, run.status, run.created_by) == (11, 50, "queued", world.coordinator)
    assert run.engine_version == engine.ENGINE_VERSION


@pytest.mark.parametrize(
    ("draws", "chunk_draws", "chunks"),
    [(200, 500, 1), (500, 500, 1), (501, 500, 2), (1000, 100, 10), (3, 1, 3), (5, 2, 3)],
)
def test_run_is_split_into_chunks_of_at_most_the_configured_draws(
    world, fake_broker, settings, draws, chunk_draws, chunks
):
    settings.SIMULATION_CHUNK_DRAWS = chunk_draws
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=draws)
    assert run.chunks_total == chunks
    services.run_claim(run_id=run.pk)
    bounds = list(run.chunks.values_list("start", "stop"))
    assert bounds[0][0] == 0 and bounds[-1][1] == draws
    assert all(stop - start <= chunk_draws for start, stop in bounds)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))


def test_run_is_sent_to_the_broker_after_commit(world, fake_broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = services.run_create(scenario=world.scenario, started_by=world.coordinator)
        assert fake_broker.sent == []
    run.refresh_from_db()
    assert fake_broker.sent == [("run_simulation", (run.pk,))]
    assert run.dispatched_at is not None
    assert run.queue_notice == ""


def test_run_stays_queued_with_a_plain_notice_when_the_broker_is_down(
    world, fake_broker, django_capture_on_commit_callbacks
):
    fake_broker.down = True
    with django_capture_on_commit_callbacks(execute=True):
        run = services.run_create(scenario=world.scenario, started_by=world.coordinator)
    run.refresh_from_db()
    assert (run.status, run.dispatched_at) == ("queued", None)
    assert run.queue_notice == "The job queue is unreachable; the run is saved and will start when it is back."


@pytest.mark.parametrize("role", ["user_a", "user_b", "staff", "other_coordinator"])
def test_only_coordinators_start_runs(world, fake_broker, role):
    with pytest.raises(PermissionDenied):
        services.run_create(scenario=world.scenario, started_by=getattr(world, role))
    assert not SimulationRun.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"draws": 0}, "draws"), ({"draws": 100_001}, "draws"), ({"seed": -1}, "seed"), ({"seed": 2**31}, "seed")],
)
def test_bad_draws_or_seed_are_rejected_naming_the_field(world, fake_broker, overrides, field):
    with pytest.raises(ValidationError) as error:
        services.run_create(scenario=world.scenario, started_by=world.coordinator, **overrides)
    assert field in error.value.message_dict
    assert not SimulationRun.objects.exists()


def test_a_weighted_run_executes_with_the_scenarios_shares(world, fake_broker, small_chunks):
    world.scenario.rules = ["weighted", "shapley"]
    world.scenario.weight_basis = "shares"
    world.scenario.weight_values = {str(world.lab_a.pk): 70, str(world.lab_b.pk): 30}
    world.scenario.save()
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=40, seed=5)
    execute_in_process(run)

    assert run.status == "succeeded", run.error
    rows = {row.lab_name: row for row in MemberResult.objects.filter(run=run, rule="weighted")}
    assert set(rows) == {"Lab A", "Lab B"}
    expected = engine.run_scenario(engine.ScenarioSpec.from_dict(run.inputs["spec"]))
    for member in expected.rules["weighted"].members:
        assert rows[member.name].allocated_cost == pytest.approx(member.allocated_cost)


def test_weighted_rule_on_delivered_compute_needs_deliveries_naming_the_basis(world, fake_broker):
    world.scenario.rules = ["weighted"]
    world.scenario.save()
    with pytest.raises(ValidationError) as error:
        services.run_create(scenario=world.scenario, started_by=world.coordinator)
    assert "No member has delivered compute" in error.value.message_dict["weight_basis"][0]
    assert not SimulationRun.objects.exists()


@pytest.mark.parametrize(
    ("basis", "values", "cap", "field", "message"),
    [
        ("shares", {"a": 60, "b": 30}, None, "weight_values", "sum to 100%"),
        ("scale", {"a": -1, "b": 3}, None, "weight_values", "negative"),
        ("scale", {"a": 2}, None, "weight_values", "missing: Lab B"),
        ("scale", {"a": 2, "b": 3}, 0.4, "weight_cap", "raise it to at least 50%"),
        ("shares", {"a": 50, "b": 50}, 0.6, "weight_cap", "not to fixed shares"),
    ],
)
def test_a_run_with_bad_weights_is_refused_naming_the_field(world, fake_broker, basis, values, cap, field, message):
    """Weights stored without the services' check (the admin, an older row) are checked again at the start."""
    ids = {"a": str(world.lab_a.pk), "b": str(world.lab_b.pk)}
    world.scenario.rules = ["weighted"]
    world.scenario.weight_basis = basis
    world.scenario.weight_values = {ids[key]: value for key, value in values.items()}
    world.scenario.weight_cap = cap
    world.scenario.save()
    with pytest.raises(ValidationError) as error:
        services.run_create(scenario=world.scenario, started_by=world.coordinator)
    assert message in " ".join(error.value.message_dict[field])
    assert not SimulationRun.objects.exists()


def test_delivered_compute_on_other_gpus_without_a_factor_is_refused_naming_the_lab(world, fake_broker):
    world.scenario.rules = ["weighted"]
    world.scenario.save()
    f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium)
    # An entry recorded before factors existed: the ledger cannot be changed, so the lab must give one.
    f.ComputeContributionFactory(lab=world.lab_b, consortium=world.consortium, gpu_type="other")
    with pytest.raises(ValidationError) as error:
        services.run_create(scenario=world.scenario, started_by=world.coordinator)
    assert "Lab B delivered compute on GPU type “other”" in error.value.message_dict["weight_basis"][0]


def test_scenario_without_labs_cannot_run(world, fake_broker):
    world.scenario.labs.clear()
    with pytest.raises(ValidationError) as error:
        services.run_create(scenario=world.scenario, started_by=world.coordinator)
    assert "labs" in error.value.message_dict


@pytest.mark.parametrize("change", ["left", "observer"])
def test_a_scenario_whose_lab_is_no_longer_member_or_candidate_cannot_run(world, fake_broker, change):
    from consortium import services as consortium_services

    today = datetime.date.today()
    if change == "left":
        consortium_services.membership_end(consortium=world.consortium, lab=world.lab_b, on_date=today, by=None)
    else:
        consortium_services.membership_change(
            consortium=world.consortium, lab=world.lab_b, status="observer", on_date=today, by=world.coordinator
        )
    with pytest.raises(ValidationError) as error:
        services.run_create(scenario=world.scenario, started_by=world.coordinator)
    assert "labs" in error.value.message_dict
    assert not SimulationRun.objects.exists()


def test_executed_run_stores_the_engines_numbers(world, fake_broker, small_chunks):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=100, seed=3)
    execute_in_process(run)

    assert run.status == "succeeded" and run.progress == 1.0 and run.chunks_done == run.chunks_total == 3
    assert run.started_at <= run.finished_at
    expected = engine.run_scenario(engine.ScenarioSpec.from_dict(run.inputs["spec"]))
    for rule in world.scenario.rules:
        rows = {row.lab_name: row for row in MemberResult.objects.filter(run=run, rule=rule)}
        assert set(rows) == {"Lab A", "Lab B"}
        for member in expected.rules[rule].members:
            row = rows[member.name]
            assert row.allocated_cost == pytest.approx(member.allocated_cost)
            assert row.savings_p50 == pytest.approx(member.savings_p50)
            assert row.prob_saving == pytest.approx(member.prob_saving)
            assert row.settlement == pytest.approx(member.settlement)
            assert row.delivered_value == pytest.approx(member.delivered_value)
        assert rows["Lab A"].lab == world.lab_a
    assert StabilityResult.objects.filter(run=run).count() == len(world.scenario.rules)
    assert YearResult.objects.filter(run=run, lab_name="Lab A").exists()
    # Chunk payloads are dropped once merged.
    assert not SimulationChunk.objects.filter(run=run, result__isnull=False).exists()


@pytest.mark.parametrize("chunk_draws", [1000, 333, 50, 7])
def test_same_seed_gives_identical_numbers_whatever_the_chunking(world, fake_broker, settings, chunk_draws):
    settings.SIMULATION_CHUNK_DRAWS = 1000
    reference = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=350, seed=5)
    execute_in_process(reference)
    settings.SIMULATION_CHUNK_DRAWS = chunk_draws
    chunked = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=350, seed=5)
    execute_in_process(chunked)

    assert chunked.chunks_total == -(-350 // chunk_draws)
    assert stored_numbers(chunked) == stored_numbers(reference)


def test_different_seed_gives_different_bands(world, fake_broker):
    runs = []
    for seed in (1, 2):
        run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=200, seed=seed)
        execute_in_process(run)
        runs.append(run)
    assert stored_numbers(runs[0]) != stored_numbers(runs[1])


def test_second_delivery_of_a_run_or_a_chunk_does_nothing(world, fake_broker, small_chunks):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=100)
    indexes = services.run_claim(run_id=run.pk)
    services.run_mark_fanned_out(run_id=run.pk)
    assert indexes == [0, 1, 2]
    assert services.run_claim(run_id=run.pk) == []

    services.chunk_execute(run_id=run.pk, index=0)
    services.chunk_execute(run_id=run.pk, index=0)
    run.refresh_from_db()
    assert run.chunks_done == 1
    assert SimulationChunk.objects.get(run=run, index=0).attempts == 1

    services.chunk_execute(run_id=run.pk, index=1)
    assert services.chunk_execute(run_id=run.pk, index=2) is True
    assert services.run_finalize(run_id=run.pk) is True
    assert services.run_finalize(run_id=run.pk) is False
    assert services.run_claim(run_id=run.pk) == []
    run.refresh_from_db()
    assert run.status == "succeeded" and run.chunks_done == 3
    assert MemberResult.objects.filter(run=run).count() == 2 * len(world.scenario.rules)


def test_redelivery_after_a_lost_fan_out_hands_out_the_chunks_again(world, fake_broker, small_chunks):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=100)
    assert services.run_claim(run_id=run.pk) == [0, 1, 2]
    # The worker died before run_mark_fanned_out: the redelivered message must not be ignored.
    assert services.run_claim(run_id=run.pk) == [0, 1, 2]


def test_finalize_waits_for_every_chunk(world, fake_broker, small_chunks):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=100)
    services.run_claim(run_id=run.pk)
    assert services.chunk_execute(run_id=run.pk, index=0) is False
    assert services.run_finalize(run_id=run.pk) is False
    run.refresh_from_db()
    assert run.status == "running"
    assert run.progress == pytest.approx(1 / 3)


@pytest.mark.parametrize("when", ["queued", "running"])
def test_cancelled_run_computes_and_stores_nothing_more(world, fake_broker, small_chunks, when):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=100)
    if when == "running":
        services.run_claim(run_id=run.pk)
        services.chunk_execute(run_id=run.pk, index=0)
    services.run_cancel(run=run, by=world.coordinator)
    assert (run.status, run.error) == ("cancelled", "Cancelled by coordinator.")

    assert services.run_claim(run_id=run.pk) == []
    for index in range(3):
        assert services.chunk_execute(run_id=run.pk, index=index) is False
    assert services.run_finalize(run_id=run.pk) is False
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert not MemberResult.objects.filter(run=run).exists()
    assert SimulationChunk.objects.filter(run=run, result__isnull=False).count() == (1 if when == "running" else 0)


def test_finished_run_cannot_be_cancelled(world, fake_broker):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=20)
    execute_in_process(run)
    with pytest.raises(ValidationError) as error:
        services.run_cancel(run=run, by=world.coordinator)
    assert "already succeeded" in error.value.message_dict["status"][0]


def test_only_coordinators_cancel(world, fake_broker):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator)
    with pytest.raises(PermissionDenied):
        services.run_cancel(run=run, by=world.user_a)
    run.refresh_from_db()
    assert run.status == "queued"


def test_engine_error_fails_the_run_with_its_message(world, fake_broker, monkeypatch):
    def broken(spec, start, stop):
        raise EngineError("nucleolus: linear program infeasible")

    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=20)
    monkeypatch.setattr(engine, "simulate_chunk", broken)
    execute_in_process(run)
    assert run.status == "failed"
    assert run.error == "The engine rejected the scenario: nucleolus: linear program infeasible"
    assert run.finished_at is not None
    assert not MemberResult.objects.filter(run=run).exists()


def _age(chunk_or_run, **fields):
    type(chunk_or_run).objects.filter(pk=chunk_or_run.pk).update(**fields)


def test_watchdog_sends_runs_the_broker_never_received(world, fake_broker):
    fake_broker.down = True
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator)
    dispatch.run_dispatch(run=run)
    fake_broker.down = False
    assert dispatch.redispatch_and_watch()["dispatched"] == 0  # too fresh: its request may still be sending it
    _age(run, created_at=timezone.now() - datetime.timedelta(seconds=5))

    assert dispatch.redispatch_and_watch()["dispatched"] == 1
    run.refresh_from_db()
    assert run.dispatched_at is not None
    assert fake_broker.sent == [("run_simulation", (run.pk,))]
    assert dispatch.redispatch_and_watch()["dispatched"] == 0


def test_watchdog_resends_a_chunk_whose_heartbeat_stopped_then_gives_up(world, fake_broker, small_chunks, settings):
    """A computing chunk silent for SIMULATION_HEARTBEAT_TIMEOUT is sent again; the third loss fails the run."""
    settings.SIMULATION_HEARTBEAT_TIMEOUT = 90
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=100)
    services.run_claim(run_id=run.pk)
    services.run_mark_fanned_out(run_id=run.pk)
    chunk = SimulationChunk.objects.get(run=run, index=1)
    now = timezone.now()
    _age(chunk, started_at=now - datetime.timedelta(seconds=600), heartbeat_at=now - datetime.timedelta(seconds=80))
    assert dispatch.redispatch_and_watch()["chunks_republished"] == 0  # slow, but still beating

    silent = now - datetime.timedelta(seconds=91)
    _age(chunk, started_at=silent, heartbeat_at=silent, attempts=1)
    assert dispatch.redispatch_and_watch()["chunks_republished"] == 1
    assert fake_broker.sent == [("run_chunk", (run.pk, 1))]
    chunk.refresh_from_db()
    assert (chunk.started_at, chunk.heartbeat_at, chunk.lost) == (None, None, 1)
    # Waiting in the queue again is not another loss.
    assert dispatch.redispatch_and_watch()["chunks_republished"] == 0

    _age(chunk, started_at=silent, heartbeat_at=silent, lost=dispatch.MAX_CHUNK_LOSSES - 1)
    assert dispatch.redispatch_and_watch()["failed"] == 1
    run.refresh_from_db()
    assert run.status == "failed"
    assert "Chunk 2 of 3 was lost 3 times" in run.error


def test_watchdog_finishes_a_run_whose_merge_was_lost(world, fake_broker, small_chunks, settings):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=100)
    services.run_claim(run_id=run.pk)
    for index in range(3):
        services.chunk_execute(run_id=run.pk, index=index)
    assert dispatch.redispatch_and_watch()["finalized"] == 0
    long_ago = timezone.now() - datetime.timedelta(seconds=settings.SIMULATION_HEARTBEAT_TIMEOUT + 1)
    SimulationChunk.objects.filter(run=run).update(finished_at=long_ago, heartbeat_at=long_ago)

    assert dispatch.redispatch_and_watch()["finalized"] == 1
    assert fake_broker.sent == [("finalize_run", (run.pk,))]
    # Sent once per heartbeat timeout, not on every pass.
    assert dispatch.redispatch_and_watch()["finalized"] == 0


def test_watchdog_leaves_healthy_runs_alone(world, fake_broker, small_chunks):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=100)
    dispatch.run_dispatch(run=run)
    services.run_claim(run_id=run.pk)
    services.run_mark_fanned_out(run_id=run.pk)
    services.chunk_execute(run_id=run.pk, index=0)
    fake_broker.sent.clear()
    assert dispatch.redispatch_and_watch() == {"dispatched": 0, "chunks_republished": 0, "finalized": 0, "failed": 0}
    assert fake_broker.sent == []


def test_watchdog_resends_a_queued_run_whose_message_was_lost(world, fake_broker, settings):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator)
    dispatch.run_dispatch(run=run)
    fake_broker.sent.clear()
    assert dispatch.redispatch_and_watch()["dispatched"] == 0
    _age(run, dispatched_at=timezone.now() - datetime.timedelta(seconds=settings.SIMULATION_STALE_AFTER + 1))

    assert dispatch.redispatch_and_watch()["dispatched"] == 1
    assert fake_broker.sent == [("run_simulation", (run.pk,))]
    assert dispatch.redispatch_and_watch()["dispatched"] == 0


def test_watchdog_resends_chunks_that_never_started_when_the_run_shows_no_life(
    world, fake_broker, small_chunks, settings
):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=100)
    services.run_claim(run_id=run.pk)
    services.run_mark_fanned_out(run_id=run.pk)
    services.chunk_execute(run_id=run.pk, index=0)
    fake_broker.sent.clear()
    long_ago = timezone.now() - datetime.timedelta(seconds=settings.SIMULATION_STALE_AFTER + 1)
    _age(run, fanned_out_at=long_ago)
    assert dispatch.redispatch_and_watch()["chunks_republished"] == 0  # chunk 0 finished just now

    SimulationChunk.objects.filter(run=run, index=0).update(
        started_at=long_ago, finished_at=long_ago, heartbeat_at=long_ago
    )
    assert dispatch.redispatch_and_watch()["chunks_republished"] == 2
    assert fake_broker.sent == [("run_chunk", (run.pk, 1)), ("run_chunk", (run.pk, 2))]
    assert dispatch.redispatch_and_watch()["chunks_republished"] == 0


@pytest.fixture
def eager():
    from consortium.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


def test_eager_mode_runs_the_whole_run_in_process(world, small_chunks, eager, django_capture_on_commit_callbacks):
    """CELERY_TASK_ALWAYS_EAGER (debugging without a worker) goes through the same claim, chunks and merge."""
    with django_capture_on_commit_callbacks(execute=True):
        run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=100, seed=3)
    run.refresh_from_db()
    assert (run.status, run.chunks_done, run.chunks_total) == ("succeeded", 3, 3)
    assert run.dispatched_at is not None and run.fanned_out_at is not None
    assert MemberResult.objects.filter(run=run).count() == 2 * len(world.scenario.rules)


def test_dispatch_command_sends_waiting_runs_and_reports_what_it_did(world, fake_broker):
    from io import StringIO

    from django.core.management import call_command

    run = services.run_create(scenario=world.scenario, started_by=world.coordinator)
    _age(run, created_at=timezone.now() - datetime.timedelta(seconds=5))
    out = StringIO()
    call_command("dispatch_queued_runs", stdout=out)
    assert out.getvalue().strip() == "dispatched: 1, chunks_republished: 0, finalized: 0, failed: 0"
    assert fake_broker.sent == [("run_simulation", (run.pk,))]


def test_broker_that_came_back_empty_gets_every_queued_run_and_idle_chunk_again(
    world, fake_broker, small_chunks, settings
):
    """After a broker restart without persistence, the next pass re-sends all work nothing is computing."""
    queued = services.run_create(scenario=world.scenario, started_by=world.coordinator)
    dispatch.run_dispatch(run=queued)
    running = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=100)
    services.run_claim(run_id=running.pk)
    services.run_mark_fanned_out(run_id=running.pk)
    services.chunk_execute(run_id=running.pk, index=0)
    # Chunk 1 is being computed right now (fresh heartbeat); chunk 2 waits in the lost queue.
    now = timezone.now()
    _age(SimulationChunk.objects.get(run=running, index=1), started_at=now, heartbeat_at=now)
    fake_broker.sent.clear()
    assert dispatch.redispatch_and_watch() == {"dispatched": 0, "chunks_republished": 0, "finalized": 0, "failed": 0}

    fake_broker.came_back_empty = True
    assert dispatch.redispatch_and_watch() == {"dispatched": 1, "chunks_republished": 1, "finalized": 0, "failed": 0}
    assert fake_broker.sent == [("run_simulation", (queued.pk,)), ("run_chunk", (running.pk, 2))]


def test_dispatch_command_resends_a_queued_run_whose_message_the_broker_lost(world, fake_broker):
    """The run was handed to the broker a moment ago, so only the command's full pass sends it again."""
    from io import StringIO

    from django.core.management import call_command

    run = services.run_create(scenario=world.scenario, started_by=world.coordinator)
    dispatch.run_dispatch(run=run)
    fake_broker.sent.clear()
    assert dispatch.redispatch_and_watch()["dispatched"] == 0
    out = StringIO()
    call_command("dispatch_queued_runs", stdout=out)
    assert out.getvalue().strip() == "dispatched: 1, chunks_republished: 0, finalized: 0, failed: 0"
    assert fake_broker.sent == [("run_simulation", (run.pk,))]


def test_dispatch_command_resends_a_running_runs_idle_chunks_and_lost_merges(world, fake_broker, small_chunks):
    from io import StringIO

    from django.core.management import call_command

    unfinished = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=100)
    services.run_claim(run_id=unfinished.pk)
    services.run_mark_fanned_out(run_id=unfinished.pk)
    services.chunk_execute(run_id=unfinished.pk, index=0)
    merged = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=40)
    services.run_claim(run_id=merged.pk)
    services.chunk_execute(run_id=merged.pk, index=0)
    restored = timezone.now() - datetime.timedelta(hours=3)
    SimulationChunk.objects.update(heartbeat_at=restored)
    fake_broker.sent.clear()
    out = StringIO()
    call_command("dispatch_queued_runs", stdout=out)
    assert out.getvalue().strip() == "dispatched: 0, chunks_republished: 2, finalized: 1, failed: 0"
    assert sorted(fake_broker.sent) == [
        ("finalize_run", (merged.pk,)),
        ("run_chunk", (unfinished.pk, 1)),
        ("run_chunk", (unfinished.pk, 2)),
    ]


def test_a_computing_chunk_writes_its_heartbeat_from_another_thread(transactional_db, world, settings, monkeypatch):
    """The heartbeat keeps coming while the main thread is busy in the engine."""
    import time

    settings.SIMULATION_HEARTBEAT_INTERVAL = 1
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=20)
    services.run_claim(run_id=run.pk)
    beats = []
    real = services.engine.simulate_chunk

    def slow(*args):
        started = SimulationChunk.objects.get(run=run).heartbeat_at
        time.sleep(2.5)
        beats.append((started, SimulationChunk.objects.get(run=run).heartbeat_at))
        return real(*args)

    monkeypatch.setattr(services.engine, "simulate_chunk", slow)
    assert services.chunk_execute(run_id=run.pk, index=0)
    ((started, later),) = beats
    assert started is not None
    assert (later - started).total_seconds() >= 1


def test_broker_that_came_back_empty_but_went_away_again_is_resent_to_on_the_next_pass(world, fake_broker, monkeypatch):
    """An interrupted full re-send forgets the broker marker, so the next pass tries everything again."""
    forgotten = []
    monkeypatch.setattr(dispatch, "_broker_marker", forgotten.append)
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator)
    dispatch.run_dispatch(run=run)
    fake_broker.came_back_empty, fake_broker.down = True, True
    assert dispatch.redispatch_and_watch()["dispatched"] == 0
    assert forgotten == ["forget"]
