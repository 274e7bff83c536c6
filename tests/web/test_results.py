"""Results, comparison, report and progress pages, and the CSV downloads, read one selector and agree with it."""

import csv
import io
import json
import re

import pytest
from django.urls import reverse

from simulations import selectors
from simulations.models import SimulationRun
from tests import factories as f
from tests.browser.seed import seed_results

pytestmark = pytest.mark.django_db


def rows_of(response):
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def json_island(html: str, element_id: str):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, element_id
    return json.loads(match.group(1))


def test_results_page_shows_every_table_and_the_chart_data(world, client):
    run = seed_results(world.scenario)
    client.force_login(world.user_a)
    page = client.get(run.get_absolute_url()).content.decode()
    first = selectors.run_results_get(run=run).members["shapley"]
    for heading in (
        "Cost going alone versus",
        "P10\u2013P90 band",
        "Rules side by side",
        "Stability",
        "Settlement",
        "Cumulative",
    ):
        assert heading in page
    costs = json_island(page, "data-costs")
    assert costs["labels"] == ["Lab A", "Lab B"]
    assert costs["standalone"] == [row.standalone_cost for row in first]
    savings = json_island(page, "data-savings")
    assert savings["band"] == [[row.savings_pct_p10, row.savings_pct_p90] for row in first]
    assert len(json_island(page, "data-years")["series"]) == 2
    assert "chart.umd.min.js" in page
    # Money has its currency and thousands separators, percentages their unit.
    assert f"${round(first[0].standalone_cost):,}" in page
    assert f"{first[0].savings_pct:.1f} %" in page


def test_results_page_names_the_coalition_that_would_rather_leave(world, client):
    run = seed_results(world.scenario)
    client.force_login(world.user_b)
    page = client.get(run.get_absolute_url()).content.decode()
    assert "Shapley value: stable (in the core)" in page
    assert "Lab A + Lab B</strong> would rather leave: together they would save $1,250,000" in page


def test_choosing_a_rule_switches_the_per_member_table(world, client):
    run = seed_results(world.scenario)
    client.force_login(world.user_a)
    page = client.get(run.get_absolute_url() + "?rule=proportional").content.decode()
    assert "Per member under Proportional to stand-alone cost" in page
    unknown = client.get(run.get_absolute_url() + "?rule=nonsense").content.decode()
    assert "Per member under Shapley value" in unknown


def test_settlement_says_who_pays_and_who_is_owed(world, client):
    run = seed_results(world.scenario)
    row = run.member_results.filter(rule="shapley", lab_name="Lab A").get()
    row.settlement = -12_345.0
    row.save()
    client.force_login(world.user_a)
    page = client.get(run.get_absolute_url()).content.decode()
    assert "receives $12,345" in page
    assert re.search(r"pays \$[\d,]+", page)
    # Lab B's debt clears the largest credit first (the pool's), then Lab A's.
    lab_b = run.member_results.get(rule="shapley", lab_name="Lab B").settlement
    transfers = re.findall(r"<li><span>(.*?)</span><span class=\"num\">(.*?)</span></li>", page)
    assert transfers == [
        ("<strong>Lab B</strong> pays the consortium pool", f"${round(lab_b - 12_345):,}"),
        ("<strong>Lab B</strong> pays <strong>Lab A</strong>", "$12,345"),
    ]


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        ("members", ["rule", "lab", "standalone_cost_usd", "allocated_cost_usd", "savings_pct_p10", "settlement_usd"]),
        ("stability", ["rule", "in_core", "blocking_coalition", "max_excess_usd", "least_core_epsilon_usd"]),
        ("years", ["lab", "year", "standalone_cost_usd", "consortium_cost_usd", "cumulative_savings_usd"]),
        ("settlement", ["rule", "lab", "allocated_cost_usd", "delivered_value_usd", "settlement_usd", "direction"]),
        ("transfers", ["rule", "payer", "payee", "amount_usd"]),
    ],
)
def test_every_results_table_downloads_as_csv_with_units_in_the_column_names(world, client, table, columns):
    run = seed_results(world.scenario)
    client.force_login(world.user_a)
    rows = rows_of(client.get(reverse("simulations:run_csv", args=[run.pk, table])))
    assert rows
    assert set(columns) <= set(rows[0])


def test_results_csv_agrees_with_the_selector(world, client):
    run = seed_results(world.scenario)
    client.force_login(world.user_a)
    rows = rows_of(client.get(reverse("simulations:run_csv", args=[run.pk, "members"])))
    results = selectors.run_results_get(run=run)
    expected = [(rule, row.lab_name, round(row.savings, 2)) for rule in results.rules for row in results.members[rule]]
    assert [(r["rule"], r["lab"], float(r["savings_usd"])) for r in rows] == expected


def test_unknown_csv_table_is_not_found(world, client):
    run = seed_results(world.scenario)
    client.force_login(world.user_a)
    assert client.get(reverse("simulations:run_csv", args=[run.pk, "secrets"])).status_code == 404


def progress_html(client, run):
    return client.get(reverse("simulations:run_progress", args=[run.pk])).content.decode()


