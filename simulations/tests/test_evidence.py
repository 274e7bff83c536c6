"""Openness from the ledger in scenarios and runs, and the ledger's reuse beside the model's commons."""

from __future__ import annotations

import dataclasses
import datetime
from decimal import Decimal

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from consortium import services as consortium_services
from labs.models import Artifact, Lab
from simulations import engine, selectors, services
from simulations.engine.evidence import commons_draws
from simulations.models import MemberResult
from tests import factories as f

from .conftest import execute_in_process

EVEN = tuple([1 / len(engine.AREAS)] * len(engine.AREAS))
RECENT = datetime.date.today() - datetime.timedelta(days=30)


def log_artifacts(lab, *pairs, released=RECENT):
    for openness, hours in pairs:
        f.ArtifactFactory(lab=lab, openness=openness, reproduction_gpu_hours=Decimal(hours), release_date=released)


def use_ledger(world, source="ledger", by_lab=None, **fields):
    by_lab = {str(getattr(world, lab).pk): value for lab, value in (by_lab or {}).items()}
    return consortium_services.scenario_update(
        scenario=world.scenario, openness_source=source, openness_by_lab=by_lab, **fields
    )


def spec_openness(run):
    return {lab["name"]: lab["openness"] for lab in run.inputs["spec"]["labs"]}


def test_a_ledger_source_changes_the_snapshot_and_results_but_not_the_lab(world, fake_broker):
    world.lab_a.openness = 1.0
    world.lab_a.save()
    log_artifacts(world.lab_a, (Artifact.Openness.OPEN, 1000), (Artifact.Openness.INTERNAL_FORK, 3000))
    before = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=40, seed=3)
    execute_in_process(before)
    use_ledger(world)
    after = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=40, seed=3)
    execute_in_process(after)

    assert spec_openness(before)["Lab A"] == 1.0
    assert spec_openness(after)["Lab A"] == 0.25
    assert after.inputs["openness"]["Lab A"] == {
        "asked": "ledger",
        "source": "ledger",
        "value": 0.25,
        "assumed": 1.0,
        "measured": 0.25,
        "fallback": False,
    }
    # Lab B has no artifacts in the window: it falls back to its assumed openness, and says so.
    assert after.inputs["openness"]["Lab B"]["source"] == "assumed"
    assert after.inputs["openness"]["Lab B"]["fallback"] is True
    assert after.inputs["openness"]["Lab B"]["measured"] is None
    assert spec_openness(after)["Lab B"] == world.lab_b.openness
    assert after.inputs["evidence"]["months"] == 24
    assert after.inputs["evidence"]["labs"]["Lab A"]["measured_openness"] == 0.25
    old = MemberResult.objects.get(run=before, rule="shapley", lab_name="Lab A")
    new = MemberResult.objects.get(run=after, rule="shapley", lab_name="Lab A")
    assert new.savings_central != pytest.approx(old.savings_central)
    assert Lab.objects.get(pk=world.lab_a.pk).openness == 1.0


def test_per_lab_exceptions_and_an_override_win_over_the_scenarios_source(world):
    log_artifacts(world.lab_a, (Artifact.Openness.PARTIAL, 100))
    log_artifacts(world.lab_b, (Artifact.Openness.PARTIAL, 100))
    use_ledger(world, source="assumed", by_lab={"lab_a": "ledger"})
    assert world.scenario.openness_by_lab == {str(world.lab_a.pk): "ledger"}
    lab_a, lab_b = services.scenario_spec_build(scenario=world.scenario).labs
    assert (lab_a.openness, lab_b.openness) == (0.5, world.lab_b.openness)

    consortium_services.scenario_update(
        scenario=world.scenario,
        openness_source="ledger",
        openness_by_lab={},
        overrides={str(world.lab_b.pk): {"openness": 0.9}},
    )
    _, records = services.scenario_evidence_get(scenario=world.scenario)
    assert records["Lab B"]["source"] == "override" and records["Lab B"]["value"] == 0.9
    assert records["Lab A"]["source"] == "ledger"


def test_an_exception_equal_to_the_scenarios_source_is_dropped(world):
    use_ledger(world, source="ledger", by_lab={"lab_a": "ledger", "lab_b": "assumed"})
    assert world.scenario.openness_by_lab == {str(world.lab_b.pk): "assumed"}


