"""The compare page explains itself: what differs between the runs and a waterfall per member."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from consortium import services as consortium_services
from simulations import selectors, services
from simulations.models import SimulationRun
from simulations.tests.conftest import execute_in_process
from tests import factories as f


@pytest.fixture
def pair(world, fake_broker):
    """The world's scenario and a copy with Lab C added, Lab B's openness overridden and more replication."""
    lab_c = f.LabFactory(name="Lab C", slug="lab-c", final_run_gpu_hours=500_000)
    f.MembershipFactory(consortium=world.consortium, lab=lab_c)
    base_run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=20, seed=2)
    execute_in_process(base_run)
    copy = consortium_services.scenario_duplicate(scenario=world.scenario, by=world.coordinator)
    parameters = dict(copy.parameters, replication=1.5)
    consortium_services.scenario_update(
        scenario=copy,
        labs=[world.lab_a, world.lab_b, lab_c],
        parameters=parameters,
        overrides={str(world.lab_b.pk): {"openness": 0.3}},
    )
    other_run = services.run_create(scenario=copy, started_by=world.coordinator, draws=20, seed=2)
    execute_in_process(other_run)
    return world.scenario, copy


def test_the_attribution_lists_the_differences_and_each_members_bars_sum_to_its_change(world, pair):
    base, other = pair
    comparison = selectors.scenario_comparison_get(scenarios=[base, other], rule="shapley")
    (result,) = selectors.comparison_attribution_get(comparison)

    assert [(step.key, step.old_text, step.new_text, step.overridden) for step in result.steps] == [
        ("lab_added.Lab C", "not a member", "a member", False),
        ("parameter.replication", "1.2", "1.5", False),
        ("lab_input.Lab B.openness", "1", "0.3", True),
    ]
    rows = {row.lab_name: row for row in other.runs.get().member_results.filter(rule="shapley")}
    for member in result.members:
        assert sum(member.bars) == pytest.approx(member.total, rel=1e-9, abs=1e-6)
        assert member.end == pytest.approx(rows[member.lab_name].savings_central)
    assert result.member("Lab C").start == 0.0


def test_compare_page_shows_what_differs_and_a_waterfall_per_member(world, pair, client):
    base, other = pair
    client.force_login(world.user_b)
    url = reverse("simulations:compare", args=["c"]) + f"?scenarios={base.pk}&scenarios={other.pk}&rule=shapley"
    response = client.get(url)
    page = response.content.decode()

    assert response.status_code == 200
    assert f"Why “{other.name}” differs from the baseline" in page
    assert re.search(r"<th scope=\"row\">Lab B: openness <span class=\"badge overridden\">overridden</span></th>", page)
    assert "Lab C joins" in page and "Replication factor" in page
    assert page.count('<details class="waterfall"') == 3
    charts = json.loads(
        re.search(r'<script id="data-waterfalls" type="application/json">(.*?)</script>', page).group(1)
    )
    assert len(charts) == 3
    chart = charts["waterfall-0-0"]
    assert chart["member"] == "Lab A" and chart["labels"][0] == "Baseline" and chart["labels"][-1] == other.name
    # Each step's bar starts where the one before ended.
    for before, after in zip(chart["bars"][1:-2], chart["bars"][2:-1], strict=True):
        assert after[0] == pytest.approx(before[1])


def test_compare_page_explains_identical_inputs(world, fake_broker, client):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=20, seed=2)
    execute_in_process(run)
    copy = consortium_services.scenario_duplicate(scenario=world.scenario, by=world.coordinator)
    execute_in_process(services.run_create(scenario=copy, started_by=world.coordinator, draws=20, seed=2))
    client.force_login(world.user_a)
    page = client.get(
        reverse("simulations:compare", args=["c"]) + f"?scenarios={world.scenario.pk}&scenarios={copy.pk}"
    ).content.decode()
    assert "The two runs have the same inputs" in page


def test_the_comparison_csv_and_the_api_report_carry_the_attribution(world, pair, client, client_as):
    from tests.web.test_result_baselines import csv_of

    base, other = pair
    client.force_login(world.user_b)
    query = f"scenarios={base.pk}&scenarios={other.pk}&rule=shapley"
    rows = {
        row["lab_name"]: row for row in csv_of(client, reverse("simulations:compare_csv", args=["c"]) + "?" + query)
    }
    prefix = f"scenario_{other.pk}_"
    keys = ["lab_added.Lab C", "parameter.replication", "lab_input.Lab B.openness"]
    for row in rows.values():
        bars = [float(row[f"{prefix}due_to[{key}]_usd"]) for key in keys]
        assert sum(bars) == pytest.approx(float(row[prefix + "savings_central_change_usd"]), abs=1e-3)

    body = (
        client_as("user_b")
        .get("/api/v1/consortia/c/reports/comparison/", {"scenarios": f"{base.pk},{other.pk}", "rule": "shapley"})
        .json()
    )
    (explained,) = body["explained"]
    assert [d["key"] for d in explained["differences"]] == keys
    assert explained["differences"][2]["overridden"] is True
    for member in explained["members"]:
        assert sum(member["bars_usd"]) == pytest.approx(member["change_usd"], rel=1e-9, abs=1e-6)
    lab_b = next(row for row in body["results"] if row["lab_name"] == "Lab B")["scenarios"]
    assert lab_b[0]["attribution_usd"] is None
    assert list(lab_b[1]["attribution_usd"]) == keys
    assert sum(lab_b[1]["attribution_usd"].values()) == pytest.approx(lab_b[1]["savings_central_change_usd"])
    assert float(rows["Lab B"][f"{prefix}due_to[lab_input.Lab B.openness]_usd"]) == pytest.approx(
        lab_b[1]["attribution_usd"]["lab_input.Lab B.openness"]
    )


@pytest.fixture
def two_runs(world, fake_broker):
    """Two runs of the world's scenario with Lab B's openness edited on the lab in between."""
    first = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=20, seed=2)
    execute_in_process(first)
    world.lab_b.openness = 0.4
    world.lab_b.save()
    second = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=20, seed=2)
    execute_in_process(second)
    return first, second


def test_two_runs_of_one_scenario_compare_from_their_snapshots(world, two_runs):
    """The lab edit between the runs is the one difference; each member's bars sum to its total change."""
    first, second = two_runs
    comparison = selectors.runs_comparison_get(runs=[first, second], rule="shapley")
    (result,) = selectors.comparison_attribution_get(comparison)
    assert [(step.key, step.old, step.new, step.overridden) for step in result.steps] == [
        ("lab_input.Lab B.openness", 1.0, 0.4, False)
    ]
    rows = {row.lab_name: row for row in second.member_results.filter(rule="shapley")}
    before = {row.lab_name: row for row in first.member_results.filter(rule="shapley")}
    for member in result.members:
        assert sum(member.bars) == pytest.approx(member.total, rel=1e-9, abs=1e-6)
        assert member.start == pytest.approx(before[member.lab_name].savings_central)
        assert member.end == pytest.approx(rows[member.lab_name].savings_central)
    assert [column.label for column in comparison.columns] == [
        f"All in · run #{first.pk}",
        f"All in · run #{second.pk}",
    ]


