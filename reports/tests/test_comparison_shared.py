"""The compare page, its CSV and the API comparison report are one computation
(simulations.selectors.scenario_comparison_get): same default rule, same lab matching (by lab id,
so a renamed lab is one line), same CSV columns and figures."""

from __future__ import annotations

import csv
import io

import pytest

from simulations.models import MemberResult
from tests import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("plain_static")]

API = "/api/v1/consortia/c/reports/comparison/"
PAGE_CSV = "/simulations/consortia/c/compare.csv"
PAGE = "/simulations/consortia/c/compare/"


def csv_of(response) -> tuple[list[str], list[dict[str, str]]]:
    assert response.status_code == 200, response.content[:300]
    reader = csv.DictReader(io.StringIO(response.content.decode()))
    return list(reader.fieldnames or []), list(reader)


def both_csvs(client, first, second, **extra):
    api = csv_of(client.get(API, {"scenarios": f"{first.pk},{second.pk}", "format": "csv", **extra}))
    page = csv_of(client.get(PAGE_CSV, {"scenarios": [first.pk, second.pk], **extra}))
    return api, page


@pytest.fixture
def lean(world):
    return f.ScenarioFactory(consortium=world.consortium, name="Lean", labs=[world.lab_a, world.lab_b])


def test_page_csv_and_api_csv_have_the_same_columns_and_figures(world, client_as, make_run, lean):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    make_run(lean, [world.lab_a, world.lab_b], shift=1000)
    (api_columns, api_rows), (page_columns, page_rows) = both_csvs(client_as("coordinator"), world.scenario, lean)
    assert page_columns == api_columns
    assert f"scenario_{lean.pk}_savings_usd" in api_columns
    assert f"scenario_{lean.pk}_savings_diff_usd" in api_columns
    assert page_rows == api_rows
    assert [row[f"scenario_{lean.pk}_savings_diff_usd"] for row in api_rows] == ["1000.0", "1000.0"]


def test_default_rule_is_the_first_rule_every_run_has_on_page_and_api(world, client_as, make_run, lean):
    make_run(world.scenario, [world.lab_a, world.lab_b], rules=("nucleolus", "shapley"))
    make_run(lean, [world.lab_a, world.lab_b], rules=("proportional", "shapley"))
    client = client_as("coordinator")
    response = client.get(API, {"scenarios": f"{world.scenario.pk},{lean.pk}"})
    assert response.status_code == 200, response.content
    assert response.json()["rule"] == "shapley"
    page = client.get(PAGE_CSV, {"scenarios": [world.scenario.pk, lean.pk]})
    assert page.status_code == 200
    assert page["Content-Disposition"].endswith('-shapley.csv"')


def test_a_lab_renamed_between_runs_is_one_line_under_its_current_name(world, client_as, make_run, lean):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    world.lab_a.name = "Lab A Renamed"
    world.lab_a.save()
    make_run(lean, [world.lab_a, world.lab_b])
    client = client_as("coordinator")
    body = client.get(API, {"scenarios": f"{world.scenario.pk},{lean.pk}"}).json()
    assert [row["lab_name"] for row in body["results"]] == ["Lab A Renamed", "Lab B"]
    assert all(cell["savings_usd"] is not None for row in body["results"] for cell in row["scenarios"])
    (_, api_rows), (_, page_rows) = both_csvs(client, world.scenario, lean)
    assert [row["lab_name"] for row in page_rows] == ["Lab A Renamed", "Lab B"] == [r["lab_name"] for r in api_rows]
    page = client.get(PAGE, {"scenarios": [world.scenario.pk, lean.pk]}).content.decode()
    assert "not in scenario" not in page


def test_results_of_a_deleted_lab_are_matched_by_their_stored_name(world, client_as, make_run, lean):
    first = make_run(world.scenario, [world.lab_a, world.lab_b])
    second = make_run(lean, [world.lab_a, world.lab_b])
    MemberResult.objects.filter(run__in=[first, second], lab=world.lab_b).update(lab=None)
    body = client_as("coordinator").get(API, {"scenarios": f"{world.scenario.pk},{lean.pk}"}).json()
    assert [(row["lab"], row["lab_name"]) for row in body["results"]] == [(world.lab_a.pk, "Lab A"), (None, "Lab B")]
    assert body["results"][1]["scenarios"][1]["savings_diff_usd"] == 0.0


def test_a_rule_missing_from_a_run_is_refused_naming_rule_everywhere(world, client_as, make_run, lean):
    make_run(world.scenario, [world.lab_a, world.lab_b], rules=("shapley", "nucleolus"))
    make_run(lean, [world.lab_a, world.lab_b], rules=("shapley",))
    client = client_as("coordinator")
    api = client.get(API, {"scenarios": f"{world.scenario.pk},{lean.pk}", "rule": "nucleolus"})
    assert api.status_code == 404
    assert api.json()["error"]["message"].startswith("rule: run ")
    page_csv = client.get(PAGE_CSV, {"scenarios": [world.scenario.pk, lean.pk], "rule": "nucleolus"})
    assert page_csv.status_code == 400
    assert page_csv.content.decode().startswith("rule: run ")
    page = client.get(PAGE, {"scenarios": [world.scenario.pk, lean.pk], "rule": "nucleolus"})
    assert page.status_code == 400
    assert "has no results for rule &#x27;nucleolus&#x27;" in page.content.decode()


def test_runs_without_a_common_rule_are_refused_naming_rule(world, client_as, make_run, lean):
    make_run(world.scenario, [world.lab_a, world.lab_b], rules=("nucleolus",))
    make_run(lean, [world.lab_a, world.lab_b], rules=("shapley",))
    client = client_as("coordinator")
    api = client.get(API, {"scenarios": f"{world.scenario.pk},{lean.pk}"})
    assert api.status_code == 404
    assert api.json()["error"]["message"].startswith("rule: the scenarios' runs have no cost-sharing rule in common")
    page = client.get(PAGE, {"scenarios": [world.scenario.pk, lean.pk]})
    assert page.status_code == 400
    assert "no cost-sharing rule in common" in page.content.decode()
    assert client.get(PAGE_CSV, {"scenarios": [world.scenario.pk, lean.pk]}).status_code == 400
