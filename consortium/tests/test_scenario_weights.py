"""The weighted rule's weights on a scenario: one check (consortium.services.scenario_weights_check)
behind the services and the API, with each fault named on `weight_basis`, `weight_values` or `weight_cap`."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from consortium import services
from consortium.models import Scenario
from tests import factories as f


def check(world, *, rules=("weighted",), basis="shares", values=None, cap=None, delivered=None, labs=None):
    return services.scenario_weights_check(
        consortium=world.consortium,
        labs=[world.lab_a, world.lab_b] if labs is None else labs,
        rules=rules,
        basis=basis,
        values={} if values is None else values,
        cap=cap,
        delivered=delivered,
    )


def by_lab(world, a, b) -> dict[str, object]:
    return {str(world.lab_a.pk): a, str(world.lab_b.pk): b}


def test_weights_follow_fixed_shares(world):
    assert check(world, values=by_lab(world, 45.46, 54.54)) == {
        world.lab_a.pk: pytest.approx(0.4546),
        world.lab_b.pk: pytest.approx(0.5454),
    }


def test_a_capped_scale_spreads_the_excess_over_the_others(world):
    weights = check(world, basis="scale", values=by_lab(world, 9, 1), cap=0.6)
    assert weights == {world.lab_a.pk: pytest.approx(0.6), world.lab_b.pk: pytest.approx(0.4)}


def test_delivered_compute_weighs_the_ledgers_h100_equivalents(world):
    delivered = {world.lab_a.pk: 3000.0, world.lab_b.pk: 1000.0}
    assert check(world, basis="delivered", delivered=delivered) == {
        world.lab_a.pk: pytest.approx(0.75),
        world.lab_b.pk: pytest.approx(0.25),
    }


def test_delivered_compute_needs_no_values_before_a_run(world):
    assert check(world, basis="delivered") == {}


def test_without_the_weighted_rule_nothing_is_checked(world):
    assert check(world, rules=["shapley"], values=by_lab(world, 1, 1)) == {}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"basis": "gdp"}, "weight_basis", "Unknown weight basis 'gdp'; choose one of: delivered, scale, shares."),
        ({"values": "60/40"}, "weight_values", "Enter the weights as an object"),
        ({"values": {"lab A": 60}}, "weight_values", "is not a lab id"),
        ({"values": "a=60,b=30"}, "weight_values", "as an object"),
        ({"values": "shares", "basis": "scale"}, "weight_values", "as an object"),
        ({"values": ("a", 60, "b", 30)}, "weight_values", "Fixed shares must sum to 100%, they sum to 90%."),
        ({"values": ("a", -10, "b", 110)}, "weight_values", "Weight of Lab A: -10 is negative."),
        ({"values": ("a", "ten", "b", 90)}, "weight_values", "The weight of lab"),
        ({"values": ("a", 10**400, "b", 90)}, "weight_values", "between -1e15 and 1e15"),
        ({"values": ("a", 0, "b", 0), "basis": "scale"}, "weight_values", "No member has a positive number"),
        ({"values": ("a", 50, "b", 50), "cap": 0.5}, "weight_cap", "A cap applies to a scale, not to fixed shares."),
        (
            {"values": ("a", 1, "b", 1), "basis": "scale", "cap": 0.3},
            "weight_cap",
            "A cap of 30% cannot cover the whole bill with 2 member(s) on the scale; raise it to at least 50%.",
        ),
        ({"basis": "delivered", "cap": 0.8}, "weight_cap", "A cap applies to a scale only."),
        ({"basis": "delivered", "values": ("a", 1, "b", 1)}, "weight_values", "leave the weights empty"),
        ({"basis": "delivered", "delivered": {}}, "weight_basis", "No member has delivered compute"),
    ],
)
def test_bad_weights_are_refused_naming_the_field(world, changes, field, message):
    values = changes.pop("values", None)
    if isinstance(values, tuple):
        values = by_lab(world, values[1], values[3])
    with pytest.raises(ValidationError) as error:
        check(world, values=values, **changes)
    assert list(error.value.message_dict) == [field]
    assert message in error.value.message_dict[field][0]


def test_a_share_missing_for_a_lab_of_the_scenario_names_it(world):
    with pytest.raises(ValidationError) as error:
        check(world, values={str(world.lab_a.pk): 100})
    assert error.value.message_dict["weight_values"] == ["Give a weight for every lab of the scenario; missing: Lab B."]


def test_a_weight_for_a_lab_outside_the_scenario_names_the_lab(world):
    outsider = f.LabFactory(name="Lab E")
    f.MembershipFactory(consortium=world.consortium, lab=outsider)
    values = by_lab(world, 50, 50) | {str(outsider.pk): 10, str(world.lab_d.pk): 5}
    with pytest.raises(ValidationError) as error:
        check(world, values=values)
    (message,) = error.value.message_dict["weight_values"]
    # Lab D is not in this consortium: its id is all the message gives away.
    assert message == f"Not a lab of this scenario: lab {world.lab_d.pk}, Lab E. Give weights for its labs only."


def test_a_lab_that_cannot_convert_its_deliveries_is_named(world):
    with pytest.raises(ValidationError) as error:
        check(world, basis="delivered", delivered={world.lab_a.pk: 100.0, world.lab_b.pk: None})
    assert error.value.message_dict["weight_basis"][0].startswith("Lab B delivered compute on GPU type “other”")


def create(world, **fields):
    return services.scenario_create(
        consortium=world.consortium,
        created_by=world.coordinator,
        name="Shares",
        labs=[world.lab_a, world.lab_b],
        rules=["weighted", "shapley"],
        **fields,
    )


def test_scenario_create_stores_the_weights(world):
    scenario = create(world, weight_basis="scale", weight_values=by_lab(world, 3, 1), weight_cap=0.7)
    scenario.refresh_from_db()
    assert (scenario.weight_basis, scenario.weight_values, scenario.weight_cap) == (
        "scale",
        by_lab(world, 3, 1),
        0.7,
    )


def test_a_new_scenario_weighs_delivered_compute_by_default(world):
    scenario = create(world)
    assert (scenario.weight_basis, scenario.weight_values, scenario.weight_cap) == ("delivered", {}, None)


def test_scenario_create_refuses_bad_weights_and_saves_nothing(world):
    with pytest.raises(ValidationError) as error:
        create(world, weight_basis="shares", weight_values=by_lab(world, 60, 30))
    assert "sum to 100%" in error.value.message_dict["weight_values"][0]
    assert not Scenario.objects.filter(name="Shares").exists()


@pytest.mark.parametrize(("cap", "message"), [(0, "above 0, at most 1"), (1.5, "above 0, at most 1")])
def test_a_cap_outside_0_to_1_is_refused_even_without_the_weighted_rule(world, cap, message):
    with pytest.raises(ValidationError) as error:
        services.scenario_update(scenario=world.scenario, weight_basis="scale", weight_cap=cap)
    assert message in error.value.message_dict["weight_cap"][0]


def test_scenario_update_checks_the_stored_weights_against_the_new_labs(world):
    scenario = create(world, weight_basis="shares", weight_values=by_lab(world, 50, 50))
    lab_c = f.LabFactory(name="Lab C")
    f.MembershipFactory(consortium=world.consortium, lab=lab_c)
    with pytest.raises(ValidationError) as error:
        services.scenario_update(scenario=scenario, labs=[world.lab_a, lab_c])
    assert "Not a lab of this scenario: Lab B." in error.value.message_dict["weight_values"][0]
    services.scenario_update(
        scenario=scenario, labs=[world.lab_a, lab_c], weight_values={str(world.lab_a.pk): 50, str(lab_c.pk): 50}
    )
    assert set(scenario.labs.all()) == {world.lab_a, lab_c}


# The API ------------------------------------------------------------------------------------------


def post(world, client_as, **fields):
    body = {
        "consortium": world.consortium.pk,
        "name": "Weighted",
        "labs": [world.lab_a.pk, world.lab_b.pk],
        "rules": ["weighted"],
    }
    return client_as("coordinator").post("/api/v1/scenarios/", body | fields, format="json")


def test_api_creates_and_shows_a_scenarios_weights(world, client_as):
    response = post(world, client_as, weight_basis="scale", weight_values=by_lab(world, 2, 1), weight_cap=0.6)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["weight_basis"], body["weight_values"], body["weight_cap"]) == ("scale", by_lab(world, 2, 1), 0.6)
    shown = client_as("user_a").get(f"/api/v1/scenarios/{body['id']}/").json()
    assert (shown["weight_basis"], shown["weight_values"], shown["weight_cap"]) == ("scale", by_lab(world, 2, 1), 0.6)


def test_api_defaults_to_weights_by_delivered_compute(world, client_as):
    body = post(world, client_as).json()
    assert (body["weight_basis"], body["weight_values"], body["weight_cap"]) == ("delivered", {}, None)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"weight_basis": "gdp"}, "weight_basis", "not a valid choice"),
        ({"weight_basis": "shares", "weight_values": ("a", 70, "b", 20)}, "weight_values", "sum to 100%"),
        ({"weight_basis": "scale", "weight_values": ("a", -1, "b", 2)}, "weight_values", "is negative"),
        ({"weight_basis": "scale", "weight_values": ("a", 1, "b", 1), "weight_cap": 0.2}, "weight_cap", "at least"),
        ({"weight_basis": "scale", "weight_values": ("a", 1, "b", 1), "weight_cap": 2}, "weight_cap", "less than"),
        (
            {"weight_basis": "scale", "weight_values": ("a", 1, "b", 1), "weight_cap": "NaN"},
            "weight_cap",
            "valid number",
        ),
        ({"weight_values": [60, 40]}, "weight_values", "as an object"),
        ({"weight_values": {"x": 1}}, "weight_values", "not a lab id"),
        ({"weight_values": {"1" * 30: 1}}, "weight_values", "not a lab id"),
    ],
)
def test_api_refuses_bad_weights_naming_the_field(world, client_as, fields, field, message):
    if isinstance(fields.get("weight_values"), tuple):
        values = fields["weight_values"]
        fields = fields | {"weight_values": by_lab(world, values[1], values[3])}
    response = post(world, client_as, **fields)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert message in " ".join(error["fields"][field])
    assert field in error["message"]
    assert not Scenario.objects.filter(name="Weighted").exists()


def test_api_patch_of_the_basis_checks_the_stored_values(world, client_as):
    url = f"/api/v1/scenarios/{world.scenario.pk}/"
    client = client_as("coordinator")
    response = client.patch(url, {"rules": ["weighted"], "weight_basis": "shares"}, format="json")
    assert response.status_code == 400
    assert "missing: Lab A, Lab B" in response.json()["error"]["fields"]["weight_values"][0]
    response = client.patch(
        url, {"rules": ["weighted"], "weight_basis": "shares", "weight_values": by_lab(world, 50, 50)}, format="json"
    )
    assert response.status_code == 200, response.content
    world.scenario.refresh_from_db()
    assert (world.scenario.rules, world.scenario.weight_basis) == (["weighted"], "shares")


def test_api_shows_parameters_added_since_a_scenario_was_saved_at_their_defaults(world, client_as):
    """A scenario stored before the embargo and spillover parameters existed shows (and runs with) their defaults."""
    stored = {name: value for name, value in world.scenario.parameters.items() if name not in ("embargo_months",)}
    Scenario.objects.filter(pk=world.scenario.pk).update(parameters=stored | {"spillover_share": 0.3})
    body = client_as("user_a").get(f"/api/v1/scenarios/{world.scenario.pk}/").json()
    assert body["parameters"]["embargo_months"] == 6.0
    assert body["parameters"]["spillover_share"] == 0.3


def test_api_takes_embargo_and_spillover_like_any_parameter(world, client_as):
    response = post(world, client_as, rules=["shapley"], parameters={"embargo_months": 12, "spillover_share": 0.2})
    assert response.status_code == 201, response.content
    assert response.json()["parameters"]["embargo_months"] == 12
    response = post(world, client_as, name="Long", rules=["shapley"], parameters={"embargo_months": 30})
    assert response.status_code == 400
    assert "embargo_months = 30 is outside its allowed range [0.0, 24.0] months" in response.json()["error"]["message"]


def test_schema_documents_the_weights_and_the_new_parameters(world, client):
    from simulations.engine import PARAMETER_SPECS, WEIGHT_BASES

    client.force_login(world.user_a)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    properties = schema["components"]["schemas"]["Scenario"]["properties"]
    basis = properties["weight_basis"]
    enum = basis.get("enum") or schema["components"]["schemas"][basis["allOf"][0]["$ref"].rsplit("/", 1)[-1]]["enum"]
    assert set(enum) == set(WEIGHT_BASES)
    assert properties["weight_values"]["type"] == "object"
    assert properties["weight_values"]["additionalProperties"]["type"] == "number"
    assert properties["weight_cap"]["nullable"] is True
    for name in ("embargo_months", "spillover_share"):
        spec, documented = PARAMETER_SPECS[name], properties["parameters"]["properties"][name]
        assert (documented["minimum"], documented["maximum"], documented["default"]) == (
            spec.low,
            spec.high,
            spec.default,
        )
        assert spec.source[:40] in documented["description"]


def test_schema_documents_the_labs_throughput_factor(world, client):
    client.force_login(world.user_a)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    factor = schema["components"]["schemas"]["Lab"]["properties"]["throughput_factor"]
    assert (factor["minimum"], factor["maximum"], factor["nullable"]) == (0.01, 100.0, True)
