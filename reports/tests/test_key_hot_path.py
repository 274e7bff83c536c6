"""The savings report read with an API key: the key and the scenario's latest succeeded run come
from one query, and that shortcut answers exactly what the two separate lookups answered."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reports.models import ApiKey

pytestmark = pytest.mark.django_db

SAVINGS = "/api/v1/consortia/{slug}/reports/savings/"


def savings(client, slug: str = "c", **params):  # type: ignore[no-untyped-def]
    return client.get(SAVINGS.format(slug=slug), params)


def test_a_repeated_key_request_costs_one_query(world, make_run, make_key, key_client):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    _, token = make_key(world.consortium)
    reader = key_client(token)
    assert savings(reader, scenario=world.scenario.pk).status_code == 200  # records last_used_at
    with CaptureQueriesContext(connection) as queries:
        response = savings(reader, scenario=world.scenario.pk)
    assert response.status_code == 200
    assert len(queries.captured_queries) == 1, [query["sql"] for query in queries.captured_queries]


def test_a_new_succeeded_run_shows_up_at_once_and_unfinished_ones_do_not(world, make_run, make_key, key_client):
    first = make_run(world.scenario, [world.lab_a, world.lab_b])
    _, token = make_key(world.consortium)
    reader = key_client(token)
    assert savings(reader, scenario=world.scenario.pk).json()["run"] == first.pk
    make_run(world.scenario, [world.lab_a, world.lab_b], status="running")
    assert savings(reader, scenario=world.scenario.pk).json()["run"] == first.pk
    newer = make_run(world.scenario, [world.lab_a, world.lab_b], shift=1000.0)
    response = savings(reader, scenario=world.scenario.pk)
    assert response.json()["run"] == newer.pk
    assert response.json()["run_finished_at"] is not None
    assert response["Last-Modified"]


@pytest.mark.parametrize(
    ("slug", "scenario", "status", "message"),
    [
        ("c", "other", 404, "no scenario"),  # the other consortium's scenario through the key's own slug
        ("c", "missing", 404, "no scenario"),
        ("c", "no-run", 404, "has no succeeded run yet"),
        ("d", "own", 403, "reads consortium 'c' only"),
    ],
)
def test_the_one_query_path_refuses_what_the_separate_lookups_refused(
    world, make_run, make_key, key_client, slug, scenario, status, message
):
    from tests import factories as f

    make_run(world.scenario, [world.lab_a, world.lab_b])
    other = f.ScenarioFactory(consortium=world.other_consortium, labs=[world.lab_d])
    make_run(other, [world.lab_d])
    empty = f.ScenarioFactory(consortium=world.consortium, labs=[world.lab_a])
    ids = {"own": world.scenario.pk, "other": other.pk, "missing": other.pk + 1000, "no-run": empty.pk}
    _, token = make_key(world.consortium)
    response = savings(key_client(token), slug, scenario=ids[scenario])
    assert response.status_code == status
    assert message in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"revoked_at": datetime.timedelta(0)}, "This API key has been revoked."),
        ({"expires_at": -datetime.timedelta(seconds=1)}, "This API key has expired."),
    ],
)
def test_a_key_revoked_or_expired_after_use_fails_on_its_next_request(
    world, make_run, make_key, key_client, change, message
):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    api_key, token = make_key(world.consortium)
    reader = key_client(token)
    assert savings(reader, scenario=world.scenario.pk).status_code == 200
    ApiKey.objects.filter(pk=api_key.pk).update(**{name: timezone.now() + delta for name, delta in change.items()})
    response = savings(reader, scenario=world.scenario.pk)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == message


def test_credentials_are_judged_before_parameters(world, make_key, key_client):
    _, token = make_key(world.consortium)
    prefix = token.split(".")[0]
    wrong = key_client(f"{prefix}.not-the-secret")
    assert savings(wrong, scenario="x").status_code == 401
    assert savings(wrong, scenario=world.scenario.pk).status_code == 401
    response = savings(key_client(token), scenario="x")
    assert response.status_code == 400
    assert "scenario" in response.json()["error"]["fields"]
    # Remembered validation answers a repeated parameter set the same way.
    assert savings(key_client(token), scenario="x").status_code == 400


def test_a_chosen_run_is_still_looked_up_on_its_own(world, make_run, make_key, key_client):
    first = make_run(world.scenario, [world.lab_a, world.lab_b])
    make_run(world.scenario, [world.lab_a, world.lab_b], shift=1000.0)
    _, token = make_key(world.consortium)
    response = savings(key_client(token), scenario=world.scenario.pk, run=first.pk)
    assert response.status_code == 200
    assert response.json()["run"] == first.pk
