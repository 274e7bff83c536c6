"""Dashboard, lab and consortium pages: what they show, their empty states and their CSV downloads."""

import csv
import io
import re

import pytest
from django.urls import reverse

from consortium.templatetags import ui
from labs.selectors import contribution_totals
from tests import factories as f
from tests.browser.seed import seed_results

pytestmark = pytest.mark.django_db


def rows_of(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize(
    ("filter_", "value", "arg", "shown"),
    [
        (ui.money, 1234567.4, "USD", "$1,234,567"),
        (ui.money, -2500, "USD", "-$2,500"),
        (ui.money, 99.6, "USD", "$100"),
        (ui.money, None, "USD", "\u2013"),
        (ui.price, 2.4, "USD", "$2.40"),
        (ui.gpuh, 2788000, None, "2,788,000 GPU-h"),
        (ui.gpuh, -1500.4, None, "-1,500 GPU-h"),
        (ui.pct, 12.345, None, "12.3 %"),
        (ui.pct, -0.04, None, "0.0 %"),
        (ui.share, 0.8, None, "80 %"),
        (ui.num, 1000000.0, 2, "1,000,000"),
        (ui.num, 0.125, 2, "0.12"),
    ],
)
def test_numbers_carry_units_and_thousands_separators(filter_, value, arg, shown):
    text = str(filter_(value) if arg is None else filter_(value, arg))
    assert re.sub(r"<[^>]+>", "", text) == shown


@pytest.mark.parametrize(("filter_", "value"), [(ui.gpuh, 2788000), (ui.pct, 12.3), (ui.share, 0.8)])
def test_a_figure_and_its_unit_never_break_across_lines(filter_, value):
    assert str(filter_(value)).startswith('<span class="nowrap">')


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [(1, "years", "year"), (1.0, "months", "month"), (3, "years", "years"), (0, "months", "months"), (1, "x", "x")],
)
def test_units_after_a_figure_of_one_are_singular(value, unit, shown):
    assert ui.unit_for(unit, value) == shown


def test_landing_sends_signed_in_users_to_their_dashboard(world, client):
    assert "Log in" in client.get("/").content.decode()
    client.force_login(world.user_a)
    assert client.get("/").status_code == 302


def test_login_with_a_wrong_password_says_so(world, client):
    response = client.post(reverse("login"), {"username": "user_a", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_dashboard_lists_labs_consortia_and_headline_savings(world, client):
    run = seed_results(world.scenario)
    client.force_login(world.user_a)
    page = client.get(reverse("dashboard")).content.decode()
    headline = run.member_results.get(rule="shapley", lab_name="Lab A")
    assert "Lab A" in page and "Consortium C" in page
    assert f"${round(headline.savings):,}" in page
    assert f"{headline.savings_pct:.1f} %" in page
    assert reverse("simulations:member_report", args=[run.pk, world.lab_a.pk]) in page


def test_dashboard_without_results_says_what_happens_next(world, client):
    client.force_login(world.user_a)
    page = client.get(reverse("dashboard")).content.decode()
    assert "No savings to show yet" in page
    assert "once a coordinator runs a scenario" in page


def test_coordinator_dashboard_marks_the_consortia_they_run(world, client):
    client.force_login(world.coordinator)
    page = client.get(reverse("dashboard")).content.decode()
    assert "Coordinator" in page
    assert "You are not a user of any lab" in page


def test_empty_lab_page_invites_its_users_to_log_compute(world, client):
    client.force_login(world.user_a)
    page = client.get(world.lab_a.get_absolute_url()).content.decode()
    assert "No compute logged yet" in page
    assert "No artifacts yet" in page
    client.force_login(world.user_b)
    other = client.get(world.lab_a.get_absolute_url()).content.decode()
    assert "has not logged compute in a consortium you share" in other


def test_lab_page_hides_ledger_entries_of_consortia_the_viewer_cannot_see(world, client):
    f.MembershipFactory(consortium=world.other_consortium, lab=world.lab_a)
    f.ComputeContributionFactory(
        lab=world.lab_a, consortium=world.other_consortium, recorded_by=world.user_a, gpu_hours_delivered=777
    )
    client.force_login(world.user_b)
    assert "777 GPU-h" not in client.get(world.lab_a.get_absolute_url()).content.decode()
    client.force_login(world.user_a)
    assert "777 GPU-h" in client.get(world.lab_a.get_absolute_url()).content.decode()


def test_ledger_csv_lists_every_entry_with_its_links(world, client):
    original = f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium, recorded_by=world.user_a)
    f.ComputeContributionFactory(
        lab=world.lab_a,
        consortium=world.consortium,
        recorded_by=world.user_a,
        entry_type="reversal",
        reverses=original,
        gpu_hours_pledged=-10000,
        gpu_hours_delivered=-8000,
    )
    client.force_login(world.user_b)
    rows = rows_of(client.get(reverse("labs:ledger_csv", args=["lab-a"])))
    assert [row["entry_type"] for row in rows] == ["original", "reversal"]
    assert rows[1]["reverses_entry"] == str(original.pk)
    assert float(rows[0]["delivered_value_usd"]) == 8000 * 2.40


def test_consortium_page_shows_members_candidates_contributions_and_reuse(world, client):
    candidate = f.LabFactory(name="Lab Cand", slug="lab-cand")
    f.MembershipFactory(consortium=world.consortium, lab=candidate, status="candidate")
    f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium, recorded_by=world.user_a)
    artifact = f.ArtifactFactory(lab=world.lab_a, title="Shared corpus")
    f.ArtifactReuseFactory(artifact=artifact, reusing_lab=world.lab_b, gpu_hours_saved=20000)
    client.force_login(world.user_b)
    page = client.get(world.consortium.get_absolute_url()).content.decode()
    assert "Lab Cand" in page and "Candidate" in page
    assert 'id="chart-contributions"' in page
    assert "2026 Q1" in page
    assert "Shared corpus" in page
    assert "20,000 GPU-h" in page
    # Coordinators' controls are not shown to members.
    assert reverse("simulations:scenario_new", args=["c"]) not in page


