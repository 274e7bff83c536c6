"""The compare page explains itself: what differs between the runs and a waterfall per member."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from consortium import services as consortium_services
from simulations import selectors, services
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
