"""The scenario resource's `overrides`: read, written, refused with a field message, copied."""

from __future__ import annotations

import pytest

from consortium.models import Scenario

SCENARIOS = "/api/v1/scenarios/"


def test_overrides_are_written_and_read_back(world, client_as):
    client = client_as("coordinator")
    key = str(world.lab_a.pk)
    response = client.patch(
        f"{SCENARIOS}{world.scenario.pk}/",
        {"overrides": {key: {"rd_share": 0.6, "price_per_gpu_hour": "2.10", "gpu_type": "A100"}}},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["overrides"] == {key: {"rd_share": 0.6, "price_per_gpu_hour": 2.1, "gpu_type": "A100"}}
    assert client.get(f"{SCENARIOS}{world.scenario.pk}/").json()["overrides"] == response.json()["overrides"]
    world.lab_a.refresh_from_db()
    assert world.lab_a.rd_share != 0.6 and world.lab_a.gpu_type == "H100"


def test_a_scenario_is_created_with_overrides(world, client_as):
    response = client_as("coordinator").post(
        SCENARIOS,
        {
            "consortium": world.consortium.pk,
            "name": "Lab B forks",
            "labs": [world.lab_a.pk, world.lab_b.pk],
            "overrides": {str(world.lab_b.pk): {"openness": 0.1}},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Scenario.objects.get(name="Lab B forks").overrides == {str(world.lab_b.pk): {"openness": 0.1}}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (lambda w: {str(w.lab_a.pk): {"rd_share": 1.2}}, "Lab A, R&D share: The R&D share must be strictly"),
        (lambda w: {str(w.lab_a.pk): {"openness": -0.1}}, "Lab A, openness: Ensure this value is greater"),
        (lambda w: {str(w.lab_a.pk): {"colour": "red"}}, "cannot be overridden"),
        (lambda w: {str(w.lab_d.pk): {"openness": 0.5}}, "is not among this scenario's labs"),
        (lambda w: {"424242": {"openness": 0.5}}, "Lab 424242 is not among this scenario's labs"),
        (lambda w: {"lab-a": {"openness": 0.5}}, "is not a lab id"),
        (lambda w: ["openness"], "Enter the overrides as an object"),
    ],
)
def test_bad_overrides_get_a_field_message_and_nothing_is_saved(world, client_as, overrides, message):
    before = Scenario.objects.get(pk=world.scenario.pk).updated_at
    response = client_as("coordinator").patch(
        f"{SCENARIOS}{world.scenario.pk}/", {"overrides": overrides(world), "seed": 7}, format="json"
    )

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert list(error["fields"]) == ["overrides"]
    assert message in " ".join(error["fields"]["overrides"]), error
    scenario = Scenario.objects.get(pk=world.scenario.pk)
    assert (scenario.overrides, scenario.seed, scenario.updated_at) == ({}, world.scenario.seed, before)


def test_duplicate_copies_the_overrides(world, client_as):
    client = client_as("coordinator")
    overrides = {str(world.lab_b.pk): {"final_run_gpu_hours": 123_456}}
    assert client.patch(f"{SCENARIOS}{world.scenario.pk}/", {"overrides": overrides}, format="json").status_code == 200
    response = client.post(f"{SCENARIOS}{world.scenario.pk}/duplicate/")
    assert response.status_code == 201, response.content
    assert response.json()["overrides"] == overrides


@pytest.mark.parametrize(("role", "status"), [("user_a", 403), ("other_coordinator", 404), ("anonymous", 401)])
def test_only_the_consortiums_coordinators_change_overrides(world, client_as, role, status):
    response = client_as(role).patch(
        f"{SCENARIOS}{world.scenario.pk}/", {"overrides": {str(world.lab_a.pk): {"openness": 0.5}}}, format="json"
    )
    assert response.status_code == status
    assert Scenario.objects.get(pk=world.scenario.pk).overrides == {}
