"""The runs API: who may start, read and cancel runs, and what the answers look like."""

from __future__ import annotations

import pytest

from simulations import services
from simulations.models import SimulationRun

from .conftest import execute_in_process


def start_url(scenario) -> str:
    return f"/api/v1/scenarios/{scenario.pk}/runs/"


@pytest.fixture
def run(world, fake_broker):
    return services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=60)


@pytest.fixture
def finished_run(run):
    execute_in_process(run)
    return run


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("coordinator", 202),
        ("user_a", 403),
        ("user_b", 403),
        ("token", 403),
        ("staff", 403),
        ("other_coordinator", 404),
        ("anonymous", 401),
    ],
)
def test_only_the_consortiums_coordinators_start_runs(world, client_as, fake_broker, role, status):
    response = client_as(role).post(start_url(world.scenario), {}, format="json")
    assert response.status_code == status, response.content
    assert SimulationRun.objects.count() == (1 if status == 202 else 0)
    if status != 202:
        assert response.json()["error"]["status"] == status


def test_starting_a_run_answers_202_with_the_runs_url(
    world, client_as, fake_broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as("coordinator").post(start_url(world.scenario), {"draws": 300, "seed": 9}, format="json")
    assert response.status_code == 202
    body = response.json()
    run = SimulationRun.objects.get()
    assert body["url"] == f"http://testserver/api/v1/runs/{run.pk}/"
    assert response["Location"] == body["url"]
    assert (body["status"], body["draws"], body["seed"], body["progress"]) == ("queued", 300, 9, 0.0)
    assert body["results_url"] is None
    assert fake_broker.sent == [("run_simulation", (run.pk,))]


def test_starting_a_run_with_the_broker_down_says_so_plainly(
    world, client_as, fake_broker, django_capture_on_commit_callbacks
):
    fake_broker.down = True
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as("coordinator").post(start_url(world.scenario), {}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["notice"] == "The job queue is unreachable; the run is saved and will start when it is back."
    assert body["dispatched_at"] is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"draws": 0}, "draws"),
        ({"draws": "many"}, "draws"),
        ({"draws": 100_001}, "draws"),
        ({"seed": -3}, "seed"),
        ({"seed": 2**31}, "seed"),
    ],
)
def test_bad_run_options_get_a_400_naming_the_field(world, client_as, fake_broker, payload, field):
    response = client_as("coordinator").post(start_url(world.scenario), payload, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert field in error["fields"]
    assert error["message"].startswith(f"{field}:")
    assert not SimulationRun.objects.exists()


def test_scenario_that_cannot_run_gets_a_400_naming_the_field(world, client_as, fake_broker):
    world.scenario.labs.clear()
    response = client_as("coordinator").post(start_url(world.scenario), {}, format="json")
    assert response.status_code == 400
    assert "labs" in response.json()["error"]["fields"]


def test_unknown_scenario_is_404(world, client_as):
    assert client_as("coordinator").post("/api/v1/scenarios/999999/runs/", {}, format="json").status_code == 404


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("coordinator", 200),
        ("user_a", 200),
        ("user_b", 200),
        ("token", 200),
        ("staff", 200),
        ("other_coordinator", 404),
        ("user_d", 404),
        ("anonymous", 401),
    ],
)
def test_run_status_is_readable_by_the_consortiums_people_only(world, client_as, run, role, status):
    response = client_as(role).get(f"/api/v1/runs/{run.pk}/")
    assert response.status_code == status
    if status == 200:
        body = response.json()
        assert (body["id"], body["status"], body["progress"], body["chunks_total"]) == (run.pk, "queued", 0.0, 1)


def test_scenario_runs_are_listed_newest_first(world, client_as, fake_broker):
    first = services.run_create(scenario=world.scenario, started_by=world.coordinator)
    second = services.run_create(scenario=world.scenario, started_by=world.coordinator)
    response = client_as("user_b").get(start_url(world.scenario))
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [second.pk, first.pk]
    assert client_as("user_d").get(start_url(world.scenario)).status_code == 404


@pytest.mark.parametrize(("role", "status"), [("token", 200), ("user_b", 200), ("user_d", 404), ("anonymous", 401)])
def test_results_are_readable_by_members_and_token_clients(world, client_as, finished_run, role, status):
    response = client_as(role).get(f"/api/v1/runs/{finished_run.pk}/results/")
    assert response.status_code == status


def test_results_hold_every_rule_member_stability_and_year(world, client_as, finished_run):
    body = client_as("token").get(f"/api/v1/runs/{finished_run.pk}/results/").json()
    assert body["run"]["status"] == "succeeded"
    assert (body["run"]["engine_label"], body["run"]["headline"]) == (
        "Engine 2.5.2 (cost model v2)",
        "median of the draws",
    )
    assert body["run"]["warnings"] == [] and 0 <= body["run"]["outsider_share"] <= 1
    assert body["currency"] == "USD"
    assert [item["rule"] for item in body["rules"]] == world.scenario.rules
    for item in body["rules"]:
        assert [member["lab_name"] for member in item["members"]] == ["Lab A", "Lab B"]
        member = item["members"][0]
        assert member["savings_p10"] <= member["savings_p50"] <= member["savings_p90"]
        assert 0 <= member["prob_saving"] <= 1
        # Cost model v2: the central savings are outside option minus allocated cost; the headline
        # savings are the median of the draws, inside the P10-P90 band.
        assert member["savings_central"] == pytest.approx(member["standalone_cost"] - member["allocated_cost"])
        assert member["savings"] == pytest.approx(member["savings_p50"])
        assert member["savings_p10"] <= member["savings"] <= member["savings_p90"]
        assert member["savings_vs_no_consortium"] is not None and member["note"] is not None
        assert set(item["stability"]) >= {"in_core", "blocking_coalition", "max_excess", "least_core_epsilon"}
    assert set(body["years"]) == {"Lab A", "Lab B"}
    assert body["years"]["Lab A"][0]["year"] in (0, 1)


def test_results_of_an_unfinished_run_are_a_409_with_a_reason(world, client_as, run):
    response = client_as("user_a").get(f"/api/v1/runs/{run.pk}/results/")
    assert response.status_code == 409
    assert response.json()["error"]["message"] == (
        f"Run {run.pk} is queued; its results are available once it has succeeded."
    )


@pytest.mark.parametrize(
    ("role", "status"),
    [("coordinator", 200), ("user_a", 403), ("token", 403), ("staff", 403), ("other_coordinator", 404)],
)
def test_only_coordinators_cancel_runs(world, client_as, run, role, status):
    response = client_as(role).post(f"/api/v1/runs/{run.pk}/cancel/")
    assert response.status_code == status
    run.refresh_from_db()
    assert run.status == ("cancelled" if status == 200 else "queued")


def test_cancelling_a_finished_run_is_a_409(world, client_as, finished_run):
    response = client_as("coordinator").post(f"/api/v1/runs/{finished_run.pk}/cancel/")
    assert response.status_code == 409
    assert "already succeeded" in response.json()["error"]["message"]