def test_progress_partial_polls_until_the_run_finishes(world, client):
    run = SimulationRun.objects.create(
        scenario=world.scenario, status="running", inputs={}, seed=1, draws=100, chunks_total=4, chunks_done=1
    )
    client.force_login(world.user_a)
    running = progress_html(client, run)
    assert 'hx-trigger="every 1s"' in running
    assert 'aria-valuenow="25"' in running
    assert "1 of 4 chunks" in running
    run.status, run.chunks_done = "succeeded", 4
    run.save()
    done = progress_html(client, run)
    assert "hx-trigger" not in done
    assert 'aria-valuenow="100"' in done
    assert "View results" in done


def test_a_failed_run_shows_its_error_and_stops_polling(world, client):
    run = SimulationRun.objects.create(
        scenario=world.scenario, status="failed", inputs={}, seed=1, draws=100, error="Engine error: bad input"
    )
    client.force_login(world.user_a)
    html = progress_html(client, run)
    assert "hx-trigger" not in html
    assert "Engine error: bad input" in html


def test_run_page_of_an_unfinished_run_shows_the_live_progress_bar(world, client):
    run = SimulationRun.objects.create(scenario=world.scenario, status="queued", inputs={}, seed=1, draws=100)
    client.force_login(world.coordinator)
    page = client.get(run.get_absolute_url()).content.decode()
    assert 'id="run-progress"' in page
    assert reverse("simulations:run_cancel", args=[run.pk]) in page
    client.force_login(world.user_a)
    assert reverse("simulations:run_cancel", args=[run.pk]) not in client.get(run.get_absolute_url()).content.decode()


def test_member_report_is_printable_and_covers_every_rule(world, client):
    run = seed_results(world.scenario)
    client.force_login(world.user_b)
    response = client.get(reverse("simulations:member_report", args=[run.pk, world.lab_b.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Savings report: Lab B" in page
    assert "Shapley value" in page and "Proportional to stand-alone cost" in page
    assert "data-print" in page
    assert client.get(reverse("simulations:member_report", args=[run.pk, world.lab_d.pk])).status_code == 404


def compare_url(*scenarios, rule=None):
    query = "&".join(f"scenarios={s.pk}" for s in scenarios) + (f"&rule={rule}" if rule else "")
    return reverse("simulations:compare", args=["c"]) + "?" + query


def test_comparison_shows_each_members_savings_and_the_difference(world, client):
    other = f.ScenarioFactory(consortium=world.consortium, name="Lean", labs=[world.lab_a, world.lab_b])
    seed_results(world.scenario)
    seed_results(other, savings_shift=5)
    client.force_login(world.user_a)
    response = client.get(compare_url(world.scenario, other))
    page = response.content.decode()
    assert response.status_code == 200
    chart = json_island(page, "data-compare")
    assert [series["label"] for series in chart["series"]] == ["All in", "Lean"]
    assert "+5.0 pts" in page

    rows = rows_of(
        client.get(
            reverse("simulations:compare_csv", args=["c"]) + "?" + compare_url(world.scenario, other).split("?")[1]
        )
    )
    assert [row["lab_name"] for row in rows] == ["Lab A", "Lab B"]
    assert all(float(row[f"scenario_{other.pk}_savings_pct_diff_points"]) == pytest.approx(5.0) for row in rows)


@pytest.mark.parametrize("count", [1, 5])
def test_comparison_needs_two_to_four_scenarios(world, client, count):
    scenarios = [world.scenario] + [
        f.ScenarioFactory(consortium=world.consortium, labs=[world.lab_a]) for _ in range(count - 1)
    ]
    client.force_login(world.user_a)
    response = client.get(compare_url(*scenarios))
    assert response.status_code == 400
    assert "Pick between 2 and 4 scenarios" in response.content.decode()


def test_comparison_asks_to_run_scenarios_without_results_first(world, client):
    other = f.ScenarioFactory(consortium=world.consortium, name="Never run", labs=[world.lab_a])
    seed_results(world.scenario)
    client.force_login(world.user_a)
    response = client.get(compare_url(world.scenario, other))
    assert response.status_code == 400
    assert "No finished run yet for: Never run" in response.content.decode()


def test_a_sampled_allocation_shows_its_standard_error(world, client):
    run = seed_results(world.scenario)
    run.member_results.filter(rule="shapley", lab_name="Lab A").update(exact=False, allocated_stderr=1234.4)
    client.force_login(world.user_a)
    assert "± $1,234" in client.get(run.get_absolute_url()).content.decode()


def test_comparison_keeps_the_users_order_and_copes_with_odd_ids(world, client):
    other = f.ScenarioFactory(consortium=world.consortium, name="Lean", labs=[world.lab_a, world.lab_b])
    seed_results(world.scenario)
    seed_results(other, savings_shift=5)
    client.force_login(world.user_a)
    url = reverse("simulations:compare", args=["c"])
    page = client.get(f"{url}?scenarios={other.pk}&scenarios={world.scenario.pk}").content.decode()
    assert [s["label"] for s in json_island(page, "data-compare")["series"]] == ["Lean", "All in"]
    csv_url = reverse("simulations:compare_csv", args=["c"])
    for odd in ("abc", f"0{world.scenario.pk}", "-1", ""):
        for target in (url, csv_url):
            assert client.get(f"{target}?scenarios={odd}&scenarios={other.pk}").status_code == 400, (target, odd)