def test_the_window_is_the_scenarios_months_before_the_run(world):
    log_artifacts(
        world.lab_a,
        (Artifact.Openness.INTERNAL_FORK, 100),
        released=datetime.date.today() - datetime.timedelta(days=400),
    )
    use_ledger(world, evidence_months=12)
    assert services.scenario_spec_build(scenario=world.scenario).labs[0].openness == world.lab_a.openness
    use_ledger(world, evidence_months=24)
    assert services.scenario_spec_build(scenario=world.scenario).labs[0].openness == 0.0


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"openness_source": "guess"}, "openness_source", "Value 'guess' is not a valid choice."),
        ({"openness_by_lab": {"lab_a": "guess"}}, "openness_by_lab", "must be “assumed” or “ledger”, not 'guess'"),
        ({"openness_by_lab": {"x": "ledger"}}, "openness_by_lab", "Openness sources are keyed by lab id; 'x'"),
        ({"openness_by_lab": ["ledger"]}, "openness_by_lab", "Enter the sources per lab as an object"),
        ({"openness_by_lab": {"999999": "ledger"}}, "openness_by_lab", "Lab 999999 is not among this scenario's labs"),
        ({"openness_by_lab": {"lab_d": "ledger"}}, "openness_by_lab", "is not among this scenario's labs"),
        ({"evidence_months": 0}, "evidence_months", "Ensure this value is greater than or equal to 1."),
        ({"evidence_months": 121}, "evidence_months", "Ensure this value is less than or equal to 120."),
    ],
)
def test_bad_openness_settings_are_refused_with_a_field_message_and_nothing_saved(world, fields, field, message):
    if "openness_by_lab" in fields and isinstance(fields["openness_by_lab"], dict):
        fields["openness_by_lab"] = {
            str(getattr(world, key).pk) if hasattr(world, key) else key: value
            for key, value in fields["openness_by_lab"].items()
        }
    with pytest.raises(ValidationError) as caught:
        consortium_services.scenario_update(scenario=world.scenario, **fields)
    assert field in caught.value.message_dict, caught.value.message_dict
    assert any(message in text for text in caught.value.message_dict[field]), caught.value.message_dict
    world.scenario.refresh_from_db()
    assert (world.scenario.openness_source, world.scenario.openness_by_lab, world.scenario.evidence_months) == (
        "assumed",
        {},
        24,
    )


def test_ledger_and_an_openness_override_for_one_lab_contradict(world):
    with pytest.raises(ValidationError) as caught:
        consortium_services.scenario_update(
            scenario=world.scenario,
            overrides={str(world.lab_a.pk): {"openness": 0.4}},
            openness_by_lab={str(world.lab_a.pk): "ledger"},
        )
    assert caught.value.message_dict["openness_by_lab"][0].startswith("Lab A: its openness is overridden (0.4)")
    world.scenario.refresh_from_db()
    assert world.scenario.overrides == {} and world.scenario.openness_by_lab == {}


def test_a_duplicate_copies_the_openness_source(world):
    use_ledger(world, source="ledger", by_lab={"lab_b": "assumed"}, evidence_months=6)
    copy = consortium_services.scenario_duplicate(scenario=world.scenario, by=world.coordinator)
    assert (copy.openness_source, copy.openness_by_lab, copy.evidence_months) == (
        "ledger",
        {str(world.lab_b.pk): "assumed"},
        6,
    )


def test_the_run_compares_ledger_reuse_with_the_models_commons(world, fake_broker):
    theirs = f.ArtifactFactory(lab=world.lab_b, release_date=RECENT)
    f.ArtifactReuseFactory(artifact=theirs, reusing_lab=world.lab_a, reused_on=RECENT, gpu_hours_saved=Decimal("730.5"))
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=20, seed=1)
    execute_in_process(run)
    evidence = selectors.run_evidence_get(run=run)

    rows = {row.lab_name: row for row in evidence.members}
    assert rows["Lab A"].ledger_gpu_hours == 730.5
    assert rows["Lab A"].ledger_per_year == pytest.approx(730.5 / (((evidence_end(evidence)) + 1) / 365.25))
    assert rows["Lab B"].ledger_gpu_hours == 0.0
    spec = engine.ScenarioSpec.from_dict(run.inputs["spec"])
    draws = commons_draws(spec.labs, spec.params)
    assert rows["Lab A"].model_saved_per_year == draws["Lab A"].saved
    assert rows["Lab A"].model_saved_per_year > 2 * rows["Lab A"].ledger_per_year
    assert rows["Lab A"].ahead and "runs ahead of the evidence" in rows["Lab A"].sentence
    assert rows["Lab B"].ahead and "records no reuse" in rows["Lab B"].sentence
    assert evidence.to_dict()["members"][0]["lab_name"] == "Lab A"


def evidence_end(evidence):
    return (datetime.date.fromisoformat(evidence.end) - datetime.date.fromisoformat(evidence.start)).days


def test_runs_made_before_evidence_have_none(world, fake_broker):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=10, seed=1)
    run.inputs.pop("evidence")
    assert selectors.run_evidence_get(run=run) is None


def test_commons_draws_follow_the_grand_coalitions_levels():
    labs = (
        engine.LabInput(
            name="A", final_run_gpu_hours=2e6, rd_share=0.8, price_per_gpu_hour=2.0, openness=1.0, area_weights=EVEN
        ),
        engine.LabInput(
            name="B", final_run_gpu_hours=1e6, rd_share=0.8, price_per_gpu_hour=2.0, openness=1.0, area_weights=EVEN
        ),
    )
    params = engine.Params()
    draws = commons_draws(labs, params)
    game = engine.yearly_games(labs, params)[0]
    arrangement = game.arrangement(np.ones(2, dtype=bool))
    if arrangement.mode == "together":
        drawn = np.minimum(game.demand, arrangement.levels[:, None]).sum(axis=0)
        assert draws["A"].drawn == pytest.approx(drawn[0])
        assert 0 < draws["A"].saved <= draws["A"].drawn
        # One hour drawn saves 1 - absorption hours of in-house research (no base model by default).
        assert draws["A"].saved == pytest.approx(draws["A"].drawn * (1 - params.absorption))
    else:  # pragma: no cover - the default parameters pool
        assert draws["A"].drawn == 0
    closed = tuple(dataclasses.replace(lab, openness=0.0) for lab in labs)
    assert all(draw.drawn == 0 and draw.saved == 0 for draw in commons_draws(closed, params).values())
