"""Cost model v2 results: what run_finalize stores, what the run says about itself, what the scenario warns."""

from __future__ import annotations

import math

import pytest

from simulations import engine, selectors, services
from simulations.engine.errors import InvalidParameterError
from simulations.models import MemberResult, SimulationRun

from .conftest import execute_in_process

V2_FIGURES = (
    "savings_central",
    "savings_pct_central",
    "no_consortium_cost",
    "savings_vs_no_consortium",
    "savings_vs_no_consortium_pct",
    "savings_vs_no_consortium_p10",
    "savings_vs_no_consortium_p90",
    "direct_cost",
    "note",
)


def finished_run(world, *, draws: int = 40, **parameters) -> SimulationRun:
    if parameters:
        world.scenario.parameters = world.scenario.effective_parameters() | parameters
        world.scenario.save()
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=draws)
    execute_in_process(run)
    assert run.status == SimulationRun.Status.SUCCEEDED, run.error
    return run


def same(stored, computed) -> bool:
    if isinstance(computed, float) and math.isnan(computed):
        return stored is None or math.isnan(stored)
    return stored == pytest.approx(computed, rel=1e-12, abs=1e-9) if isinstance(computed, float) else stored == computed


def test_finalize_stores_every_v2_member_figure_as_the_engine_gave_it(world, fake_broker):
    run = finished_run(world)
    result = engine.run_scenario(services._spec_of(run))
    for rule, rule_result in result.rules.items():
        for member in rule_result.members:
            row = MemberResult.objects.get(run=run, rule=rule, lab_name=member.name)
            for name in (*V2_FIGURES, "savings", "savings_pct", "standalone_cost"):
                assert same(getattr(row, name), getattr(member, name)), (rule, member.name, name)


def test_finalize_stores_the_runs_headline_warnings_and_outsider_share(world, fake_broker):
    run = finished_run(world)
    result = engine.run_scenario(services._spec_of(run))
    assert run.headline == engine.HEADLINE_MEDIAN == result.headline
    assert run.warnings == [] == list(result.warnings)
    assert run.outsider_share == pytest.approx(result.outsider_share)
    assert run.engine_version == engine.ENGINE_VERSION


def test_an_implausible_horizon_and_growth_are_stored_as_run_warnings(world, fake_broker):
    run = finished_run(world, horizon_years=10, growth=3.0)
    assert len(run.warnings) == 2
    assert run.warnings[0].startswith("A horizon of 10 years at 3x a year")
    assert "above the planning limit of $100 billion per lab and year" in run.warnings[1]


def test_headline_savings_are_the_median_of_the_draws_inside_their_band(world, fake_broker):
    run = finished_run(world)
    for row in run.member_results.all():
        assert row.savings == pytest.approx(row.savings_p50)
        assert row.savings_p10 <= row.savings <= row.savings_p90
        assert row.savings_central == pytest.approx(row.standalone_cost - row.allocated_cost)


def test_a_member_worse_off_than_its_outside_option_gets_a_note_and_the_others_an_empty_one(world, fake_broker):
    run = finished_run(world)
    notes = {(row.rule, row.lab_name): row.note for row in run.member_results.all()}
    assert notes[("proportional", "Lab A")].startswith("Lab A pays $")
    assert "would rather leave" in notes[("proportional", "Lab A")]
    assert notes[("shapley", "Lab A")] == notes[("shapley", "Lab B")] == ""


# What a run says about itself: derived on the row, tested on unsaved instances -------------------


@pytest.mark.parametrize(
    ("engine_version", "headline", "draws", "label", "headline_label", "baseline"),
    [
        ("2.0.0", "median of the draws", 1000, "Engine 2.0.0 (cost model v2)", "median of 1,000 draws", "vs leaving"),
        ("2.0.0", "median of the draws", 1, "Engine 2.0.0 (cost model v2)", "median of 1 draw", "vs leaving"),
        (
            "2.1.3",
            "value at central parameters",
            0,
            "Engine 2.1.3 (cost model v2)",
            "at central parameters",
            "vs leaving",
        ),
        ("1.0.0", "", 200, "Engine 1.0.0 (cost model v1)", "at central parameters", "vs going alone"),
        ("test", "", 200, "Engine test", "at central parameters", "vs leaving"),
        ("", "", 200, "", "at central parameters", "vs leaving"),
    ],
)
def test_a_run_names_its_engine_headline_and_baseline(engine_version, headline, draws, label, headline_label, baseline):
    run = SimulationRun(engine_version=engine_version, headline=headline, draws=draws)
    assert run.engine_label == label
    assert run.headline_label == headline_label
    assert run.baseline_short == baseline


def test_only_v2_runs_claim_the_outside_option_and_its_stability_assumption():
    old, new = SimulationRun(engine_version="1.0.0"), SimulationRun(engine_version="2.0.0")
    assert old.is_cost_model_v1 and not new.is_cost_model_v1
    assert old.savings_baseline_label == "vs going alone (cost model v1)"
    assert new.savings_baseline_label == ("vs leaving (outside option: alone, reading the consortium's published work)")
    assert (old.stability_assumption, new.stability_assumption) == ("", engine.STABILITY_ASSUMPTION)


# Warnings about a scenario's current inputs, before any run ---------------------------------------


@pytest.mark.parametrize(
    ("parameters", "starts"),
    [
        ({}, []),
        ({"horizon_years": 5, "growth": 3.0}, []),
        ({"horizon_years": 10, "growth": 3.0}, ["A horizon of 10 years at 3x a year", "Lab A would spend $"]),
    ],
)
def test_scenario_warnings_come_from_the_engine_on_the_current_inputs(world, parameters, starts):
    world.scenario.parameters = world.scenario.effective_parameters() | parameters
    world.scenario.save()
    warnings = selectors.scenario_warnings_get(scenario=world.scenario)
    assert len(warnings) == len(starts)
    assert all(warning.startswith(start) for warning, start in zip(warnings, starts, strict=True))


def test_a_scenario_the_engine_refuses_gets_a_sentence_instead_of_an_error(world, monkeypatch):
    def refuse(**kwargs):
        raise InvalidParameterError("replication = 9 is outside [0, 2]")

    monkeypatch.setattr(services, "scenario_spec_build", refuse)
    assert selectors.scenario_warnings_get(scenario=world.scenario) == [
        "The scenario cannot be simulated as it stands: replication = 9 is outside [0, 2]"
    ]
    world.scenario.labs.clear()
    monkeypatch.undo()
    assert selectors.scenario_warnings_get(scenario=world.scenario) == [
        "The scenario cannot be simulated as it stands: a scenario needs at least one lab"
    ]
