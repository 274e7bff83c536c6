"""The read path pages, CSV and API share: latest runs, stored results, dashboard savings."""

from __future__ import annotations

import pytest

from simulations import selectors, services

from .conftest import execute_in_process


@pytest.fixture
def finished(world, fake_broker):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=40)
    execute_in_process(run)
    return run


def test_latest_run_is_the_last_success_unless_any_run_is_asked_for(world, fake_broker, finished):
    queued = services.run_create(scenario=world.scenario, started_by=world.coordinator)
    assert selectors.latest_run_get(scenario=world.scenario) == finished
    assert selectors.latest_run_get(scenario=world.scenario, succeeded=False) == queued


def test_no_run_yet_gives_none(world):
    assert selectors.latest_run_get(scenario=world.scenario) is None


def test_results_follow_the_runs_rule_order_and_members_by_name(world, fake_broker):
    world.scenario.rules = ["proportional", "shapley", "equal"]
    world.scenario.save()
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=30)
    execute_in_process(run)
    world.scenario.rules = ["banzhaf"]
    world.scenario.save()

    results = selectors.run_results_get(run=run)
    assert results.rules == ["proportional", "shapley", "equal"]
    assert all([row.lab_name for row in results.members[rule]] == ["Lab A", "Lab B"] for rule in results.rules)
    assert set(results.stability) == set(results.rules)
    assert [row.year for row in results.years["Lab A"]] == [1]


@pytest.mark.parametrize(("role", "labs"), [("user_a", ["Lab A"]), ("user_b", ["Lab B"]), ("user_d", [])])
def test_member_savings_list_each_of_the_users_labs_under_the_runs_first_rule(world, finished, role, labs):
    lines = selectors.member_savings_get(user=getattr(world, role))
    assert [line.lab.name for line in lines] == labs
    for line in lines:
        assert (line.scenario, line.run, line.consortium) == (world.scenario, finished, world.consortium)
        assert line.result.rule == world.scenario.rules[0]
        assert line.result.lab == line.lab


def test_runs_are_visible_to_the_consortiums_people_only(world, finished):
    assert list(selectors.visible_runs(user=world.user_b)) == [finished]
    assert list(selectors.visible_runs(user=world.coordinator)) == [finished]
    assert list(selectors.visible_runs(user=world.user_d)) == []
    assert list(selectors.visible_runs(user=world.other_coordinator)) == []
