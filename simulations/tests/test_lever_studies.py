"""Lever studies: who may start one, the cap they share with runs, the task, and what is stored."""

from __future__ import annotations

import psycopg.errors as pg
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import PermissionDenied, ValidationError

from simulations import engine, levers, services, tasks
from simulations.engine.levers import embargo_lever, largest_stable_coalition, overhead_lever
from simulations.models import LeverStudy
from tests import factories as f

from . import test_tasks
from .test_tasks import _database_error

closed_connections = test_tasks.closed_connections  # the fixture, shared with the run tasks' tests


@pytest.fixture
def study(world, fake_broker, settings):
    settings.LEVER_STUDY_DRAWS = 30
    return levers.lever_study_create(scenario=world.scenario, started_by=world.coordinator, target=0.8)


def test_coordinator_starts_a_queued_study_sent_to_the_workers_after_commit(world, fake_broker, settings):
    settings.LEVER_STUDY_DRAWS = 30
    with pytest.raises(ValidationError):  # nothing sent from a transaction that rolled back
        from django.db import transaction

        with transaction.atomic():
            levers.lever_study_create(scenario=world.scenario, started_by=world.coordinator)
            raise ValidationError("roll back")
    assert fake_broker.sent == []
    made = levers.lever_study_create(scenario=world.scenario, started_by=world.coordinator)
    assert (made.status, made.rule, made.target, made.draws) == ("queued", world.scenario.rules[0], 0.9, 30)
    assert [name for name, _ in fake_broker.sent] == []  # pytest-django's test transaction has not committed


@pytest.mark.django_db(transaction=True)
def test_a_committed_study_is_handed_to_the_broker(world, fake_broker):
    made = levers.lever_study_create(scenario=world.scenario, started_by=world.coordinator)
    assert fake_broker.sent == [("run_lever_study", (made.pk,))]


@pytest.mark.django_db(transaction=True)
def test_a_study_the_broker_cannot_take_fails_at_once_with_the_reason(world, fake_broker):
    fake_broker.down = True
    made = levers.lever_study_create(scenario=world.scenario, started_by=world.coordinator)
    made.refresh_from_db()
    assert made.status == "failed" and "task queue could not be reached" in made.error


@pytest.mark.parametrize("who", ["user_a", "user_b", "other_coordinator", "staff"])
def test_only_the_consortiums_coordinators_start_studies(world, fake_broker, who):
    with pytest.raises(PermissionDenied):
        levers.lever_study_create(scenario=world.scenario, started_by=getattr(world, who))
    assert not LeverStudy.objects.exists()


@pytest.mark.parametrize(("target", "ok"), [(0.5, True), (0.99, True), (0.49, False), (0.995, False), (1.0, False)])
def test_target_probability_must_lie_between_half_and_ninety_nine_percent(world, fake_broker, target, ok):
    if ok:
        assert levers.lever_study_create(scenario=world.scenario, started_by=world.coordinator, target=target)
    else:
        with pytest.raises(ValidationError, match=r"between 0\.5 and 0\.99"):
            levers.lever_study_create(scenario=world.scenario, started_by=world.coordinator, target=target)


def test_a_scenario_with_one_lab_or_archived_starts_no_study(world, fake_broker):
    single = f.ScenarioFactory(consortium=world.consortium, labs=[world.lab_a])
    with pytest.raises(ValidationError, match="at least two labs"):
        levers.lever_study_create(scenario=single, started_by=world.coordinator)
    world.scenario.archived_at = world.scenario.created_at
    world.scenario.save()
    with pytest.raises(ValidationError, match="archived"):
        levers.lever_study_create(scenario=world.scenario, started_by=world.coordinator)


def test_studies_and_runs_share_the_consortiums_cap_on_active_work(world, fake_broker, settings):
    settings.CONSORTIUM_MAX_ACTIVE_RUNS = 2
    services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=10)
    levers.lever_study_create(scenario=world.scenario, started_by=world.coordinator)
    with pytest.raises(services.ActiveRunLimitError, match="1 runs and 1 lever studies"):
        levers.lever_study_create(scenario=world.scenario, started_by=world.coordinator)
    with pytest.raises(services.ActiveRunLimitError, match="1 runs and 1 lever studies"):
        services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=10)


def test_executed_study_stores_the_engines_findings_for_the_snapshot(study):
    assert tasks.run_lever_study.run(study.pk) is None
    study.refresh_from_db()
    assert (study.status, study.progress, study.step, study.error) == ("succeeded", 1.0, "", "")
    assert study.started_at <= study.finished_at
    spec = engine.ScenarioSpec.from_dict(study.inputs["spec"])
    embargo = embargo_lever(spec, rule=study.rule, target=0.8, draws=30)
    overhead = overhead_lever(spec, rule=study.rule, target=0.8, draws=30)
    coalition = largest_stable_coalition(spec, rule=study.rule)
    assert study.results["embargo"]["value"] == embargo.value
    assert study.results["embargo"]["prob_at_value"] == embargo.prob_at_value
    assert study.results["overhead"]["value"] == overhead.value
    assert study.results["coalition"]["members"] == list(coalition.members)
    assert study.results["coalition"]["method"] == "exact"
    assert study.sentences == [embargo.sentence, overhead.sentence, coalition.sentence]
    assert "Lab A" in study.sentences[2] and "Lab B" in study.sentences[2]


