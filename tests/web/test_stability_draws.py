"""Stability in every draw, as stored, shown and downloaded: the results page's panel and chart data,
the member report's own risk, the results API and the stability CSV all carry the engine's figures."""

import csv
import html
import io
import json
import re

import numpy as np
import pytest
from django.urls import reverse

from simulations import engine, selectors, services
from simulations.models import SimulationRun
from simulations.tests.conftest import execute_in_process
from tests import factories as f

pytestmark = pytest.mark.django_db

RULES = ["shapley", "equal", "nucleolus"]


@pytest.fixture
def unstable(world, fake_broker):
    """Four labs of very different sizes under rules of which one (equal split) often blocks."""
    labs = [world.lab_a, world.lab_b]
    for name, hours in (("Lab Small", 150_000), ("Lab Huge", 6_000_000)):
        lab = f.LabFactory(name=name, slug=name.lower().replace(" ", "-"), final_run_gpu_hours=hours)
        f.MembershipFactory(consortium=world.consortium, lab=lab)
        labs.append(lab)
    scenario = f.ScenarioFactory(consortium=world.consortium, name="Four", labs=labs, rules=RULES, draws=40)
    run = services.run_create(scenario=scenario, started_by=world.coordinator, draws=40)
    execute_in_process(run)
    assert run.status == SimulationRun.Status.SUCCEEDED, run.error
    return run


