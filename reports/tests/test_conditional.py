"""ETag and Last-Modified on reports; 304 without a body when the client's copy is current."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.http import http_date

from tests import factories as f

pytestmark = pytest.mark.django_db

SAVINGS = "/api/v1/consortia/c/reports/savings/"


def test_savings_report_carries_validators_from_its_run(world, client_as, make_run):
    finished = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.UTC)
    make_run(world.scenario, [world.lab_a, world.lab_b], finished_at=finished)
    response = client_as("coordinator").get(SAVINGS, {"scenario": world.scenario.pk})
    assert response["ETag"].startswith('W/"')
    assert response["Last-Modified"] == "Sun, 01 Mar 2026 12:00:00 GMT"
    # no-store keeps the report out of any cache's storage; the validators still answer 304.
    assert {v.strip() for v in response["Cache-Control"].split(",")} == {"private", "no-cache", "no-store"}
    assert {"Accept", "Authorization", "Cookie"} <= {v.strip() for v in response["Vary"].split(",")}


def test_matching_etag_gets_304_without_body_in_at_most_five_queries(world, client_as, make_run):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    client = client_as("coordinator")
    etag = client.get(SAVINGS, {"scenario": world.scenario.pk})["ETag"]
    with CaptureQueriesContext(connection) as queries:
        response = client.get(SAVINGS, {"scenario": world.scenario.pk}, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    # session + user + consortium + visibility + scenario + latest run; no result rows are read.
    assert not any("simulations_memberresult" in q["sql"] for q in queries.captured_queries)


@pytest.mark.parametrize(
    "header",
    [
        lambda etag: {"HTTP_IF_NONE_MATCH": etag},
        lambda etag: {"HTTP_IF_NONE_MATCH": etag.removeprefix("W/")},
        lambda etag: {"HTTP_IF_NONE_MATCH": f'"other", {etag}'},
        lambda etag: {"HTTP_IF_NONE_MATCH": "*"},
    ],
)
def test_if_none_match_forms(world, client_as, make_run, header):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    client = client_as("coordinator")
    etag = client.get(SAVINGS, {"scenario": world.scenario.pk})["ETag"]
    assert client.get(SAVINGS, {"scenario": world.scenario.pk}, **header(etag)).status_code == 304


def test_if_modified_since_gets_304_until_a_newer_run_finishes(world, client_as, make_run):
    finished = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.UTC)
    make_run(world.scenario, [world.lab_a, world.lab_b], finished_at=finished)
    client = client_as("coordinator")
    since = http_date(finished.timestamp())
    assert client.get(SAVINGS, {"scenario": world.scenario.pk}, HTTP_IF_MODIFIED_SINCE=since).status_code == 304
    earlier = http_date((finished - datetime.timedelta(seconds=1)).timestamp())
    assert client.get(SAVINGS, {"scenario": world.scenario.pk}, HTTP_IF_MODIFIED_SINCE=earlier).status_code == 200
    make_run(world.scenario, [world.lab_a, world.lab_b], finished_at=finished + datetime.timedelta(hours=1))
    assert client.get(SAVINGS, {"scenario": world.scenario.pk}, HTTP_IF_MODIFIED_SINCE=since).status_code == 200


def test_etag_changes_with_a_new_run_the_rule_and_the_format(world, client_as, make_run):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    client = client_as("coordinator")
    params = {"scenario": world.scenario.pk}
    first = client.get(SAVINGS, params)["ETag"]
    assert client.get(SAVINGS, params | {"rule": "proportional"})["ETag"] != first
    assert client.get(SAVINGS, params | {"format": "csv"})["ETag"] != first
    make_run(world.scenario, [world.lab_a, world.lab_b])
    response = client.get(SAVINGS, params, HTTP_IF_NONE_MATCH=first)
    assert response.status_code == 200 and response["ETag"] != first


def test_contributions_etag_changes_when_the_ledger_grows(world, client_as):
    url = "/api/v1/consortia/c/reports/contributions/"
    client = client_as("coordinator")
    first = client.get(url)
    assert "Last-Modified" not in first
    f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium, recorded_by=world.user_a)
    second = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 200 and second.json()["count"] == 1
    assert "Last-Modified" in second
    assert client.get(url, HTTP_IF_NONE_MATCH=second["ETag"]).status_code == 304
    f.ComputeContributionFactory(lab=world.lab_d, consortium=world.other_consortium, recorded_by=world.user_d)
    assert client.get(url, HTTP_IF_NONE_MATCH=second["ETag"]).status_code == 304


def test_reuse_etag_changes_when_a_lab_leaves(world, client_as):
    url = "/api/v1/consortia/c/reports/reuse/"
    dataset = f.ArtifactFactory(lab=world.lab_a)
    f.ArtifactReuseFactory(artifact=dataset, reusing_lab=world.lab_b)
    client = client_as("coordinator")
    etag = client.get(url)["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    world.lab_b.consortium_memberships.update(left_on=datetime.date(2026, 6, 1))
    response = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200 and response.json()["results"] == []


def test_errors_carry_no_validators(world, client_as):
    response = client_as("coordinator").get(SAVINGS)
    assert response.status_code == 400
    assert "ETag" not in response


def test_a_repeated_report_is_answered_from_the_remembered_body(world, client_as, make_run):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    client = client_as("coordinator")
    first = client.get(SAVINGS, {"scenario": world.scenario.pk, "format": "csv"})
    with CaptureQueriesContext(connection) as queries:
        again = client.get(SAVINGS, {"scenario": world.scenario.pk, "format": "csv"})
    assert again.content == first.content
    assert again["Content-Type"] == first["Content-Type"]
    assert again["Content-Disposition"] == first["Content-Disposition"]
    assert again["ETag"] == first["ETag"]
    assert not any("simulations_memberresult" in q["sql"] for q in queries.captured_queries)
