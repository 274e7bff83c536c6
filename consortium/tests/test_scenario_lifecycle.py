"""Scenarios are duplicated and archived: a copy takes the fields and labs (not the runs); an archived
scenario leaves the lists and starts no runs, while its runs stay readable by URL and API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from consortium import services
from consortium.models import Scenario
from simulations.models import SimulationRun
from simulations.tests.conftest import fake_broker  # noqa: F401
from tests import factories as f
from tests.browser.seed import seed_results

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("plain_static", "fake_broker")]

COPIED = ("description", "parameters", "rules", "weight_basis", "weight_values", "weight_cap", "draws", "seed")


@pytest.fixture
def tuned(world):
    """A scenario of C with every field away from its default."""
    parameters = world.scenario.effective_parameters() | {"replication": 1.5, "absorption": 0.2}
    return f.ScenarioFactory(
        consortium=world.consortium,
        name="Tuned",
        description="Both labs, heavier replication",
        labs=[world.lab_a, world.lab_b],
        parameters=parameters,
        rules=["shapley", "weighted"],
        weight_basis="shares",
        weight_values={str(world.lab_a.pk): 60, str(world.lab_b.pk): 40},
        draws=200,
        seed=7,
    )


def archive(scenario: Scenario, world) -> Scenario:
    return services.scenario_archive(scenario=scenario, by=world.coordinator)


# Duplicating --------------------------------------------------------------------------------------


def test_a_copy_takes_every_field_and_lab_but_no_run(world, tuned):
    seed_results(tuned)
    copy = services.scenario_duplicate(scenario=tuned, by=world.coordinator)
    assert copy.pk != tuned.pk
    assert copy.name == "Copy of Tuned"
    assert copy.consortium == world.consortium
    assert copy.created_by == world.coordinator
    for name in COPIED:
        assert getattr(copy, name) == getattr(tuned, name), name
    assert set(copy.labs.all()) == {world.lab_a, world.lab_b}
    assert not copy.runs.exists()
    assert tuned.runs.count() == 1


def test_copies_of_copies_get_names_that_are_free_and_fit(world):
    first = services.scenario_duplicate(scenario=world.scenario, by=world.coordinator)
    second = services.scenario_duplicate(scenario=world.scenario, by=world.coordinator)
    third = services.scenario_duplicate(scenario=world.scenario, by=world.coordinator)
    assert [first.name, second.name, third.name] == ["Copy of All in", "Copy of All in (2)", "Copy of All in (3)"]
    assert services.scenario_duplicate(scenario=first, by=world.coordinator).name == "Copy of Copy of All in"
    long = f.ScenarioFactory(consortium=world.consortium, name="L" * 120, labs=[world.lab_a, world.lab_b])
    copies = [services.scenario_duplicate(scenario=long, by=world.coordinator).name for _ in range(2)]
    assert all(len(name) <= 120 for name in copies)
    assert copies[0].startswith("Copy of LLL") and copies[1].endswith("L (2)")


def test_a_copy_of_an_archived_scenario_is_active(world):
    archive(world.scenario, world)
    copy = services.scenario_duplicate(scenario=world.scenario, by=world.coordinator)
    assert copy.archived_at is None


def test_the_coordinator_duplicates_on_the_web_and_lands_on_the_copys_edit_page(world, client, tuned):
    client.force_login(world.coordinator)
    response = client.post(reverse("simulations:scenario_duplicate", args=[tuned.pk]))
    copy = Scenario.objects.get(name="Copy of Tuned")
    assert response.status_code == 302
    assert response["Location"] == reverse("simulations:scenario_edit", args=[copy.pk])
    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="Copy of Tuned"' in html
    assert "“Copy of Tuned” is a copy of “Tuned” without its runs" in html


def test_duplicating_over_the_api_answers_201_with_the_copy(world, client_as, tuned):
    response = client_as("coordinator").post(f"/api/v1/scenarios/{tuned.pk}/duplicate/")
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Copy of Tuned"
    assert sorted(body["labs"]) == sorted([world.lab_a.pk, world.lab_b.pk])
    assert body["archived"] is False
    assert body["rules"] == ["shapley", "weighted"]
    assert response["Location"].endswith(f"/api/v1/scenarios/{body['id']}/")


# Archiving ----------------------------------------------------------------------------------------


def test_an_archived_scenario_leaves_the_consortium_page_list_and_the_compare_picker(world, client):
    other = f.ScenarioFactory(consortium=world.consortium, name="Candidates too", labs=[world.lab_a, world.lab_b])
    third = f.ScenarioFactory(consortium=world.consortium, name="Third way", labs=[world.lab_a, world.lab_b])
    archive(other, world)
    client.force_login(world.user_a)
    page = client.get(world.consortium.get_absolute_url())
    active_names = [item["scenario"].name for item in page.context["scenarios"]]
    assert active_names == ["All in", "Third way"]
    assert [s.name for s in page.context["archived_scenarios"]] == ["Candidates too"]
    assert "Archived scenarios (1)" in page.content.decode()
    picker = client.get(reverse("simulations:compare", args=["c"]))
    choices = [label for _, label in picker.context["form"].fields["scenarios"].choices]
    assert "Candidates too (not run yet)" not in choices
    assert "Candidates too" not in choices
    assert any(label.startswith("Third way") for label in choices)
    refused = client.get(reverse("simulations:compare", args=["c"]), {"scenarios": [world.scenario.pk, other.pk]})
    assert refused.status_code == 400
    assert third.archived_at is None


def test_the_compare_button_counts_active_scenarios_only(world, client):
    other = f.ScenarioFactory(consortium=world.consortium, name="Other", labs=[world.lab_a, world.lab_b])
    client.force_login(world.user_a)
    compare = reverse("simulations:compare", args=["c"])
    assert compare in client.get(world.consortium.get_absolute_url()).content.decode()
    archive(other, world)
    assert compare not in client.get(world.consortium.get_absolute_url()).content.decode()


def test_archived_runs_stay_readable_by_url(world, client):
    run = seed_results(world.scenario)
    archive(world.scenario, world)
    client.force_login(world.user_b)
    for url in (
        world.scenario.get_absolute_url(),
        run.get_absolute_url(),
        reverse("simulations:run_csv", args=[run.pk, "members"]),
        reverse("simulations:member_report", args=[run.pk, world.lab_b.pk]),
    ):
        assert client.get(url).status_code == 200, url
    assert "Archived on" in client.get(world.scenario.get_absolute_url()).content.decode()


def test_an_archived_scenario_leaves_the_dashboards_savings(world, client):
    seed_results(world.scenario)
    client.force_login(world.user_a)
    assert len(client.get(reverse("dashboard")).context["savings"]) == 1
    archive(world.scenario, world)
    assert client.get(reverse("dashboard")).context["savings"] == []


def test_an_archived_scenario_starts_no_run_on_the_web_with_a_clear_message(world, client):
    archive(world.scenario, world)
    client.force_login(world.coordinator)
    detail = client.get(world.scenario.get_absolute_url()).content.decode()
    assert reverse("simulations:run_start", args=[world.scenario.pk]) not in detail
    assert reverse("simulations:scenario_unarchive", args=[world.scenario.pk]) in detail
    response = client.post(reverse("simulations:run_start", args=[world.scenario.pk]), follow=True)
    assert response.redirect_chain[-1][0] == world.scenario.get_absolute_url()
    assert "“All in” is archived, so it starts no new runs; unarchive it first." in response.content.decode()
    assert not SimulationRun.objects.exists()


def test_the_coordinator_archives_and_unarchives_on_the_web(world, client):
    client.force_login(world.coordinator)
    response = client.post(reverse("simulations:scenario_archive", args=[world.scenario.pk]), follow=True)
    assert "is archived: it has left the lists" in response.content.decode()
    world.scenario.refresh_from_db()
    assert world.scenario.is_archived
    response = client.post(reverse("simulations:scenario_unarchive", args=[world.scenario.pk]), follow=True)
    assert "is back in the lists and can run again" in response.content.decode()
    world.scenario.refresh_from_db()
    assert not world.scenario.is_archived
    client.post(reverse("simulations:run_start", args=[world.scenario.pk]))
    assert world.scenario.runs.count() == 1


def test_archiving_twice_keeps_the_first_date(world):
    first = archive(world.scenario, world).archived_at
    assert archive(world.scenario, world).archived_at == first


# Archiving over the API ---------------------------------------------------------------------------


def test_the_api_list_leaves_archived_scenarios_out_unless_asked(world, client_as):
    retired = f.ScenarioFactory(consortium=world.consortium, name="Retired", labs=[world.lab_a, world.lab_b])
    archive(retired, world)
    client = client_as("user_a")
    default = client.get("/api/v1/scenarios/").json()
    assert [item["name"] for item in default["results"]] == ["All in"]
    assert default["results"][0]["archived"] is False
    included = client.get("/api/v1/scenarios/?archived=true").json()
    assert {item["name"]: item["archived"] for item in included["results"]} == {"All in": False, "Retired": True}
    assert [i["name"] for i in client.get("/api/v1/scenarios/?archived=false").json()["results"]] == ["All in"]
    one = client.get(f"/api/v1/scenarios/{retired.pk}/").json()
    assert one["archived"] is True and one["archived_at"] is not None
    bad = client.get("/api/v1/scenarios/?archived=maybe")
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"]["archived"] == ["Enter true or false."]


def test_archive_and_unarchive_actions_and_a_409_for_a_run_of_an_archived_scenario(world, client_as):
    run = seed_results(world.scenario)
    client = client_as("coordinator")
    archived = client.post(f"/api/v1/scenarios/{world.scenario.pk}/archive/")
    assert archived.status_code == 200
    assert archived.json()["archived"] is True
    refused = client.post(f"/api/v1/scenarios/{world.scenario.pk}/runs/", {}, format="json")
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "conflict"
    assert "is archived and starts no new runs; unarchive it first" in error["message"]
    assert world.scenario.runs.count() == 1
    # Its runs stay readable.
    assert client.get(f"/api/v1/runs/{run.pk}/").status_code == 200
    assert client.get(f"/api/v1/runs/{run.pk}/results/").status_code == 200
    assert client.get(f"/api/v1/scenarios/{world.scenario.pk}/runs/").json()["count"] == 1
    report = client.get(f"/api/v1/consortia/c/reports/savings/?scenario={world.scenario.pk}")
    assert report.status_code == 200
    unarchived = client.post(f"/api/v1/scenarios/{world.scenario.pk}/unarchive/")
    assert unarchived.status_code == 200
    assert unarchived.json()["archived"] is False and unarchived.json()["archived_at"] is None
    assert client.post(f"/api/v1/scenarios/{world.scenario.pk}/runs/", {}, format="json").status_code == 202


def test_archived_cannot_be_set_by_a_patch(world, client_as):
    response = client_as("coordinator").patch(
        f"/api/v1/scenarios/{world.scenario.pk}/", {"archived": True, "archived_at": "2026-01-01T00:00:00Z"}
    )
    assert response.status_code == 200
    world.scenario.refresh_from_db()
    assert world.scenario.archived_at is None


def test_the_schema_documents_the_actions_and_the_409(world, client):
    client.force_login(world.user_a)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for action, codes in (
        ("archive", {"200", "401", "403", "404", "503"}),
        ("unarchive", {"200", "401", "403", "404", "503"}),
        ("duplicate", {"201", "400", "401", "403", "404", "503"}),
    ):
        assert set(schema["paths"][f"/api/v1/scenarios/{{id}}/{action}/"]["post"]["responses"]) == codes
    assert "409" in schema["paths"]["/api/v1/scenarios/{id}/runs/"]["post"]["responses"]
    parameters = schema["paths"]["/api/v1/scenarios/"]["get"]["parameters"]
    assert any(parameter["name"] == "archived" for parameter in parameters)
    fields = schema["components"]["schemas"]["Scenario"]["properties"]
    assert fields["archived"]["readOnly"] is True