def test_a_finished_study_is_not_computed_again(study, monkeypatch):
    tasks.run_lever_study.run(study.pk)
    monkeypatch.setattr(levers, "embargo_lever", lambda *a, **k: pytest.fail("computed twice"))
    assert levers.lever_study_execute(study_id=study.pk) is False


def test_progress_and_findings_so_far_are_stored_after_each_step(study, monkeypatch):
    seen = []
    real = levers.largest_stable_coalition

    def watching(spec, **kwargs):
        fresh = LeverStudy.objects.get(pk=study.pk)
        seen.append((fresh.status, fresh.progress, fresh.step, sorted(fresh.results)))
        return real(spec, **kwargs)

    monkeypatch.setattr(levers, "largest_stable_coalition", watching)
    tasks.run_lever_study.run(study.pk)
    assert seen == [("running", 0.9, "Searching the largest stable group of labs", ["embargo", "overhead"])]


@pytest.mark.parametrize(
    ("raised", "message"),
    [
        (SoftTimeLimitExceeded(), "The lever study exceeded the time limit of 600 s."),
        (RuntimeError("disk full"), "The lever study failed: RuntimeError: disk full"),
    ],
)
def test_study_that_overruns_or_crashes_fails_with_a_reason(study, monkeypatch, settings, raised, message):
    settings.SIMULATION_SOFT_TIME_LIMIT = 600

    def explode(*args, **kwargs):
        raise raised

    monkeypatch.setattr(levers, "overhead_lever", explode)
    tasks.run_lever_study.run(study.pk)
    study.refresh_from_db()
    assert study.status == "failed" and study.error.startswith(message)
    assert study.results.keys() == {"embargo"} and study.finished_at is not None


def test_transient_database_error_mid_study_retries_it_on_a_fresh_connection_and_the_retry_finishes_it(
    study, monkeypatch, closed_connections, settings
):
    settings.SIMULATION_RETRY_MAX = 2
    calls = []
    real = levers.overhead_lever

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # the study is running, its embargo already stored
            raise _database_error(cause=pg.QueryCanceled("canceling statement due to statement timeout"))
        return real(*args, **kwargs)

    monkeypatch.setattr(levers, "overhead_lever", flaky)
    tasks.run_lever_study.apply(args=(study.pk,))
    study.refresh_from_db()
    assert (study.status, len(calls), len(closed_connections)) == ("succeeded", 2, 1), study.error
    assert len(study.sentences) == 3


def test_a_study_fails_once_the_retry_budget_is_spent(study, monkeypatch, closed_connections, settings):
    settings.SIMULATION_RETRY_MAX = 1

    def broken(**kwargs):
        raise _database_error(cause=pg.QueryCanceled("canceling statement due to statement timeout"))

    monkeypatch.setattr(levers, "lever_study_execute", broken)
    tasks.run_lever_study.apply(args=(study.pk,))
    study.refresh_from_db()
    assert study.status == "failed"
    assert study.error == (
        "The lever study failed (the database error persisted through 1 retries): "
        "OperationalError: canceling statement due to statement timeout"
    )


# API ------------------------------------------------------------------------------------------------


def lever_url(scenario) -> str:
    return f"/api/v1/scenarios/{scenario.pk}/levers/"


@pytest.mark.parametrize("target", [0.3, 0.999, "many"])
def test_api_refuses_a_target_out_of_range_with_the_field_named(world, client_as, fake_broker, target):
    response = client_as("coordinator").post(lever_url(world.scenario), {"target": target}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and "target" in error["fields"]
    assert not LeverStudy.objects.exists()


def test_api_start_answers_202_with_the_study_and_429_over_the_cap(world, client_as, fake_broker, settings):
    settings.CONSORTIUM_MAX_ACTIVE_RUNS = 1
    client = client_as("coordinator")
    response = client.post(lever_url(world.scenario), {}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["target"], body["rule"], body["sentences"]) == ("queued", 0.9, "shapley", [])
    assert response["Location"] == body["url"] and body["url"].endswith(f"/api/v1/levers/{body['id']}/")
    refused = client.post(lever_url(world.scenario), {}, format="json")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_active_runs"


def test_api_reads_a_finished_study_with_its_findings(study, client_as):
    tasks.run_lever_study.run(study.pk)
    study.refresh_from_db()
    body = client_as("user_b").get(f"/api/v1/levers/{study.pk}/").json()
    assert (body["status"], body["progress"]) == ("succeeded", 1.0)
    assert body["sentences"] == study.sentences
    assert body["results"]["coalition"]["method"] == "exact"
    assert body["results"]["embargo"]["value"] == study.results["embargo"]["value"]
    listed = client_as("user_a").get(lever_url(study.scenario)).json()
    assert [row["id"] for row in listed["results"]] == [study.pk]