def test_empty_consortium_page_says_what_to_do_next(world, client):
    client.force_login(world.coordinator)
    page = client.get(world.consortium.get_absolute_url()).content.decode()
    assert "No compute logged yet" in page
    assert "No reuse between member labs" in page
    assert reverse("simulations:scenario_new", args=["c"]) in page


def test_consortium_csvs_agree_with_the_ledger_selector(world, client):
    f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium, recorded_by=world.user_a)
    f.ComputeContributionFactory(
        lab=world.lab_b, consortium=world.consortium, recorded_by=world.user_b, gpu_hours_delivered=500
    )
    artifact = f.ArtifactFactory(lab=world.lab_a)
    f.ArtifactReuseFactory(artifact=artifact, reusing_lab=world.lab_b)
    client.force_login(world.coordinator)
    rows = rows_of(client.get(reverse("consortium:contributions_csv", args=["c"])))
    totals = contribution_totals(consortium=world.consortium, group_by=("quarter", "lab"))
    assert [float(row["gpu_hours_delivered"]) for row in rows] == [float(t["gpu_hours_delivered"]) for t in totals]
    assert {"quarter", "pledged_value_usd", "delivered_value_usd"} <= set(rows[0])
    reuse = rows_of(client.get(reverse("consortium:reuse_csv", args=["c"])))
    assert reuse[0]["reusing_lab"] == "Lab B" and reuse[0]["source_lab"] == "Lab A"
    artifacts = rows_of(client.get(reverse("consortium:artifacts_csv", args=["c"])))
    assert artifacts[0]["reuses_in_consortium"] == "1"


def test_scenario_page_without_runs_tells_the_coordinator_to_run_it(world, client):
    client.force_login(world.coordinator)
    page = client.get(world.scenario.get_absolute_url()).content.decode()
    assert "Not run yet" in page
    assert "Run simulation" in page


def test_compare_page_without_scenarios_explains_itself(world, client):
    world.scenario.delete()
    client.force_login(world.coordinator)
    assert "No scenarios yet" in client.get(reverse("simulations:compare", args=["c"])).content.decode()


def test_lab_artifact_and_reuse_csvs(world, client):
    artifact = f.ArtifactFactory(lab=world.lab_a, title="Corpus")
    f.ArtifactReuseFactory(artifact=artifact, reusing_lab=world.lab_b, gpu_hours_saved=1500)
    client.force_login(world.user_b)
    artifacts = rows_of(client.get(reverse("labs:artifacts_csv", args=["lab-a"])))
    assert artifacts[0]["title"] == "Corpus"
    assert "reproduction_gpu_hours" in artifacts[0]
    reuse = rows_of(client.get(reverse("labs:reuse_csv", args=["lab-b"])))
    assert reuse == [
        {
            "direction": "by_this_lab",
            "reused_on": "2026-03-01",
            "reusing_lab": "Lab B",
            "source_lab": "Lab A",
            "artifact": "Corpus",
            "gpu_hours_saved": "1500.00",
            "saving_exceeds_reason": "",
            "note": "",
        }
    ]


def test_dashboard_lists_recent_runs_of_visible_consortia_only(world, client):
    from tests.browser.seed import seed_results

    run = seed_results(world.scenario)
    hidden = seed_results(f.ScenarioFactory(consortium=world.other_consortium, labs=[world.lab_d, f.LabFactory()]))
    client.force_login(world.user_b)
    page = client.get(reverse("dashboard")).content.decode()
    assert run.get_absolute_url() in page
    assert hidden.get_absolute_url() not in page


def test_lab_page_lists_research_areas_in_the_engines_order(world, client):
    from simulations.engine import AREA_LABELS, AREAS

    world.lab_a.area_weights = dict.fromkeys(reversed(AREAS), 1 / 6)
    world.lab_a.save()
    client.force_login(world.user_a)
    page = client.get(world.lab_a.get_absolute_url()).content.decode()
    positions = [page.index(AREA_LABELS[area]) for area in AREAS]
    assert positions == sorted(positions)


def test_the_server_error_page_renders_without_a_request_context():
    from django.template.loader import render_to_string

    assert "Something went wrong on our side" in render_to_string("500.html")
