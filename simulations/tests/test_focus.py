"""The allocation export in FOCUS 1.3 columns: charges add back to c(N) to the cent, per rule."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from simulations import services
from simulations.focus import FOCUS_COLUMNS, cents_adding_up

from .conftest import execute_in_process


@pytest.fixture
def finished_run(world, fake_broker):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=60)
    execute_in_process(run)
    return run


def rows_of(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@given(st.lists(st.floats(min_value=0, max_value=1e12, allow_nan=False), min_size=1, max_size=30))
def test_cents_add_up_to_the_rounded_total(values):
    rounded, total = cents_adding_up(values)
    assert sum(rounded, Decimal(0)) == total
    assert all(abs(r - Decimal(repr(v))) < Decimal("0.01") for r, v in zip(rounded, values, strict=True))


def test_every_rules_charges_add_back_to_the_grand_coalitions_cost(world, client_as, finished_run):
    rows = rows_of(client_as("token").get(f"/api/v1/runs/{finished_run.pk}/focus/"))
    assert list(rows[0]) == FOCUS_COLUMNS
    by_rule: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_rule.setdefault(row["AllocatedMethodId"].split("/")[-1], []).append(row)
    assert set(by_rule) == set(world.scenario.rules)
    results = finished_run.member_results.all()
    totals = set()
    for rule, charges in by_rule.items():
        details = [json.loads(row["AllocatedMethodDetails"]) for row in charges]
        origin = {d["x_OriginChargeUsd"] for d in details}
        assert len(origin) == 1
        total = sum(Decimal(row["EffectiveCost"]) for row in charges)
        assert total == Decimal(origin.pop())
        exact = sum(r.allocated_cost for r in results if r.rule == rule)
        assert abs(float(total) - exact) < 0.01
        assert sum(e["AllocatedRatio"] for d in details for e in d["Elements"]) == pytest.approx(1.0, abs=1e-9)
        assert {row["AllocatedResourceName"] for row in charges} == {"Lab A", "Lab B"}
        assert all(row["BilledCost"] == row["EffectiveCost"] and row["BillingCurrency"] == "USD" for row in charges)
        totals.add(total)
    # Every rule splits the same c(N).
    assert len(totals) == 1


def test_the_web_download_matches_the_api(world, client, client_as, finished_run):
    client.force_login(world.user_a)
    web = rows_of(client.get(reverse("simulations:run_csv", args=[finished_run.pk, "focus"])))
    api = rows_of(client_as("token").get(f"/api/v1/runs/{finished_run.pk}/focus/"))
    assert web == api


@pytest.mark.parametrize(("role", "status"), [("token", 200), ("user_b", 200), ("user_d", 404), ("anonymous", 401)])
def test_focus_export_permissions(world, client_as, finished_run, role, status):
    response = client_as(role).get(f"/api/v1/runs/{finished_run.pk}/focus/")
    assert response.status_code == status
    if status != 200:
        assert response.json()["error"]["status"] == status


def test_an_unfinished_run_has_no_allocation_yet(world, client_as, fake_broker):
    run = services.run_create(scenario=world.scenario, started_by=world.coordinator, draws=60)
    response = client_as("user_a").get(f"/api/v1/runs/{run.pk}/focus/")
    assert response.status_code == 409
    assert "available once it has succeeded" in response.json()["error"]["message"]
