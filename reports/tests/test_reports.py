"""Savings, comparison, contributions and reuse reports: figures, units, filters, errors, access."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest

from simulations.models import SimulationRun
from tests import factories as f

pytestmark = pytest.mark.django_db

BASE = "/api/v1/consortia/c/reports"


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


# Savings -----------------------------------------------------------------------------------


def test_savings_report_gives_each_members_figures_under_the_first_rule(world, client_as, make_run):
    run = make_run(world.scenario, [world.lab_a, world.lab_b])
    response = client_as("user_a").get(f"{BASE}/savings/", {"scenario": world.scenario.pk})
    assert response.status_code == 200
    body = response.json()
    assert body["run"] == run.pk and body["rule"] == "shapley" and body["rules"] == ["shapley", "proportional"]
    assert body["currency"] == "USD" and body["count"] == 2
    lab_a = body["results"][0]
    assert lab_a == {
        "lab": world.lab_a.pk,
        "lab_name": "Lab A",
        "standalone_cost_usd": 1_000_000.0,
        "allocated_cost_usd": 600_000.0,
        "savings_usd": 400_000.0,
        "savings_pct": 40.0,
        "savings_p10_usd": 200_000.0,
        "savings_p50_usd": 400_000.0,
        "savings_p90_usd": 600_000.0,
        "savings_pct_p10": 20.0,
        "savings_pct_p50": 40.0,
        "savings_pct_p90": 60.0,
        "prob_saving": 0.9,
        "delivered_value_usd": 100_000.0,
        "settlement_usd": 500_000.0,
        # The run's rows predate cost model v2: its figures are null, not made up.
        "savings_central_usd": None,
        "savings_pct_central": None,
        "no_consortium_cost_usd": None,
        "savings_vs_no_consortium_usd": None,
        "savings_vs_no_consortium_pct": None,
        "savings_vs_no_consortium_p10_usd": None,
        "savings_vs_no_consortium_p90_usd": None,
        "direct_cost_usd": None,
        "prob_above_outside": None,
        "prob_above_outside_stderr": None,
        "note": None,
    }
    assert body["results"][1]["lab_name"] == "Lab B"


def test_savings_report_as_csv_has_units_in_the_column_names(world, client_as, make_run):
    run = make_run(world.scenario, [world.lab_a, world.lab_b])
    response = client_as("coordinator").get(f"{BASE}/savings/", {"scenario": world.scenario.pk, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="savings-c-run{run.pk}-shapley.csv"'
    header = response.content.decode().splitlines()[0]
    assert header == (
        "lab,lab_name,standalone_cost_usd,allocated_cost_usd,savings_usd,savings_pct,savings_p10_usd,"
        "savings_p50_usd,savings_p90_usd,savings_pct_p10,savings_pct_p50,savings_pct_p90,prob_saving,"
        "delivered_value_usd,settlement_usd,savings_central_usd,savings_pct_central,no_consortium_cost_usd,"
        "savings_vs_no_consortium_usd,savings_vs_no_consortium_pct,savings_vs_no_consortium_p10_usd,"
        "savings_vs_no_consortium_p90_usd,direct_cost_usd,prob_above_outside,prob_above_outside_stderr,note"
    )
    rows = csv_rows(response)
    assert [row["lab_name"] for row in rows] == ["Lab A", "Lab B"]
    assert float(rows[1]["savings_usd"]) == 800_000.0


def test_csv_is_also_chosen_by_the_accept_header(world, client_as, make_run):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    response = client_as("coordinator").get(f"{BASE}/savings/", {"scenario": world.scenario.pk}, HTTP_ACCEPT="text/csv")
    assert response["Content-Type"].startswith("text/csv")


def test_savings_report_for_a_chosen_rule_and_run(world, client_as, make_run):
    older = make_run(world.scenario, [world.lab_a, world.lab_b], shift=1000.0)
    newer = make_run(world.scenario, [world.lab_a, world.lab_b])
    client = client_as("coordinator")
    latest = client.get(f"{BASE}/savings/", {"scenario": world.scenario.pk, "rule": "proportional"}).json()
    assert latest["run"] == newer.pk and latest["rule"] == "proportional"
    assert latest["results"][0]["allocated_cost_usd"] == 650_000.0
    chosen = client.get(f"{BASE}/savings/", {"scenario": world.scenario.pk, "run": older.pk}).json()
    assert chosen["run"] == older.pk and chosen["results"][0]["allocated_cost_usd"] == 599_000.0


def test_savings_report_skips_runs_that_have_not_succeeded(world, client_as, make_run):
    succeeded = make_run(world.scenario, [world.lab_a, world.lab_b])
    make_run(world.scenario, [world.lab_a, world.lab_b], status=SimulationRun.Status.FAILED)
    body = client_as("coordinator").get(f"{BASE}/savings/", {"scenario": world.scenario.pk}).json()
    assert body["run"] == succeeded.pk


@pytest.mark.parametrize(
    ("params", "status", "field", "message"),
    [
        ({}, 400, "scenario", "scenario: This field is required."),
        ({"run": "{failed}"}, 400, "scenario", "scenario: This field is required."),
        ({"scenario": "abc"}, 400, "scenario", "scenario: A valid integer is required."),
        ({"scenario": "{scenario}", "rule": "nope"}, 400, "rule", 'rule: "nope" is not a valid choice.'),
        ({"scenario": "{scenario}", "format": "xml"}, 404, None, None),
        ({"scenario": "{scenario}", "page": "9"}, 404, None, "Invalid page."),
        ({"scenario": "{scenario}", "lab": "x,1"}, 400, "lab", "lab: Enter ids separated by commas, e.g. 3,5."),
        ({"scenario": "{scenario}", "rule": "nucleolus"}, 404, None, None),
        ({"scenario": 999999}, 404, None, "scenario: no scenario 999999 in consortium c."),
        ({"scenario": "{scenario}", "run": 999999}, 404, None, None),
        ({"scenario": "{empty}", "run": "{latest}"}, 404, None, None),
        ({"scenario": "{scenario}", "run": "{failed}"}, 409, None, None),
        ({"scenario": "{empty}"}, 404, None, None),
        ({"scenario": "{other}"}, 404, None, None),
    ],
)
def test_savings_report_refuses_bad_parameters_naming_the_field(
    world, client_as, make_run, params, status, field, message
):
    latest = make_run(world.scenario, [world.lab_a, world.lab_b])
    failed = make_run(world.scenario, [world.lab_a], status=SimulationRun.Status.FAILED)
    empty = f.ScenarioFactory(consortium=world.consortium, labs=[world.lab_a])
    other = f.ScenarioFactory(consortium=world.other_consortium, labs=[world.lab_d])
    make_run(other, [world.lab_d])
    ids = {
        "{scenario}": world.scenario.pk,
        "{latest}": latest.pk,
        "{failed}": failed.pk,
        "{empty}": empty.pk,
        "{other}": other.pk,
    }
    query = {key: ids.get(value, value) if isinstance(value, str) else value for key, value in params.items()}
    response = client_as("coordinator").get(f"{BASE}/savings/", query)
    assert response.status_code == status, response.content
    if status == 404 and "format" in params:
        return
    error = response.json()["error"]
    assert error["status"] == status
    if field:
        assert field in error["fields"]
        assert error["message"].startswith(f"{field}: ")
    if message:
        assert error["message"] == message


def test_csv_request_with_a_bad_parameter_gets_a_json_error(world, client_as):
    response = client_as("coordinator").get(f"{BASE}/savings/", {"format": "csv"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["fields"] == {"scenario": ["This field is required."]}


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
def test_only_readers_of_the_consortium_see_its_reports(world, client_as, make_run, role, status):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    response = client_as(role).get(f"{BASE}/savings/", {"scenario": world.scenario.pk})
    assert response.status_code == status
    if status == 401:
        assert response["WWW-Authenticate"] == 'Api-Key realm="api"'


def test_savings_report_filters_labs_and_orders_rows(world, client_as, make_run):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    client = client_as("coordinator")
    only_b = client.get(f"{BASE}/savings/", {"scenario": world.scenario.pk, "lab": str(world.lab_b.pk)}).json()
    assert [row["lab_name"] for row in only_b["results"]] == ["Lab B"] and only_b["count"] == 1
    ordered = client.get(f"{BASE}/savings/", {"scenario": world.scenario.pk, "ordering": "-savings_usd"}).json()
    assert [row["lab_name"] for row in ordered["results"]] == ["Lab B", "Lab A"]


def test_savings_report_is_paginated_in_json_and_whole_in_csv(world, client_as, make_run):
    labs = [f.LabFactory(name=f"Member {i:02d}") for i in range(7)]
    for lab in labs:
        f.MembershipFactory(consortium=world.consortium, lab=lab)
    scenario = f.ScenarioFactory(consortium=world.consortium, labs=labs)
    make_run(scenario, labs)
    client = client_as("coordinator")
    first = client.get(f"{BASE}/savings/", {"scenario": scenario.pk, "page_size": 3}).json()
    assert first["count"] == 7 and len(first["results"]) == 3 and first["previous"] is None
    assert "page=2" in first["next"]
    last = client.get(f"{BASE}/savings/", {"scenario": scenario.pk, "page_size": 3, "page": 3}).json()
    assert [row["lab_name"] for row in last["results"]] == ["Member 06"] and last["next"] is None
    whole = client.get(f"{BASE}/savings/", {"scenario": scenario.pk, "page_size": 3, "format": "csv"})
    assert len(csv_rows(whole)) == 7


# Comparison --------------------------------------------------------------------------------


def test_comparison_lines_up_savings_with_differences_from_the_baseline(world, client_as, make_run):
    lab_c = f.LabFactory(name="Lab C")
    f.MembershipFactory(consortium=world.consortium, lab=lab_c)
    bigger = f.ScenarioFactory(consortium=world.consortium, name="With C", labs=[world.lab_a, world.lab_b, lab_c])
    base_run = make_run(world.scenario, [world.lab_a, world.lab_b])
    make_run(bigger, [world.lab_a, world.lab_b, lab_c], shift=50_000.0)
    response = client_as("coordinator").get(f"{BASE}/comparison/", {"scenarios": f"{world.scenario.pk},{bigger.pk}"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["baseline"] == world.scenario.pk and body["rule"] == "shapley"
    assert [s["scenario_name"] for s in body["scenarios"]] == ["All in", "With C"]
    by_lab = {row["lab_name"]: row["scenarios"] for row in body["results"]}
    assert by_lab["Lab A"][0]["savings_diff_usd"] == 0.0
    assert by_lab["Lab A"][1]["savings_usd"] == 450_000.0
    assert by_lab["Lab A"][1]["savings_diff_usd"] == 50_000.0
    assert by_lab["Lab A"][1]["savings_pct_diff_points"] == 5.0
    assert by_lab["Lab C"][0] == {
        "scenario": world.scenario.pk,
        "run": base_run.pk,
        "standalone_cost_usd": None,
        "allocated_cost_usd": None,
        "savings_usd": None,
        "savings_pct": None,
        "savings_diff_usd": None,
        "savings_pct_diff_points": None,
        "no_consortium_cost_usd": None,
        "savings_vs_no_consortium_usd": None,
        "savings_vs_no_consortium_pct": None,
        "savings_central_change_usd": None,
        "attribution_usd": None,
    }
    assert by_lab["Lab C"][1]["savings_usd"] is not None and by_lab["Lab C"][1]["savings_diff_usd"] is None


def test_comparison_as_csv_has_one_column_block_per_scenario(world, client_as, make_run):
    other = f.ScenarioFactory(consortium=world.consortium, name="Other", labs=[world.lab_a, world.lab_b])
    make_run(world.scenario, [world.lab_a, world.lab_b])
    make_run(other, [world.lab_a, world.lab_b], shift=10.0)
    response = client_as("coordinator").get(
        f"{BASE}/comparison/", {"scenarios": f"{other.pk},{world.scenario.pk}", "format": "csv", "rule": "proportional"}
    )
    rows = csv_rows(response)
    first, second = f"scenario_{other.pk}_", f"scenario_{world.scenario.pk}_"
    block = (
        "standalone_cost_usd",
        "allocated_cost_usd",
        "savings_usd",
        "savings_pct",
        "savings_diff_usd",
        "savings_pct_diff_points",
        "no_consortium_cost_usd",
        "savings_vs_no_consortium_usd",
        "savings_vs_no_consortium_pct",
    )
    # Then the attribution's columns (none computable for these hand-made runs without lab inputs).
    assert list(rows[0]) == [
        "lab",
        "lab_name",
        *(first + c for c in block),
        *(second + c for c in block),
        second + "savings_central_change_usd",
    ]
    assert float(rows[0][second + "savings_diff_usd"]) == -10.0


@pytest.mark.parametrize(
    ("scenarios", "status", "message"),
    [
        ("{a}", 400, "scenarios: Enter at least 2 ids separated by commas, e.g. 3,5."),
        ("{a},x", 400, "scenarios: Enter at least 2 ids separated by commas, e.g. 3,5."),
        ("{a}, {a}", 400, "scenarios: Enter at least 2 ids separated by commas, e.g. 3,5."),
        ("{a},99999999999999999999", 400, None),
        ("{a},{other}", 404, None),
        ("{a},{empty}", 404, None),
        ("{a},{a}", 200, None),
    ],
)
def test_comparison_refuses_bad_scenario_lists(world, client_as, make_run, scenarios, status, message):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    other = f.ScenarioFactory(consortium=world.other_consortium, labs=[world.lab_d])
    make_run(other, [world.lab_d])
    empty = f.ScenarioFactory(consortium=world.consortium, labs=[world.lab_a])
    value = scenarios.format(a=world.scenario.pk, other=other.pk, empty=empty.pk)
    response = client_as("coordinator").get(f"{BASE}/comparison/", {"scenarios": value})
    assert response.status_code == status
    if message:
        assert response.json()["error"]["message"] == message
    if status == 200:
        assert [item["scenario"] for item in response.json()["scenarios"]] == [world.scenario.pk]


def test_comparison_needs_the_scenarios_parameter(world, client_as):
    response = client_as("coordinator").get(f"{BASE}/comparison/")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "scenarios": ["Give either `scenarios` or `runs` (two or more ids, comma-separated), not both."]
    }


# Contributions -----------------------------------------------------------------------------


@pytest.fixture
def ledger(world):
    """Lab A: Q1 and Q2 entries (H100, H200); lab B: a Q1 entry and its reversal; all in consortium C."""
    make = f.ComputeContributionFactory
    make(lab=world.lab_a, consortium=world.consortium, recorded_by=world.user_a)
    make(
        lab=world.lab_a,
        consortium=world.consortium,
        recorded_by=world.user_a,
        period_start=datetime.date(2026, 4, 1),
        period_end=datetime.date(2026, 6, 30),
        gpu_type="H200",
        gpu_hours_pledged=Decimal("5000"),
        gpu_hours_delivered=Decimal("5000"),
        price_per_gpu_hour=Decimal("3.50"),
    )
    original = make(lab=world.lab_b, consortium=world.consortium, recorded_by=world.user_b)
    make(
        lab=world.lab_b,
        consortium=world.consortium,
        recorded_by=world.user_b,
        entry_type="reversal",
        reverses=original,
        gpu_hours_pledged=-original.gpu_hours_pledged,
        gpu_hours_delivered=-original.gpu_hours_delivered,
    )
    make(lab=world.lab_d, consortium=world.other_consortium, recorded_by=world.user_d)


def test_contributions_by_lab_sum_the_ledger_with_corrections(world, client_as, ledger):
    body = client_as("user_b").get(f"{BASE}/contributions/").json()
    assert body["window"] == "all" and body["group_by"] == ["lab"]
    assert body["results"] == [
        {
            "lab": world.lab_a.pk,
            "lab_name": "Lab A",
            "entries": 2,
            "gpu_hours_pledged": 15000.0,
            "gpu_hours_delivered": 13000.0,
            "delivery_rate_pct": 86.6667,
            "pledged_value_usd": 41500.0,
            "delivered_value_usd": 36700.0,
            "cash_usd": 0.0,
        },
        {
            "lab": world.lab_b.pk,
            "lab_name": "Lab B",
            "entries": 2,
            "gpu_hours_pledged": 0.0,
            "gpu_hours_delivered": 0.0,
            "delivery_rate_pct": None,
            "pledged_value_usd": 0.0,
            "delivered_value_usd": 0.0,
            "cash_usd": 0.0,
        },
    ]


def test_contributions_by_period_and_gpu_type(world, client_as, ledger):
    body = client_as("coordinator").get(f"{BASE}/contributions/", {"group_by": "period,gpu_type"}).json()
    assert [(row["period"], row["gpu_type"], row["gpu_hours_delivered"]) for row in body["results"]] == [
        ("2026-Q1", "H100", 8000.0),
        ("2026-Q2", "H200", 5000.0),
    ]
    assert body["results"][0]["period_start"] == "2026-01-01"


def test_contributions_in_a_window_of_dates(world, client_as, ledger):
    body = (
        client_as("coordinator")
        .get(f"{BASE}/contributions/", {"start": "2026-04-01", "end": "2026-06-30", "group_by": "gpu_type"})
        .json()
    )
    assert body["window"] == "custom" and body["start"] == "2026-04-01"
    assert [(row["gpu_type"], row["gpu_hours_pledged"]) for row in body["results"]] == [("H200", 5000.0)]


def test_contributions_csv_columns_carry_units(world, client_as, ledger):
    response = client_as("coordinator").get(f"{BASE}/contributions/", {"group_by": "lab,period", "format": "csv"})
    assert response.content.decode().splitlines()[0] == (
        "lab,lab_name,period,period_start,entries,gpu_hours_pledged,gpu_hours_delivered,delivery_rate_pct,"
        "pledged_value_usd,delivered_value_usd,cash_usd"
    )
    assert len(csv_rows(response)) == 3


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        (
            {"start": "2026-05-01", "end": "2026-04-01"},
            "end",
            "The end date 2026-04-01 is before the start date 2026-05-01.",
        ),
        (
            {"window": "last-quarter", "start": "2026-01-01"},
            "window",
            "Give either a window keyword or start/end dates, not both.",
        ),
        ({"window": "fortnight"}, "window", None),
        ({"start": "01/02/2026"}, "start", None),
        ({"group_by": "lab,colour"}, "group_by", "Choose one or more of lab, period, gpu_type, comma-separated."),
        ({"group_by": "lab,lab"}, "group_by", "Each grouping may be given once."),
        ({"lab": "zero"}, "lab", None),
    ],
)
def test_contributions_refuse_bad_windows_and_groupings(world, client_as, params, field, message):
    response = client_as("coordinator").get(f"{BASE}/contributions/", params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert list(error["fields"]) == [field]
    if message:
        assert error["fields"][field] == [message]


def test_contributions_for_one_lab(world, client_as, ledger):
    body = client_as("coordinator").get(f"{BASE}/contributions/", {"lab": world.lab_a.pk}).json()
    assert [row["lab_name"] for row in body["results"]] == ["Lab A"]


# Reuse -------------------------------------------------------------------------------------


@pytest.fixture
def reuses(world):
    """A's dataset reused by B twice; B's code reused by A; D (outside C) reuses A's dataset."""
    dataset = f.ArtifactFactory(lab=world.lab_a, title="Dataset")
    code = f.ArtifactFactory(lab=world.lab_b, title="Code", kind="code")
    f.ArtifactReuseFactory(artifact=dataset, reusing_lab=world.lab_b, gpu_hours_saved=Decimal("1000"))
    f.ArtifactReuseFactory(
        artifact=dataset, reusing_lab=world.lab_b, gpu_hours_saved=Decimal("500"), reused_on=datetime.date(2025, 6, 1)
    )
    f.ArtifactReuseFactory(artifact=code, reusing_lab=world.lab_a, gpu_hours_saved=Decimal("250"))
    f.ArtifactReuseFactory(artifact=dataset, reusing_lab=world.lab_d, gpu_hours_saved=Decimal("9999"))


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("reusing_lab", [("Lab A", 250.0, 1, 1), ("Lab B", 1500.0, 2, 1)]),
        ("owning_lab", [("Lab A", 1500.0, 2, 1), ("Lab B", 250.0, 1, 1)]),
    ],
)
def test_reuse_inside_the_consortium_by_reusing_and_owning_lab(world, client_as, reuses, by, expected):
    body = client_as("user_a").get(f"{BASE}/reuse/", {"by": by}).json()
    assert body["by"] == by and body["total_gpu_hours_saved"] == 1750.0
    got = [(r["lab_name"], r["gpu_hours_saved"], r["reuses"], r["artifacts"]) for r in body["results"]]
    assert got == expected