def test_the_compare_page_takes_two_runs_of_one_scenario(world, two_runs, client):
    first, second = two_runs
    client.force_login(world.user_b)
    run_page = client.get(second.get_absolute_url()).content.decode()
    link = f"/simulations/consortia/c/compare/?runs={first.pk}&amp;runs={second.pk}"
    assert f'href="{link}">Compare with run #{first.pk}</a>' in run_page

    page = client.get(link.replace("&amp;", "&") + "&rule=shapley")
    text = page.content.decode()
    assert page.status_code == 200
    assert f"Why “All in · run #{second.pk}” differs from the baseline" in text
    assert f'id="why-run-{second.pk}"' in text
    assert "Lab B: openness" in text
    assert text.count('<details class="waterfall"') == 2
    charts = json.loads(
        re.search(r'<script id="data-waterfalls" type="application/json">(.*?)</script>', text).group(1)
    )
    for chart in charts.values():
        start, *steps, end = chart["bars"]
        assert start[1] + sum(after - before for before, after in steps) == pytest.approx(end[1], abs=1e-6)


def test_the_comparison_csv_and_the_api_report_take_runs(world, two_runs, client, client_as):
    from tests.web.test_result_baselines import csv_of

    first, second = two_runs
    client.force_login(world.user_b)
    query = f"runs={first.pk}&runs={second.pk}&rule=shapley"
    rows = {
        row["lab_name"]: row for row in csv_of(client, reverse("simulations:compare_csv", args=["c"]) + "?" + query)
    }
    key = f"run_{second.pk}_due_to[lab_input.Lab B.openness]_usd"
    for row in rows.values():
        assert float(row[key]) == pytest.approx(float(row[f"run_{second.pk}_savings_central_change_usd"]), abs=1e-3)
        assert f"run_{first.pk}_savings_usd" in row

    api = client_as("user_b")
    body = api.get("/api/v1/consortia/c/reports/comparison/", {"runs": f"{first.pk},{second.pk}"}).json()
    assert [info["run"] for info in body["scenarios"]] == [first.pk, second.pk]
    (explained,) = body["explained"]
    assert explained["run"] == second.pk
    assert [d["key"] for d in explained["differences"]] == ["lab_input.Lab B.openness"]
    lab_b = next(row for row in body["results"] if row["lab_name"] == "Lab B")["scenarios"]
    assert [cell["run"] for cell in lab_b] == [first.pk, second.pk]
    assert sum(lab_b[1]["attribution_usd"].values()) == pytest.approx(lab_b[1]["savings_central_change_usd"])
    csv = api.get(
        "/api/v1/consortia/c/reports/comparison/", {"runs": f"{first.pk},{second.pk}", "format": "csv"}
    ).content.decode()
    header = csv.splitlines()[0].split(",")
    assert f"run_{second.pk}_savings_central_change_usd" in header
    assert float(
        next(r for r in csv_rows(csv) if r["lab_name"] == "Lab B")[f"run_{second.pk}_savings_central_change_usd"]
    ) == pytest.approx(lab_b[1]["savings_central_change_usd"], abs=1e-6)


