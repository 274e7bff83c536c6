"""On PostgreSQL the report endpoints' fixed lookups (reports/rows.py) run as prepared statements:
planned once per connection, counted and logged like any query, and switched off by setting."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import require_service
from reports import rows

pytestmark = pytest.mark.django_db

SAVINGS = "/api/v1/consortia/c/reports/savings/"


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        require_service("postgresql", "prepared statements are PostgreSQL's (set DATABASE_URL)")


def prepared_key_lookups() -> list[tuple[str, int]]:
    """The prepared statements of this connection that read API keys, with how often each ran."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s AND statement NOT LIKE %s",
            ["%reports_apikey%", "%pg_prepared_statements%"],
        )
        return cursor.fetchall()


@pytest.fixture
def reader(world, make_run, make_key, key_client):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    _, token = make_key(world.consortium)
    return key_client(token)


def test_the_key_and_run_lookup_is_prepared_once_and_reused(postgresql, world, reader):
    assert rows.prepares(connection)
    answers = [reader.get(SAVINGS, {"scenario": world.scenario.pk}) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    (statement, executions), *others = prepared_key_lookups()
    assert others == []
    assert "simulations_simulationrun" in statement and "$1" in statement
    assert executions == 3


def test_with_prepared_statements_off_the_same_answer_comes_unprepared(postgresql, world, reader, monkeypatch):
    prepared = reader.get(SAVINGS, {"scenario": world.scenario.pk}).json()
    [(_, executions)] = prepared_key_lookups()
    options = {key: value for key, value in connection.settings_dict["OPTIONS"].items() if key != "prepare_threshold"}
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    assert not rows.prepares(connection)
    unprepared = reader.get(SAVINGS, {"scenario": world.scenario.pk}).json()
    assert unprepared == prepared
    assert prepared_key_lookups() == [(prepared_key_lookups()[0][0], executions)]  # not run again


def test_prepared_lookups_are_counted_and_logged_with_their_sql(world, reader):
    reader.get(SAVINGS, {"scenario": world.scenario.pk})  # records last_used_at
    with CaptureQueriesContext(connection) as queries:
        assert reader.get(SAVINGS, {"scenario": world.scenario.pk}).status_code == 200
    [query] = queries.captured_queries
    assert '"reports_apikey"' in query["sql"]
    assert float(query["time"]) >= 0


@pytest.mark.parametrize(
    ("vendor", "options", "expected"),
    [("postgresql", {"prepare_threshold": 5}, True), ("postgresql", {}, False), ("sqlite", {}, False)],
)
def test_only_postgresql_with_the_option_prepares(vendor, options, expected):
    assert rows.prepares(SimpleNamespace(vendor=vendor, settings_dict={"OPTIONS": options})) is expected


@pytest.mark.parametrize("prefix", ["é" * 40, "ABCDEF", "a" * 17, "x" * 5000])
def test_odd_prefixes_are_refused_not_crashed_on(world, reader, key_client, prefix):
    response = key_client(f"{prefix}.secret").get(SAVINGS, {"scenario": world.scenario.pk})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


@pytest.mark.django_db(transaction=True)
def test_a_column_changed_by_another_process_costs_a_reconnect_not_an_error(postgresql, world, reader):
    """After a migration elsewhere changes a selected column, PostgreSQL refuses the statement this
    connection prepared before; the lookup starts again on a new connection."""
    import psycopg

    assert reader.get(SAVINGS, {"scenario": world.scenario.pk}).status_code == 200
    assert prepared_key_lookups()
    before = connection.connection
    settings = connection.settings_dict
    other = psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
        autocommit=True,
    )
    try:
        other.execute("ALTER TABLE reports_apikey ALTER COLUMN name TYPE varchar(101)")
        response = reader.get(SAVINGS, {"scenario": world.scenario.pk})
        assert response.status_code == 200, response.content
        assert response.json()["count"] == 2
        assert connection.connection is not before
    finally:
        connection.close()  # nothing of this connection's may hold the table
        other.execute("ALTER TABLE reports_apikey ALTER COLUMN name TYPE varchar(100)")
        other.close()