def test_reuse_in_a_window(world, client_as, reuses):
    body = client_as("user_a").get(f"{BASE}/reuse/", {"start": "2026-01-01"}).json()
    assert body["total_gpu_hours_saved"] == 1250.0


def test_reuse_leaves_out_labs_that_left(world, client_as, reuses):
    world.lab_b.consortium_memberships.update(left_on=datetime.date(2026, 6, 1))
    body = client_as("user_a").get(f"{BASE}/reuse/").json()
    assert body["results"] == []


def test_reuse_csv(world, client_as, reuses):
    response = client_as("user_a").get(f"{BASE}/reuse/", {"format": "csv", "by": "owning_lab"})
    assert response.content.decode().splitlines() == [
        "lab,lab_name,gpu_hours_saved,reuses,artifacts",
        f"{world.lab_a.pk},Lab A,1500.0,2,1",
        f"{world.lab_b.pk},Lab B,250.0,1,1",
    ]


# Conventions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"window": ""}, "window"),
        ({"start": ""}, "start"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "501"}, "page_size"),
        ({"format": ""}, "format"),
    ],
)
def test_empty_or_out_of_range_query_parameters_are_refused(world, client_as, params, field):
    response = client_as("coordinator").get(f"{BASE}/reuse/", params)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


def test_bad_page_size_on_the_key_list_is_refused(world, client_as):
    response = client_as("coordinator").get("/api/v1/consortia/c/api-keys/", {"page_size": "lots"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"page_size": ["Enter a whole number from 1 to 500."]}


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_api_urls_answer_404_in_the_error_format(world, client_as, method):
    response = getattr(client_as("coordinator"), method)("/api/v1/consortia/c/reports/nothing-here/")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "status": 404,
        "code": "not_found",
        "message": "No API endpoint at /api/v1/consortia/c/reports/nothing-here/; the operations are listed at "
        "/api/docs/.",
    }