def csv_rows(text: str) -> list[dict]:
    import csv
    import io

    return list(csv.DictReader(io.StringIO(text)))


def test_comparing_runs_refuses_bad_input_with_a_message(world, two_runs, client, client_as, fake_broker):
    first, second = two_runs
    other = f.ScenarioFactory(consortium=world.other_consortium, labs=[world.lab_d])
    outsider = SimulationRun.objects.create(
        scenario=other, status=SimulationRun.Status.SUCCEEDED, inputs=first.inputs, seed=1, draws=4
    )
    queued = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=4)
    spare = f.ScenarioFactory(consortium=world.consortium, labs=[world.lab_a, world.lab_b])
    client.force_login(world.user_b)
    url = reverse("simulations:compare", args=["c"])
    cases = [
        (f"runs={first.pk}", "Pick between 2 and 4 runs"),
        (f"runs={first.pk}&runs={outsider.pk}", "Select a valid choice"),
        (f"runs={first.pk}&runs={queued.pk}", "Only finished runs can be compared"),
        (
            f"runs={first.pk}&runs={second.pk}&scenarios={world.scenario.pk}&scenarios={spare.pk}",
            "Compare either scenarios or runs",
        ),
        (f"runs={first.pk}&runs=abc", "Select a valid choice"),
    ]
    for query, message in cases:
        response = client.get(f"{url}?{query}")
        assert response.status_code == 400, query
        assert message in response.content.decode(), query
        assert client.get(reverse("simulations:compare_csv", args=["c"]) + "?" + query).status_code == 400

    api = client_as("user_b")
    endpoint = "/api/v1/consortia/c/reports/comparison/"
    assert api.get(endpoint, {"runs": f"{first.pk},{outsider.pk}"}).status_code == 404
    assert api.get(endpoint, {"runs": f"{first.pk},{queued.pk}"}).status_code == 409
    both = api.get(endpoint, {"runs": f"{first.pk},{second.pk}", "scenarios": f"{world.scenario.pk},1"})
    assert both.status_code == 400 and "not both" in both.content.decode()
    assert api.get(endpoint, {"runs": str(first.pk)}).status_code == 400
    assert api.get(endpoint, {}).status_code == 400
    # Other consortia's people see nothing of the runs.
    client.force_login(world.user_d)
    assert client.get(f"{url}?runs={first.pk}&runs={second.pk}").status_code == 404
