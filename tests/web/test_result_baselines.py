"""Pages, CSV downloads and the API say what each savings figure is (the median of the draws or the value at
central parameters) and against which baseline (leaving, or no consortium); they show members' notes and runs'
warnings; and runs of engine 1.0.0, whose rows have none of that, still render with dashes."""

import csv
import html
import io
import re

import pytest
from django.urls import reverse

from simulations import selectors, services
from simulations.models import SimulationRun
from simulations.tests.conftest import execute_in_process
from tests import factories as f
from tests.browser.seed import seed_results

pytestmark = pytest.mark.django_db

LEAVING = "vs leaving (outside option: alone, reading the consortium's published work)"
NO_CONSORTIUM = "vs no consortium"
NOT_COMPUTED = '<span aria-hidden="true">—</span>'


def page_of(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    # Figures are wrapped to keep them on one line (ui._unbroken); the prose is read without them.
    return html.unescape(re.sub(r'<span class="nowrap">([^<]*)</span>', r"\1", response.content.decode()))


def csv_of(client, url) -> list[dict[str, str]]:
    response = client.get(url)
    assert response.status_code == 200, url
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def finish(scenario, coordinator, **parameters) -> SimulationRun:
    """A run of the scenario finalized through the services, as a worker would."""
    if parameters:
        scenario.parameters = scenario.effective_parameters() | parameters
        scenario.save()
    run = services.run_create(scenario=scenario, started_by=coordinator, draws=50)
    execute_in_process(run)
    assert run.status == SimulationRun.Status.SUCCEEDED, run.error
    return run


@pytest.fixture
def v2_run(world, fake_broker):
    return finish(world.scenario, world.coordinator)


def member_url(run, lab) -> str:
    return reverse("simulations:member_report", args=[run.pk, lab.pk])


# Cost model v2 ----------------------------------------------------------------------------------


def test_results_page_says_the_headline_is_the_median_of_the_draws_against_both_baselines(world, client, v2_run):
    client.force_login(world.user_a)
    page = page_of(client, v2_run.get_absolute_url())
    assert "median of 50 draws" in page
    assert f"Savings {LEAVING}" in page
    assert f"Savings {NO_CONSORTIUM}" in page
    assert "an outsider can use 25 % of it, after the embargo" in page
    row = selectors.run_results_get(run=v2_run).members["shapley"][0]
    assert f"${round(row.savings):,}" in page
    assert f"${round(row.savings_vs_no_consortium):,}" in page
    assert f"${round(row.savings_central):,} at central parameters" in page


def test_results_page_shows_the_engine_that_made_the_run(world, client, v2_run):
    client.force_login(world.user_a)
    assert "Engine 2.5.2 (cost model v2)" in page_of(client, v2_run.get_absolute_url())
    queued = services.run_create(scenario=world.scenario, started_by=world.coordinator)
    assert "Engine 2.5.2 (cost model v2)" in page_of(client, queued.get_absolute_url())


def test_plausible_inputs_give_no_warning_box(world, client, v2_run):
    client.force_login(world.user_a)
    assert 'class="callout warning"' not in page_of(client, v2_run.get_absolute_url())
    assert 'class="callout warning"' not in page_of(client, world.scenario.get_absolute_url())


def test_results_page_warns_beside_the_numbers_when_horizon_and_growth_are_implausible(world, client, fake_broker):
    run = finish(world.scenario, world.coordinator, horizon_years=10, growth=3.0)
    client.force_login(world.user_a)
    page = page_of(client, run.get_absolute_url())
    box = re.search(r'<section class="callout warning".*?</section>', page, re.S)
    assert box, "no warning box"
    assert "Check the inputs before relying on these numbers" in box.group(0)
    assert "A horizon of 10 years at 3x a year makes final runs in the last year 19,683 times" in box.group(0)
    assert "above the planning limit of $100 billion per lab and year" in box.group(0)
    # Beside the numbers: before the per-member table.
    assert page.index("A horizon of 10 years") < page.index('id="members-h"')
    report = page_of(client, member_url(run, world.lab_a))
    assert "A horizon of 10 years at 3x a year" in report


def test_scenario_page_warns_about_implausible_inputs_before_any_run(world, client):
    world.scenario.parameters = world.scenario.effective_parameters() | {"horizon_years": 10, "growth": 3.0}
    world.scenario.save()
    client.force_login(world.coordinator)
    page = page_of(client, world.scenario.get_absolute_url())
    assert "Check these inputs before running the scenario" in page
    assert "A horizon of 10 years at 3x a year" in page
    assert "Lab A would spend $" in page


def test_scenario_page_says_why_the_engine_refuses_its_inputs_instead_of_failing(world, client, monkeypatch):
    from simulations.engine.errors import InvalidParameterError

    def refuse(**kwargs):
        raise InvalidParameterError("duplicated lab name(s): Lab A")

    monkeypatch.setattr(services, "scenario_spec_build", refuse)
    client.force_login(world.user_a)
    page = page_of(client, world.scenario.get_absolute_url())
    assert "The scenario cannot be simulated as it stands: duplicated lab name(s): Lab A" in page


def test_a_member_worse_off_than_its_outside_option_sees_why(world, client, v2_run):
    client.force_login(world.user_a)
    note = v2_run.member_results.get(rule="proportional", lab_name="Lab A").note
    assert note.startswith("Lab A pays $")
    results = page_of(client, v2_run.get_absolute_url() + "?rule=proportional")
    assert re.search(r'<tr class="note-row"><td colspan="8"><p class="note-text">Lab A pays (.*?)</p>', results)
    assert note in results
    assert "Would rather leave" in results
    # Under Shapley nobody is worse off: no note.
    assert note not in page_of(client, v2_run.get_absolute_url() + "?rule=shapley")
    report = page_of(client, member_url(v2_run, world.lab_a))
    assert note in report
    assert "Lab A would rather leave under" not in report  # the headline rule (Shapley) is fine for Lab A
    assert re.search(r'<tr class="note-row">.*?Proportional to stand-alone cost:</strong> ' + re.escape(note), report)


def test_member_report_labels_the_headline_and_both_baselines(world, client, v2_run):
    client.force_login(world.user_b)
    report = page_of(client, member_url(v2_run, world.lab_b))
    assert f"Savings {LEAVING}, median of 50 draws" in report
    assert "Savings vs no consortium: <strong" in report
    assert "Engine 2.5.2 (cost model v2)" in report
    row = v2_run.member_results.get(rule="shapley", lab_name="Lab B")
    assert f"{row.savings_pct:.1f} %" in report
    assert f"of which it pays <strong>${round(row.direct_cost):,}</strong> itself" in report


def test_dashboard_headline_says_what_it_is_and_against_what(world, client, v2_run):
    client.force_login(world.user_a)
    page = page_of(client, reverse("dashboard"))
    row = v2_run.member_results.get(rule="shapley", lab_name="Lab A")
    card = re.search(r'<li class="savings-card">.*?</li>', page, re.S).group(0)
    assert f"${round(row.savings):,}" in card
    assert f"<strong>{LEAVING}</strong>, median of 50 draws" in card
    assert f"Savings {NO_CONSORTIUM}: <strong" in card


def test_compare_page_names_each_runs_headline_and_the_second_baseline(world, client, fake_broker, v2_run):
    other = f.ScenarioFactory(consortium=world.consortium, name="Lean", labs=[world.lab_a, world.lab_b])
    seed_results(other)  # an engine 1.0.0 run
    client.force_login(world.user_a)
    url = reverse("simulations:compare", args=["c"]) + f"?scenarios={world.scenario.pk}&scenarios={other.pk}"
    page = page_of(client, url)
    assert "median of 50 draws" in page
    assert "at central parameters · Engine 1.0.0 (cost model v1), savings vs going alone" in page
    assert "savings vs leaving (outside option: alone, reading the consortium's published work)" in page
    row = v2_run.member_results.get(rule="shapley", lab_name="Lab A")
    assert f"vs no consortium: ${round(row.savings_vs_no_consortium):,}" in page
    assert re.search(r'vs no consortium: <span class="subtle"[^>]*>' + re.escape(NOT_COMPUTED), page)
    rows = csv_of(client, reverse("simulations:compare_csv", args=["c"]) + "?" + url.split("?", 1)[1])
    assert rows[0][f"scenario_{world.scenario.pk}_savings_vs_no_consortium_usd"] == str(
        round(row.savings_vs_no_consortium, 2)
    )
    assert rows[0][f"scenario_{other.pk}_savings_vs_no_consortium_usd"] == ""


def test_results_csv_carries_the_v2_figures_with_units_in_their_names(world, client, v2_run):
    client.force_login(world.user_a)
    rows = csv_of(client, reverse("simulations:run_csv", args=[v2_run.pk, "members"]))
    results = selectors.run_results_get(run=v2_run)
    expected = [
        (rule, row.lab_name, round(row.savings_vs_no_consortium, 2), round(row.savings_central, 2), row.note)
        for rule in results.rules
        for row in results.members[rule]
    ]
    got = [
        (r["rule"], r["lab"], float(r["savings_vs_no_consortium_usd"]), float(r["savings_central_usd"]), r["note"])
        for r in rows
    ]
    assert got == expected
    assert {"no_consortium_cost_usd", "savings_vs_no_consortium_pct", "savings_pct_central", "direct_cost_usd"} <= set(
        rows[0]
    )


def test_results_api_and_savings_report_carry_the_headline_warnings_and_v2_figures(
    world, client_as, fake_broker, make_key_for_world
):
    run = finish(world.scenario, world.coordinator, horizon_years=10, growth=3.0)
    body = client_as("token").get(f"/api/v1/runs/{run.pk}/results/").json()
    assert body["run"]["headline"] == "median of the draws"
    assert len(body["run"]["warnings"]) == 2
    member = body["rules"][1]["members"][0]
    assert (body["rules"][1]["rule"], member["lab_name"]) == ("proportional", "Lab A")
    assert set(member) >= {"savings_central", "no_consortium_cost", "savings_vs_no_consortium_p90", "note"}
    report = make_key_for_world.get(
        "/api/v1/consortia/c/reports/savings/", {"scenario": world.scenario.pk, "rule": "proportional"}
    ).json()
    assert (report["engine_version"], report["headline"]) == ("2.5.2", "median of the draws")
    assert report["warnings"] == body["run"]["warnings"]
    assert report["outsider_share"] == pytest.approx(body["run"]["outsider_share"])
    lab_a = report["results"][0]
    assert lab_a["savings_vs_no_consortium_usd"] == round(member["savings_vs_no_consortium"], 2)
    assert lab_a["note"] == member["note"]


@pytest.fixture
def make_key_for_world(world):
    from rest_framework.test import APIClient

    from reports.services import api_key_create

    _, token = api_key_create(consortium=world.consortium, created_by=None, name="dashboard")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {token}")
    return client


# Runs of engine 1.0.0: no v2 figures stored --------------------------------------------------------


@pytest.fixture
def old_run(world):
    run = seed_results(world.scenario)
    assert run.engine_version == "1.0.0" and run.member_results.filter(note__isnull=True).count() == 4
    return run


def test_an_old_run_renders_its_results_with_dashes_for_what_it_never_computed(world, client, old_run):
    client.force_login(world.user_a)
    page = page_of(client, old_run.get_absolute_url())
    assert "Engine 1.0.0 (cost model v1)" in page
    assert "Savings vs going alone (cost model v1)" in page
    assert "at central parameters" in page
    assert "Not computed by Engine 1.0.0 (cost model v1); run the scenario again to see it." in page
    assert page.count(NOT_COMPUTED) == 2  # vs no consortium, one per member
    assert LEAVING not in page and 'class="callout warning"' not in page and 'class="note-row"' not in page


def test_an_old_run_renders_its_member_report_dashboard_and_comparison(world, client, old_run):
    client.force_login(world.user_a)
    report = page_of(client, member_url(old_run, world.lab_a))
    assert "Savings vs going alone (cost model v1), at central parameters" in report
    assert NOT_COMPUTED in report
    dashboard = page_of(client, reverse("dashboard"))
    assert "vs going alone (cost model v1)" in dashboard and NOT_COMPUTED in dashboard
    other = f.ScenarioFactory(consortium=world.consortium, name="Lean", labs=[world.lab_a, world.lab_b])
    seed_results(other, savings_shift=5)
    compare = reverse("simulations:compare", args=["c"]) + f"?scenarios={world.scenario.pk}&scenarios={other.pk}"
    assert NOT_COMPUTED in page_of(client, compare)


def test_an_old_run_serves_its_api_results_and_csvs_with_blanks(world, client, client_as, old_run, make_key_for_world):
    body = client_as("token").get(f"/api/v1/runs/{old_run.pk}/results/").json()
    assert (body["run"]["engine_label"], body["run"]["headline"]) == ("Engine 1.0.0 (cost model v1)", "")
    assert (body["run"]["warnings"], body["run"]["outsider_share"]) == ([], None)
    member = body["rules"][0]["members"][0]
    assert member["savings_vs_no_consortium"] is None and member["note"] is None
    report = make_key_for_world.get("/api/v1/consortia/c/reports/savings/", {"scenario": world.scenario.pk})
    assert report.status_code == 200
    assert report.json()["results"][0]["no_consortium_cost_usd"] is None
    report_csv = make_key_for_world.get(
        "/api/v1/consortia/c/reports/savings/", {"scenario": world.scenario.pk, "format": "csv"}
    )
    rows = list(csv.DictReader(io.StringIO(report_csv.content.decode())))
    assert rows[0]["savings_vs_no_consortium_usd"] == "" and rows[0]["note"] == ""
    client.force_login(world.user_a)
    for table in ("members", "stability", "years", "settlement", "transfers"):
        assert client.get(reverse("simulations:run_csv", args=[old_run.pk, table])).status_code == 200, table
    members = csv_of(client, reverse("simulations:run_csv", args=[old_run.pk, "members"]))
    assert members[0]["savings_central_usd"] == "" and float(members[0]["savings_usd"]) > 0
