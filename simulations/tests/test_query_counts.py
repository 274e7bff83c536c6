"""Pages that list scenarios read their latest runs and results in a fixed number of queries, however
many scenarios (and memberships) there are: no query per scenario."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from simulations import selectors
from simulations.models import MemberResult, SimulationRun
from tests import factories as f

pytestmark = pytest.mark.django_db

FIGURES = (
    "standalone_cost",
    "allocated_cost",
    "savings",
    "savings_pct",
    "savings_p10",
    "savings_p50",
    "savings_p90",
    "savings_pct_p10",
    "savings_pct_p50",
    "savings_pct_p90",
    "prob_saving",
    "settlement",
)


def add_scenarios(world, count: int) -> None:
    """`count` more scenarios of labs A and B, each with an older and a newer succeeded run (results
    under both rules) and a queued run."""
    now = timezone.now()
    for _ in range(count):
        scenario = f.ScenarioFactory(consortium=world.consortium, labs=[world.lab_a, world.lab_b])
        for age in (2, 1):
            run = SimulationRun.objects.create(
                scenario=scenario,
                status=SimulationRun.Status.SUCCEEDED,
                inputs={"spec": {"rules": ["proportional", "shapley"]}},
                seed=1,
                draws=10,
                finished_at=now - datetime.timedelta(hours=age),
            )
            MemberResult.objects.bulk_create(
                MemberResult(run=run, lab=lab, lab_name=lab.name, rule=rule, **dict.fromkeys(FIGURES, float(age)))
                for lab in (world.lab_a, world.lab_b)
                for rule in ("shapley", "proportional")
            )
        SimulationRun.objects.create(scenario=scenario, inputs={}, seed=1, draws=10)


def queries_for(action) -> int:
    with CaptureQueriesContext(connection) as captured:
        action()
    return len(captured)


@pytest.mark.parametrize(
    ("role", "url"), [("coordinator", "/consortia/c/"), ("user_a", "/consortia/c/"), ("user_a", "/dashboard/")]
)
def test_pages_listing_scenarios_use_as_many_queries_for_eight_scenarios_as_for_one(
    world, client_as, plain_static, django_assert_max_num_queries, role, url
):
    client = client_as(role)
    add_scenarios(world, 1)
    assert client.get(url).status_code == 200
    few = queries_for(lambda: client.get(url))
    add_scenarios(world, 7)
    with django_assert_max_num_queries(few):
        assert client.get(url).status_code == 200


def test_member_savings_use_four_queries_for_any_number_of_memberships_and_scenarios(
    world, django_assert_max_num_queries
):
    add_scenarios(world, 6)
    lab_c = f.LabFactory(name="Lab C", slug="lab-c")
    f.LabMemberFactory(lab=lab_c, user=world.user_a)
    f.MembershipFactory(consortium=world.consortium, lab=lab_c)
    f.ScenarioFactory(consortium=world.consortium, name="Only C", labs=[lab_c])
    with django_assert_max_num_queries(4 + 1):  # + the user's labs, if access reads them eagerly
        lines = selectors.member_savings_get(user=world.user_a)
    assert len(lines) == 6  # lab A's scenarios with a succeeded run; "All in" and lab C's have none
    for line in lines:
        assert line.run.finished_at == max(r.finished_at for r in line.scenario.runs.filter(status="succeeded"))
        # The run's first rule, not the scenario's: proportional, and the newer run's figures.
        assert (line.result.rule, line.result.lab, line.result.savings) == ("proportional", world.lab_a, 1.0)


def test_latest_runs_match_latest_run_for_each_scenario(world):
    add_scenarios(world, 3)
    scenarios = list(world.consortium.scenarios.all())
    for succeeded in (True, False):
        latest = selectors.latest_runs_get(scenarios=scenarios, succeeded=succeeded)
        expected = {s.pk: selectors.latest_run_get(scenario=s, succeeded=succeeded) for s in scenarios}
        assert latest == {pk: run for pk, run in expected.items() if run is not None}
