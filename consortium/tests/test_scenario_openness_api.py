"""The scenario resource's openness source: read, written, refused with a field message, copied; runs'
results carry the ledger's evidence."""

from __future__ import annotations

import datetime

import pytest

from consortium.models import Scenario
from simulations.tests.conftest import fake_broker  # noqa: F401
from tests import factories as f

SCENARIOS = "/api/v1/scenarios/"


def test_openness_source_is_written_and_read_back(world, client_as):
    client = client_as("coordinator")
    key = str(world.lab_b.pk)
    response = client.patch(
        f"{SCENARIOS}{world.scenario.pk}/",
        {"openness_source": "ledger", "openness_by_lab": {key: "assumed"}, "evidence_months": 12},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["openness_source"], body["openness_by_lab"], body["evidence_months"]) == (
        "ledger",
        {key: "assumed"},
        12,
    )
    assert client.get(f"{SCENARIOS}{world.scenario.pk}/").json()["openness_by_lab"] == {key: "assumed"}


def test_a_scenario_is_created_with_the_defaults_and_with_a_ledger_source(world, client_as):
    client = client_as("coordinator")
    base = {"consortium": world.consortium.pk, "labs": [world.lab_a.pk, world.lab_b.pk]}
    plain = client.post(SCENARIOS, base | {"name": "Plain"}, format="json")
    assert plain.status_code == 201, plain.content
    assert (plain.json()["openness_source"], plain.json()["openness_by_lab"], plain.json()["evidence_months"]) == (
        "assumed",
        {},
        24,
    )
    ledger = client.post(SCENARIOS, base | {"name": "Ledger", "openness_source": "ledger"}, format="json")
    assert ledger.status_code == 201, ledger.content
    assert Scenario.objects.get(name="Ledger").openness_source == "ledger"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"openness_source": "guess"}, "openness_source", "is not a valid choice"),
        ({"openness_source": None}, "openness_source", "may not be null"),
        ({"openness_by_lab": lambda w: {str(w.lab_a.pk): "maybe"}}, "openness_by_lab", "must be “assumed” or “ledger”"),
        (
            {"openness_by_lab": lambda w: {str(w.lab_d.pk): "ledger"}},
            "openness_by_lab",
            "is not among this scenario's labs",
        ),
        ({"openness_by_lab": lambda w: {"424242": "ledger"}}, "openness_by_lab", "Lab 424242 is not among"),
        ({"openness_by_lab": lambda w: {"lab-a": "ledger"}}, "openness_by_lab", "is not a lab id"),
        ({"openness_by_lab": lambda w: ["ledger"]}, "openness_by_lab", "Enter the sources per lab as an object"),
        ({"evidence_months": 0}, "evidence_months", "greater than or equal to 1"),
        ({"evidence_months": 500}, "evidence_months", "less than or equal to 120"),
        ({"evidence_months": "soon"}, "evidence_months", "A valid integer is required."),
    ],
)
def test_bad_openness_settings_get_a_field_message_and_nothing_is_saved(world, client_as, changes, field, message):
    before = Scenario.objects.get(pk=world.scenario.pk).updated_at
    changes = {name: value(world) if callable(value) else value for name, value in changes.items()}
    response = client_as("coordinator").patch(f"{SCENARIOS}{world.scenario.pk}/", changes | {"seed": 7}, format="json")

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert list(error["fields"]) == [field], error
    assert message in " ".join(error["fields"][field]), error
    scenario = Scenario.objects.get(pk=world.scenario.pk)
    assert (scenario.openness_source, scenario.openness_by_lab, scenario.evidence_months, scenario.seed) == (
        "assumed",
        {},
        24,
        world.scenario.seed,
    )
    assert scenario.updated_at == before


def test_ledger_for_a_lab_whose_openness_is_overridden_is_refused(world, client_as):
    key = str(world.lab_a.pk)
    response = client_as("coordinator").patch(
        f"{SCENARIOS}{world.scenario.pk}/",
        {"overrides": {key: {"openness": 0.3}}, "openness_by_lab": {key: "ledger"}},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "its openness is overridden" in " ".join(response.json()["error"]["fields"]["openness_by_lab"])
    assert Scenario.objects.get(pk=world.scenario.pk).overrides == {}


def test_duplicate_copies_the_openness_source(world, client_as):
    client = client_as("coordinator")
    changes = {"openness_source": "ledger", "openness_by_lab": {str(world.lab_a.pk): "assumed"}, "evidence_months": 3}
    assert client.patch(f"{SCENARIOS}{world.scenario.pk}/", changes, format="json").status_code == 200
    response = client.post(f"{SCENARIOS}{world.scenario.pk}/duplicate/")
    assert response.status_code == 201, response.content
    assert {name: response.json()[name] for name in changes} == changes


@pytest.mark.parametrize(("role", "status"), [("user_a", 403), ("other_coordinator", 404), ("anonymous", 401)])
def test_only_the_consortiums_coordinators_change_the_openness_source(world, client_as, role, status):
    response = client_as(role).patch(f"{SCENARIOS}{world.scenario.pk}/", {"openness_source": "ledger"}, format="json")
    assert response.status_code == status
    assert Scenario.objects.get(pk=world.scenario.pk).openness_source == "assumed"


@pytest.mark.usefixtures("fake_broker")
@pytest.mark.parametrize(("role", "status"), [("user_a", 200), ("coordinator", 200), ("other_coordinator", 404)])
def test_results_carry_the_evidence_to_those_who_read_the_run(world, client_as, role, status):
    from simulations import services
    from simulations.tests.conftest import execute_in_process

    recent = datetime.date.today() - datetime.timedelta(days=10)
    theirs = f.ArtifactFactory(lab=world.lab_b, release_date=recent, openness="partial")
    f.ArtifactReuseFactory(artifact=theirs, reusing_lab=world.lab_a, reused_on=recent, gpu_hours_saved=1200)
    world.scenario.openness_source = "ledger"
    world.scenario.save()
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=20, seed=2)
    execute_in_process(run)
    response = client_as(role).get(f"/api/v1/runs/{run.pk}/results/")

    assert response.status_code == status
    if status != 200:
        return
    evidence = response.json()["evidence"]
    assert evidence["window"]["months"] == 24
    assert evidence["openness_weights"] == {"open": 1.0, "partial": 0.5, "internal_fork": 0.0}
    openness = {row["lab_name"]: row for row in evidence["openness"]}
    assert openness["Lab B"]["source"] == "ledger" and openness["Lab B"]["value"] == 0.5
    assert openness["Lab A"]["fallback"] is True and openness["Lab A"]["measured"] is None
    members = {row["lab_name"]: row for row in evidence["members"]}
    assert members["Lab A"]["ledger_reuse_gpu_hours"] == 1200.0
    assert members["Lab A"]["model_saved_gpu_hours_per_year"] >= 0
    assert isinstance(members["Lab A"]["model_ahead_of_evidence"], bool)


def test_schema_documents_the_openness_fields_and_the_results_evidence(world, client):
    client.force_login(world.user_a)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    scenario = components["Scenario"]["properties"]
    assert scenario["openness_by_lab"]["additionalProperties"]["enum"] == ["assumed", "ledger"]
    assert scenario["evidence_months"]["minimum"] == 1 and scenario["evidence_months"]["maximum"] == 120
    assert "ledger" in scenario["openness_source"]["description"]
    members = components["MemberEvidence"]["properties"]
    assert {"ledger_reuse_gpu_hours", "model_saved_gpu_hours_per_year", "model_ahead_of_evidence"} <= set(members)
    assert "evidence" in components["RunResults"]["properties"]