def page_of(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    # Figures keep their units on one line in a nowrap span; read the text as a person does.
    return html.unescape(re.sub(r"<span class=\"nowrap\">([^<]*)</span>", r"\1", response.content.decode()))


def test_stored_figures_are_the_engines_own(unstable):
    """What the run stores per rule equals a fresh engine run of the run's own snapshot."""
    result = engine.run_scenario(engine.ScenarioSpec.from_dict(unstable.inputs["spec"]))
    stored = selectors.run_results_get(run=unstable)
    for rule in RULES:
        expected = result.rules[rule].draw_stability
        row = stored.stability[rule]
        assert row.draws_checked == 40
        assert row.prob_in_core == pytest.approx(expected.prob_in_core)
        assert row.prob_in_core_stderr == pytest.approx(expected.prob_in_core_stderr)
        assert row.prob_core_nonempty == pytest.approx(expected.prob_core_nonempty)
        assert row.max_excess_p50 == pytest.approx(expected.max_excess_p50)
        assert row.least_core_epsilon_p90 == pytest.approx(expected.least_core_epsilon_p90)
        assert [g["members"] for g in row.blocking_draws] == [list(g.members) for g in expected.blocking]
        for member, line in zip(result.rules[rule].members, stored.members[rule], strict=True):
            assert line.prob_above_outside == pytest.approx(member.prob_above_outside)
    assert stored.stability["equal"].prob_in_core < 1.0
    assert stored.stability["equal"].blocking_draws


def test_results_page_shows_the_share_of_draws_in_the_core_and_names_the_blocking_labs(world, client, unstable):
    client.force_login(world.user_a)
    page = page_of(client, unstable.get_absolute_url())
    equal = selectors.run_results_get(run=unstable).stability["equal"]
    assert f"in the core in {100 * equal.prob_in_core:.1f} % of 40 draws" in page
    first = equal.blocking_draws[0]
    sentence = f"{' + '.join(first['members'])} would rather leave in {100 * first['share']:.1f} % of draws"
    assert sentence in re.sub(r"<[^>]+>", "", page)
    lab_names = {"Lab A", "Lab B", "Lab Small", "Lab Huge"}
    assert set(first["members"]) <= lab_names
    data = json.loads(re.search(r'<script id="data-stability" type="application/json">(.*?)</script>', page).group(1))
    assert data["labels"] == ["Shapley value", "Equal split", "Nucleolus"]
    assert data["prob_in_core"][1] == round(100 * equal.prob_in_core, 2)
    assert data["draws"] == 40
    assert '<canvas id="chart-stability"' in page


def test_member_report_shows_the_members_own_risk(world, client, unstable):
    client.force_login(world.user_a)
    line = next(r for r in selectors.run_results_get(run=unstable).members["equal"] if r.lab_name == "Lab A")
    url = reverse("simulations:member_report", args=[unstable.pk, world.lab_a.pk])
    page = re.sub(r"<[^>]+>", "", page_of(client, url))
    assert "Risk that Lab A would rather leave" in page
    assert f"Equal split: pays more than leaving in {100 * line.prob_above_outside:.1f} % of draws" in page


def test_results_api_and_csv_carry_the_draw_figures(world, client, unstable):
    client.force_login(world.user_a)
    body = client.get(f"/api/v1/runs/{unstable.pk}/results/").json()
    equal = next(block for block in body["rules"] if block["rule"] == "equal")
    stored = selectors.run_results_get(run=unstable).stability["equal"]
    assert equal["stability"]["prob_in_core"] == pytest.approx(stored.prob_in_core)
    assert equal["stability"]["blocking_draws"][0]["members"] == stored.blocking_draws[0]["members"]
    assert {"share", "share_stderr", "gain_p50", "gain_max"} <= set(equal["stability"]["blocking_draws"][0])
    assert "prob_above_outside_stderr" in equal["members"][0]
    response = client.get(reverse("simulations:run_csv", args=[unstable.pk, "stability"]))
    assert response.status_code == 200
    rows = {row["rule"]: row for row in csv.DictReader(io.StringIO(response.content.decode()))}
    assert float(rows["equal"]["prob_in_core"]) == pytest.approx(stored.prob_in_core, abs=1e-4)
    assert " + ".join(stored.blocking_draws[0]["members"]) in rows["equal"]["blocking_most_often"]


def test_runs_without_draw_checks_show_no_draw_panel(world, client):
    """Rows of earlier engines have no per-draw figures: the panel and the chart are left out."""
    from tests.browser.seed import seed_results

    run = seed_results(world.scenario)
    client.force_login(world.user_a)
    page = page_of(client, run.get_absolute_url())
    assert "Over the draws" not in page and "chart-stability" not in page
    response = client.get(reverse("simulations:run_csv", args=[run.pk, "stability"]))
    row = next(csv.DictReader(io.StringIO(response.content.decode())))
    assert row["prob_in_core"] == "" and row["blocking_most_often"] == ""


@pytest.mark.parametrize(
    ("version", "draws", "expected"),
    [("2.1.0", 100, True), ("2.10.3", 1, True), ("2.0.0", 100, False), ("1.0.0", 100, False), ("2.1.0", 0, False)],
)
def test_runs_say_whether_their_engine_checks_every_draw(version, draws, expected):
    assert SimulationRun(engine_version=version, draws=draws).checks_every_draw is expected


def test_a_run_too_large_for_the_draw_check_says_so(world, client):
    """An engine 2.1.0 run without per-draw figures (more than 20 labs) explains why the panel is missing."""
    from tests.browser.seed import seed_results

    run = seed_results(world.scenario)
    SimulationRun.objects.filter(pk=run.pk).update(engine_version="2.1.0")
    client.force_login(world.user_a)
    page = page_of(client, run.get_absolute_url())
    assert "Stability is checked in every draw for runs of up to 20 labs; this run has more" in page


def test_a_run_of_more_than_20_labs_says_how_many_draws_were_checked_and_how(world, client):
    """Beyond 20 labs only some of the run's draws are checked by separation: the results page and
    the member report say how many of the run's draws, and the method, as the engine stored them."""
    from simulations.engine.drawstability import summarize_separated
    from simulations.models import MemberResult, StabilityResult
    from tests.browser.seed import seed_results

    run = seed_results(world.scenario)
    SimulationRun.objects.filter(pk=run.pk).update(engine_version="2.1.0", draws=1000)
    run.refresh_from_db()
    players = [lab.name for lab in world.scenario.labs.order_by("name")]
    figures = summarize_separated(
        players,
        1000,
        np.array([5.0, -1.0, 2.0, 3.0]),
        np.array([False, True, False, False]),
        np.array([True, False, True, True]),
        [(0b11,), (), (0b11,), (0b01,)],
        np.array([[5.0] + [np.nan] * 7, [np.nan] * 8, [2.0] + [np.nan] * 7, [3.0] + [np.nan] * 7]),
        np.array([1.0, -2.0, 0.5, 0.2]),
        np.array([np.inf, -1.0, 0.7, 0.3]),
        np.full(4, 1e-3),
        np.ones(4, dtype=bool),
    )
    fields = services._draw_stability_fields(figures)
    assert len(fields["draws_method"]) <= StabilityResult._meta.get_field("draws_method").max_length
    StabilityResult.objects.filter(run=run).update(**fields)
    MemberResult.objects.filter(run=run).update(prob_above_outside=0.25, prob_above_outside_stderr=0.2)
    client.force_login(world.user_a)
    page = re.sub(r"<[^>]+>", "", page_of(client, run.get_absolute_url()))
    assert "In the core over 4 draws (of the run's 1,000)" in page
    assert "in the core in 25.0 % of 4 draws" in page
    assert (
        "4 of 1,000 draws (one in 250) checked by exact separation (HiGHS MILP over all coalitions); "
        "1 undecided (time limit), counted in the core." in page
    )
    assert f"{players[0]} + {players[1]} would rather leave in 50.0 % of draws" in page
    lab = world.scenario.labs.order_by("name").first()
    report = re.sub(r"<[^>]+>", "", page_of(client, reverse("simulations:member_report", args=[run.pk, lab.pk])))
    assert "The split is in the core in 25.0 % of the 4 draws checked (of the run's 1,000)." in report
