"""Custom games over the API: create and replace, bad input named by row, and who may do what."""

import pytest

from consortium.models import Scenario
from simulations.models import SimulationRun
from simulations.tests.conftest import execute_in_process
from simulations.tests.conftest import fake_broker as fake_broker

pytestmark = pytest.mark.django_db

TABLE = "coalition,cost\nLab A,6\nLab B,6\nLab A+Lab B,9\n"


def body(world, **fields):
    return {
        "consortium": world.consortium.pk,
        "name": "Deal",
        "kind": "table",
        "game": TABLE,
        "rules": ["shapley"],
        **fields,
    }


def test_a_coordinator_creates_a_table_game_and_runs_it(
    world, client_as, fake_broker, django_capture_on_commit_callbacks
):
    api = client_as("coordinator")
    response = api.post("/api/v1/games/", body(world, rules=["shapley", "nucleolus"]), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["kind"], data["game"]["players"], data["labs"]) == (
        "table",
        ["Lab A", "Lab B"],
        [world.lab_a.pk, world.lab_b.pk],
    )
    assert data["rules"] == ["shapley", "nucleolus"]
    with django_capture_on_commit_callbacks(execute=True):
        started = api.post(f"/api/v1/scenarios/{data['id']}/runs/", {}, format="json")
    assert started.status_code == 202
    run = SimulationRun.objects.get(pk=started.json()["id"])
    execute_in_process(run)
    results = client_as("token").get(f"/api/v1/runs/{run.pk}/results/")
    assert results.status_code == 200
    rules = {item["rule"]: item for item in results.json()["rules"]}
    shapley = {m["lab_name"]: m["allocated_cost"] for m in rules["shapley"]["members"]}
    assert shapley == {"Lab A": pytest.approx(4.5), "Lab B": pytest.approx(4.5)}
    assert rules["nucleolus"]["stability"]["in_core"] is True


def test_the_game_may_be_a_json_object_and_an_airport_game(world, client_as):
    api = client_as("coordinator")
    table = api.post("/api/v1/games/", body(world, game={"A": 1, "B": 2, "A+B": 2.5}), format="json")
    assert table.status_code == 201 and table.json()["game"]["coalitions"]["A+B"] == 2.5
    airport = {
        "levels": {"short": 8, "long": 18},
        "players": [{"player": "Props", "level": "short", "count": 2000}, {"player": "Jets", "level": "long"}],
    }
    response = api.post(
        "/api/v1/games/", body(world, name="Runway", kind="airport", game=airport, rules=["nucleolus"]), format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["game"]["players"][0] == {"player": "Props", "level": "short", "cost": 8.0, "count": 2000}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"game": "coalition,cost\nA,1\nB,x\nA+B,2\n"}, "game", "Line 3: cost 'x' is not a number."),
        ({"game": "coalition,cost\nA,1\nB,2\n"}, "game", "missing from the table"),
        ({"game": {"A": -1}}, "game", "Coalition 'A': cost of 'A' is negative (-1)."),
        ({"game": 12}, "game", "Give the game as text"),
        ({"kind": "galaxy"}, "kind", "not a valid choice"),
        ({"rules": []}, "rules", "Choose at least one cost-sharing rule."),
        ({"rules": ["weighted"]}, "rules", "The weighted rule needs member weights"),
        ({"rules": [{}]}, "rules", "Unknown rule(s): {}."),
        ({"name": ""}, "name", "may not be blank"),
        ({"name": "All in"}, "name", "already has a scenario named 'All in'"),
        ({"consortium": 999999}, "consortium", "No such consortium."),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_saved(world, client_as, fields, field, message):
    before = Scenario.objects.count()
    response = client_as("coordinator").post("/api/v1/games/", body(world, **fields), format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert field in error["fields"] and message in error["message"], error
    assert Scenario.objects.count() == before


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("coordinator", 201),
        ("user_a", 403),
        ("token", 403),
        ("staff", 403),
        ("other_coordinator", 400),
        ("anonymous", 401),
    ],
)
def test_only_the_consortiums_coordinators_create_games(world, client_as, role, status):
    response = client_as(role).post("/api/v1/games/", body(world), format="json")
    assert response.status_code == status, response.content
    assert Scenario.objects.filter(name="Deal").exists() == (status == 201)


@pytest.mark.parametrize(
    ("role", "status"), [("coordinator", 200), ("user_a", 403), ("other_coordinator", 404), ("anonymous", 401)]
)
def test_replacing_a_games_table(world, client_as, role, status):
    created = client_as("coordinator").post("/api/v1/games/", body(world), format="json").json()
    update = {"name": "Deal", "game": "coalition,cost\nLab A,5\nLab B,5\nLab A+Lab B,8\n", "rules": ["equal"]}
    response = client_as(role).put(f"/api/v1/games/{created['id']}/", update, format="json")
    assert response.status_code == status, response.content
    scenario = Scenario.objects.get(pk=created["id"])
    assert (scenario.game["coalitions"]["Lab A+Lab B"] == 8) == (status == 200)


def test_a_model_scenario_is_not_a_game_and_a_game_is_not_patched_as_a_scenario(world, client_as):
    api = client_as("coordinator")
    assert (
        api.put(
            f"/api/v1/games/{world.scenario.pk}/", {"name": "x", "game": TABLE, "rules": ["shapley"]}, format="json"
        ).status_code
        == 404
    )
    created = api.post("/api/v1/games/", body(world), format="json").json()
    response = api.patch(f"/api/v1/scenarios/{created['id']}/", {"draws": 10}, format="json")
    assert response.status_code == 400
    assert "custom game" in response.json()["error"]["message"]
    assert api.get(f"/api/v1/scenarios/{world.scenario.pk}/").json()["kind"] == "model"
