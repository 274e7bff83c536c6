"""Bring your own game on the web: paste or upload, bad input named by row, runs and results, permissions."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from consortium.models import Scenario
from simulations.models import SimulationRun
from simulations.tests.conftest import execute_in_process

pytestmark = pytest.mark.django_db

TABLE = (
    "coalition,cost\nLab A,6\nLab B,6\nOutsider,10\nLab A+Lab B,9\nLab A+Outsider,14\nLab B+Outsider,14\n"
    "Lab A+Lab B+Outsider,17\n"
)
AIRPORT = "player,level,cost,count\n,short,8,\n,long,18,\nProps,short,,2\nJets,long,,1\n"


def new_url(world):
    return reverse("simulations:custom_game_new", args=[world.consortium.slug])


def post_game(client, world, **fields):
    data = {"name": "Negotiated", "kind": "table", "rules": ["shapley", "nucleolus"], **fields}
    return client.post(new_url(world), data)


def run_game(client, scenario, django_capture_on_commit_callbacks) -> SimulationRun:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("simulations:run_start", args=[scenario.pk]))
    run = SimulationRun.objects.get(scenario=scenario)
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    execute_in_process(run)
    run.refresh_from_db()
    assert run.status == SimulationRun.Status.SUCCEEDED, run.error
    return run


def test_a_pasted_table_is_saved_matched_to_labs_and_split(
    world, client, fake_broker, django_capture_on_commit_callbacks
):
    client.force_login(world.coordinator)
    response = post_game(client, world, text=TABLE)
    scenario = Scenario.objects.get(name="Negotiated")
    assert response.status_code == 302 and response["Location"] == scenario.get_absolute_url()
    assert scenario.kind == "table" and scenario.game["players"] == ["Lab A", "Lab B", "Outsider"]
    assert scenario.player_labs == {"Lab A": world.lab_a.pk, "Lab B": world.lab_b.pk}
    assert set(scenario.labs.all()) == {world.lab_a, world.lab_b}
    page = client.get(scenario.get_absolute_url()).content.decode()
    assert "Lab A+Lab B+Outsider" in page and "$17.00" in page and "2 matched to the consortium" in page

    run = run_game(client, scenario, django_capture_on_commit_callbacks)
    assert (run.draws, run.chunks_total) == (0, 1)
    html = client.get(run.get_absolute_url()).content.decode()
    assert "exact, no draws" in html and "Per member under Shapley value" in html
    # Shapley of this game: A and B pay 4.5 + 2/3 each... check against the rows instead of by hand.
    rows = {row.lab_name: row for row in run.member_results.filter(rule="shapley")}
    assert sum(row.allocated_cost for row in rows.values()) == pytest.approx(17)
    assert rows["Lab A"].lab_id == world.lab_a.pk and rows["Outsider"].lab_id is None
    assert f"{rows['Lab A'].allocated_cost:,.2f}" in html
    assert "Nucleolus: stable (in the core)" in html

    csv_rows = list(
        csv.DictReader(
            io.StringIO(client.get(reverse("simulations:run_csv", args=[run.pk, "members"])).content.decode())
        )
    )
    assert {r["lab"] for r in csv_rows} == {"Lab A", "Lab B", "Outsider"}
    focus = client.get(reverse("simulations:run_csv", args=[run.pk, "focus"])).content.decode()
    assert "consortium-planner/nucleolus" in focus


def test_an_uploaded_airport_game_groups_players_by_type(
    world, client, fake_broker, django_capture_on_commit_callbacks
):
    client.force_login(world.coordinator)
    upload = SimpleUploadedFile("runway.csv", AIRPORT.encode(), content_type="text/csv")
    response = client.post(
        new_url(world), {"name": "Runway", "kind": "airport", "rules": ["shapley", "nucleolus"], "upload": upload}
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    scenario = Scenario.objects.get(name="Runway")
    assert scenario.kind == "airport" and scenario.player_labs == {}
    run = run_game(client, scenario, django_capture_on_commit_callbacks)
    html = client.get(run.get_absolute_url()).content.decode()
    assert "3 players in 2 types" in html
    assert "Props: 2 players; each pays 2.67 instead of 8.00 alone." in html
    # Littlechild-Owen: 8 split by three players, the 10 more by the jet alone.
    jets = run.member_results.get(rule="shapley", lab_name="Jets")
    assert jets.allocated_cost == pytest.approx(8 / 3 + 10)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"text": ""}, "text", "Paste the game"),
        ({"text": "coalition,cost\nA,1\nB,x\nA+B,2\n"}, "text", "Line 3: cost &#x27;x&#x27; is not a number."),
        ({"text": "coalition,cost\nA,1\nB,2\n"}, "text", "1 coalition(s) missing from the table, e.g. &#x27;A+B&#x27;"),
        (
            {"text": "coalition,cost\nA,1\nA,2\n"},
            "text",
            "Line 3: coalition &#x27;A&#x27; is duplicated (first on line 2).",
        ),
        ({"text": "coalition,cost\nA,-1\n"}, "text", "Line 2: cost of &#x27;A&#x27; is negative (-1)."),
        ({"text": "coalition,cost\nA,abc\n"}, "text", "is not a number"),
        ({"text": '{"": 2, "A": 1}'}, "text", "the empty coalition must cost 0, got 2"),
        ({"text": "coalition,cost\n" + "\n".join(f"P{i},1" for i in range(21))}, "text", "at most 20 players; got 21"),
        ({"text": "coalition,cost\nA+Nobody+A,1\n"}, "text", "a player is repeated"),
        ({"text": "coalition,cost\nA,1\n", "rules": ["weighted"]}, "rules", "not one of the available choices"),
        (
            {"text": "player,cost,count\nA,1,30\nB,2,1\n", "kind": "airport", "rules": ["banzhaf"]},
            "rules",
            "at most 20 players; this game has 31",
        ),
        ({"text": "player,cost\nA,1\nA,2\n", "kind": "airport"}, "text", "Line 3: player &#x27;A&#x27; is duplicated"),
    ],
)
def test_bad_games_are_refused_naming_the_row_and_nothing_is_saved(world, client, fields, field, message):
    client.force_login(world.coordinator)
    response = post_game(client, world, **fields)
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="id_{field}_error"' in html or "form-errors" in html
    assert message in html, html[html.find("error") : html.find("error") + 2000]
    assert not Scenario.objects.filter(name="Negotiated").exists()


def test_a_file_that_is_not_text_or_too_big_is_refused(world, client):
    client.force_login(world.coordinator)
    binary = SimpleUploadedFile("game.xlsx", b"\xff\xfe\x00\x81binary", content_type="application/octet-stream")
    response = client.post(new_url(world), {"name": "G", "kind": "table", "rules": ["shapley"], "upload": binary})
    assert response.status_code == 400 and "not UTF-8 text" in response.content.decode()
    both = SimpleUploadedFile("game.csv", TABLE.encode())
    response = client.post(
        new_url(world), {"name": "G", "kind": "table", "rules": ["shapley"], "upload": both, "text": TABLE}
    )
    assert response.status_code == 400 and "not both" in response.content.decode()
    assert not Scenario.objects.filter(name="G").exists()


def test_editing_a_game_replaces_its_table_and_keeps_earlier_runs(
    world, client, fake_broker, django_capture_on_commit_callbacks
):
    client.force_login(world.coordinator)
    post_game(client, world, text=TABLE)
    scenario = Scenario.objects.get(name="Negotiated")
    run = run_game(client, scenario, django_capture_on_commit_callbacks)
    edit = reverse("simulations:custom_game_edit", args=[scenario.pk])
    page = client.get(edit).content.decode()
    assert "Lab A+Lab B+Outsider,17.0" in page
    assert client.get(reverse("simulations:scenario_edit", args=[scenario.pk]))["Location"] == edit
    response = client.post(
        edit, {"name": "Negotiated", "rules": ["equal"], "text": "coalition,cost\nLab A,5\nLab B,5\nLab A+Lab B,8\n"}
    )
    assert response.status_code == 302
    scenario.refresh_from_db()
    assert scenario.game["coalitions"] == {"Lab A": 5, "Lab B": 5, "Lab A+Lab B": 8} and scenario.rules == ["equal"]
    assert run.inputs["custom"]["game"]["coalitions"]["Lab A+Lab B+Outsider"] == 17


@pytest.mark.parametrize(
    ("role", "status"), [("coordinator", 200), ("user_a", 403), ("staff", 403), ("other_coordinator", 404)]
)
def test_only_coordinators_reach_the_game_pages(world, client, role, status):
    scenario = Scenario.objects.create(
        consortium=world.consortium,
        name="G",
        kind="table",
        rules=["shapley"],
        game={"players": ["A"], "coalitions": {"A": 1.0}},
    )
    client.force_login(getattr(world, role))
    assert client.get(new_url(world)).status_code == status
    assert client.get(reverse("simulations:custom_game_edit", args=[scenario.pk])).status_code == status
    response = client.post(new_url(world), {"name": "X", "kind": "table", "text": TABLE, "rules": ["shapley"]})
    assert response.status_code == (302 if status == 200 else status)
    read = client.get(scenario.get_absolute_url()).status_code
    assert read == (404 if role == "other_coordinator" else 200)


def test_anonymous_visitors_are_sent_to_log_in(world, client):
    response = client.get(new_url(world))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_duplicated_game_keeps_its_table(world, client):
    client.force_login(world.coordinator)
    post_game(client, world, text=TABLE)
    scenario = Scenario.objects.get(name="Negotiated")
    response = client.post(reverse("simulations:scenario_duplicate", args=[scenario.pk]))
    copy = Scenario.objects.get(name="Copy of Negotiated")
    assert (copy.kind, copy.game, copy.player_labs) == (scenario.kind, scenario.game, scenario.player_labs)
    # The copy's edit page is the game's.
    assert client.get(response["Location"])["Location"] == reverse("simulations:custom_game_edit", args=[copy.pk])


def test_the_cli_prints_the_results_the_api_gives(
    world, client, client_as, fake_broker, django_capture_on_commit_callbacks, tmp_path, capsys
):
    """CLI parity: `allocate FILE --rule a,b --results` is the API's `rules` block for the same game."""
    import json

    from simulations.engine.cli import main

    client.force_login(world.coordinator)
    post_game(client, world, text=AIRPORT, kind="airport", rules=["shapley", "nucleolus", "ensc"])
    scenario = Scenario.objects.get(name="Negotiated")
    run = run_game(client, scenario, django_capture_on_commit_callbacks)
    api = client_as("coordinator").get(f"/api/v1/runs/{run.pk}/results/").json()["rules"]

    path = tmp_path / "runway.csv"
    path.write_text(AIRPORT)
    assert main(["allocate", str(path), "--rule", "shapley,nucleolus,ensc", "--results"]) == 0
    cli = json.loads(capsys.readouterr().out)["rules"]
    assert [item["rule"] for item in cli] == [item["rule"] for item in api]
    for ours, theirs in zip(cli, api, strict=True):
        by_name = {m["lab_name"]: m for m in theirs["members"]}
        for member in ours["members"]:
            for key, value in member.items():
                expected = by_name[member["lab_name"]][key]
                assert expected == (pytest.approx(value) if isinstance(value, float) else value), key
        for key in ("in_core", "individually_rational", "max_excess", "least_core_epsilon", "exhaustive", "method"):
            assert theirs["stability"][key] == (
                pytest.approx(ours["stability"][key])
                if isinstance(ours["stability"][key], float)
                else ours["stability"][key]
            ), key
