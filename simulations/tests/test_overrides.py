"""Scenario overrides: a scenario's own values for its labs' inputs, used by its runs only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from consortium import services as consortium_services
from simulations import engine, services
from simulations.engine.params import ALL_IN_UPLIFT
from simulations.models import MemberResult

from .conftest import execute_in_process
from .test_services import stored_numbers


def overrides_of(world, **by_lab):
    return {str(getattr(world, lab).pk): fields for lab, fields in by_lab.items()}


def set_overrides(world, **by_lab):
    return consortium_services.scenario_update(scenario=world.scenario, overrides=overrides_of(world, **by_lab))


def test_spec_takes_the_overrides_and_leaves_the_lab_alone(world):
    area_weights = dict.fromkeys(world.lab_a.area_weights, 0.0) | {"evaluation": 1.0}
    set_overrides(
        world,
        lab_a={
            "final_run_gpu_hours": 500_000,
            "rd_share": 0.6,
            "price_per_gpu_hour": "3.10",
            "openness": 0.25,
            "area_weights": area_weights,
        },
    )
    spec = services.scenario_spec_build(scenario=world.scenario)
    lab_a, lab_b = spec.labs

    assert (lab_a.final_run_gpu_hours, lab_a.rd_share, lab_a.openness) == (500_000, 0.6, 0.25)
    assert lab_a.price_per_gpu_hour == pytest.approx(3.10 * ALL_IN_UPLIFT)
    assert lab_a.area_weights[list(area_weights).index("evaluation")] == 1.0
    world.lab_a.refresh_from_db()
    assert world.lab_a.final_run_gpu_hours == 2_000_000 and world.lab_a.rd_share != 0.6
    assert lab_b.final_run_gpu_hours == world.lab_b.final_run_gpu_hours
    # Stored in their JSON form.
    assert world.scenario.overrides[str(world.lab_a.pk)]["price_per_gpu_hour"] == 3.1


def test_overriding_the_gpu_type_uses_its_datasheet_factor_unless_a_factor_is_given(world):
    world.lab_a.gpu_type, world.lab_a.throughput_factor = "other", 0.5
    world.lab_a.save()
    set_overrides(world, lab_a={"gpu_type": "A100"}, lab_b={"gpu_type": "other", "throughput_factor": 2.0})
    lab_a, lab_b = services.scenario_spec_build(scenario=world.scenario).labs

    assert (lab_a.gpu_type, lab_a.throughput_factor) == ("A100", None)
    assert (lab_b.gpu_type, lab_b.throughput_factor) == ("other", 2.0)


def test_an_override_changes_the_runs_snapshot_and_results_but_not_the_lab(world, fake_broker):
    before = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=60, seed=4)
    execute_in_process(before)
    set_overrides(world, lab_b={"rd_share": 0.5, "openness": 0.2})
    after = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=60, seed=4)
    execute_in_process(after)

    spec_b = {lab["name"]: lab for lab in after.inputs["spec"]["labs"]}["Lab B"]
    assert (spec_b["rd_share"], spec_b["openness"]) == (0.5, 0.2)
    assert after.inputs["overrides"] == {
        "Lab B": {
            "rd_share": {"lab": world.lab_b.rd_share, "scenario": 0.5},
            "openness": {"lab": world.lab_b.openness, "scenario": 0.2},
        }
    }
    assert before.inputs["overrides"] == {}
    old = MemberResult.objects.get(run=before, rule="shapley", lab_name="Lab B")
    new = MemberResult.objects.get(run=after, rule="shapley", lab_name="Lab B")
    assert new.standalone_cost != pytest.approx(old.standalone_cost)
    expected = engine.run_scenario(engine.ScenarioSpec.from_dict(after.inputs["spec"]))
    assert new.allocated_cost == pytest.approx(
        next(m for m in expected.rules["shapley"].members if m.name == "Lab B").allocated_cost
    )
    refreshed = type(world.lab_b).objects.get(pk=world.lab_b.pk)
    assert (refreshed.rd_share, refreshed.openness) == (world.lab_b.rd_share, world.lab_b.openness)


def test_a_duplicated_scenario_keeps_its_overrides_and_runs_to_the_same_numbers(world, fake_broker):
    set_overrides(world, lab_a={"final_run_gpu_hours": 700_000, "price_per_gpu_hour": 1.75})
    copy = consortium_services.scenario_duplicate(scenario=world.scenario, by=world.coordinator)
    assert copy.overrides == world.scenario.overrides

    original = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=50, seed=9)
    execute_in_process(original)
    duplicate = services.run_create(scenario=copy, started_by=world.coordinator, draws=50, seed=9)
    execute_in_process(duplicate)

    assert original.inputs["spec"] == duplicate.inputs["spec"]
    assert stored_numbers(original) == stored_numbers(duplicate)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rd_share": 1.0}, "Lab A, R&D share: The R&D share must be strictly between 0 and 1"),
        ({"rd_share": 0}, "Lab A, R&D share: The R&D share must be strictly between 0 and 1"),
        ({"openness": 1.5}, "Lab A, openness: Ensure this value is less than or equal to 1.0."),
        ({"final_run_gpu_hours": 0}, "Lab A, final run (GPU-hours per year): Ensure this value is greater"),
        ({"final_run_gpu_hours": "many"}, "Lab A, final run (GPU-hours per year): “many” value must be an integer."),
        ({"price_per_gpu_hour": 2.345}, "Lab A, price per GPU-hour (US$): Ensure that there are no more than 2"),
        ({"price_per_gpu_hour": 101}, "Lab A, price per GPU-hour (US$): Ensure this value is less than or equal"),
        ({"gpu_type": "TPU"}, "Lab A, GPU type: Value 'TPU' is not a valid choice."),
        ({"gpu_type": "other"}, "Lab A, throughput factor: GPU type “other” has no datasheet factor"),
        ({"throughput_factor": 1000}, "Lab A, throughput factor: Ensure this value is less than or equal to 100"),
        ({"area_weights": {"evaluation": 1.0}}, "Lab A, research-area weights: Missing research area(s)"),
        ({"openness": "nan"}, "Lab A, openness: enter a finite number, got 'nan'."),
        ({"throughput_factor": "NaN"}, "Lab A, throughput factor: enter a finite number, got 'NaN'."),
        ({"final_run_gpu_hours": 1.5}, "Lab A, final run (GPU-hours per year): enter a whole number"),
        ({"openness": None}, "Lab A, openness: enter a value of the lab's field, got None."),
        ({"openness": True}, "Lab A, openness: enter a value of the lab's field, got True."),
        ({"name": "Other"}, "Lab 1: name cannot be overridden"),
    ],
)
def test_a_bad_override_is_refused_naming_lab_and_field_and_nothing_is_saved(world, fields, message):
    message = message.replace("Lab 1", f"Lab {world.lab_a.pk}")
    with pytest.raises(ValidationError) as caught:
        set_overrides(world, lab_a=fields)

    assert list(caught.value.message_dict) == ["overrides"]
    assert caught.value.message_dict["overrides"][0].startswith(message), caught.value.message_dict
    world.scenario.refresh_from_db()
    assert world.scenario.overrides == {}


@pytest.mark.parametrize("lab", ["lab_d", "unknown"])
def test_overrides_for_a_lab_outside_the_scenario_are_refused(world, lab):
    key = "999999" if lab == "unknown" else str(world.lab_d.pk)
    with pytest.raises(ValidationError) as caught:
        consortium_services.scenario_update(scenario=world.scenario, overrides={key: {"openness": 0.5}})

    assert caught.value.message_dict["overrides"] == [
        f"Lab {key} is not among this scenario's labs; only its own labs may have overrides."
    ]


def test_removing_a_lab_with_overrides_from_the_scenario_is_refused(world):
    set_overrides(world, lab_b={"openness": 0.5})
    with pytest.raises(ValidationError) as caught:
        consortium_services.scenario_update(scenario=world.scenario, labs=[world.lab_a, world.lab_d])
    assert "overrides" in caught.value.message_dict or "labs" in caught.value.message_dict
    world.scenario.refresh_from_db()
    assert set(world.scenario.labs.all()) == {world.lab_a, world.lab_b}


@pytest.mark.parametrize("value", [[], {"a": {}}, {"1": []}])
def test_overrides_of_the_wrong_shape_are_refused(world, value):
    with pytest.raises(ValidationError) as caught:
        consortium_services.scenario_update(scenario=world.scenario, overrides=value)
    assert "overrides" in caught.value.message_dict


def test_a_lab_with_no_overrides_left_is_dropped(world):
    set_overrides(world, lab_a={}, lab_b={"openness": 0.3})
    assert world.scenario.overrides == {str(world.lab_b.pk): {"openness": 0.3}}


def test_a_price_given_as_a_float_is_read_as_written(world):
    set_overrides(world, lab_a={"price_per_gpu_hour": 2.1}, lab_b={"price_per_gpu_hour": 0.3})
    assert world.scenario.overrides[str(world.lab_a.pk)] == {"price_per_gpu_hour": 2.1}
    assert world.scenario.overrides[str(world.lab_b.pk)] == {"price_per_gpu_hour": 0.3}


def test_the_price_override_keeps_cents(world):
    set_overrides(world, lab_a={"price_per_gpu_hour": Decimal("2.05")})
    assert world.scenario.overrides[str(world.lab_a.pk)]["price_per_gpu_hour"] == 2.05


def test_a_runs_resource_says_which_inputs_were_overridden(world, client_as, fake_broker):
    client = client_as("coordinator")
    key = str(world.lab_a.pk)
    assert (
        client.patch(
            f"/api/v1/scenarios/{world.scenario.pk}/", {"overrides": {key: {"openness": 0.4}}}, format="json"
        ).status_code
        == 200
    )
    started = client.post(f"/api/v1/scenarios/{world.scenario.pk}/runs/", {"draws": 20}, format="json")
    assert started.status_code in (201, 202), started.content

    body = client_as("user_b").get(started.json()["url"]).json()
    assert body["overrides"] == {"Lab A": {"openness": {"lab": world.lab_a.openness, "scenario": 0.4}}}
