"""Fixtures for the report tests: stored run results without a worker, API keys, key clients."""

from __future__ import annotations

import datetime

import pytest
from django.core.cache import caches
from django.utils import timezone


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Throttle counters and remembered report bodies live in process-wide caches; each test
    starts with none."""
    for name in ("default", "local"):
        caches[name].clear()
    yield
    for name in ("default", "local"):
        caches[name].clear()


def results_for(lab, *, rule: str, index: int, rule_index: int = 0, shift: float = 0.0) -> dict:
    """Plausible, distinct figures for one member under one rule (money in US$)."""
    standalone = 1_000_000.0 * (index + 1)
    allocated = standalone * (0.6 + 0.05 * rule_index) - shift
    savings = standalone - allocated
    return {
        "lab": lab,
        "lab_name": lab.name,
        "rule": rule,
        "standalone_cost": standalone,
        "allocated_cost": allocated,
        "savings": savings,
        "savings_pct": savings / standalone * 100,
        "savings_p10": savings * 0.5,
        "savings_p50": savings,
        "savings_p90": savings * 1.5,
        "savings_pct_p10": savings / standalone * 50,
        "savings_pct_p50": savings / standalone * 100,
        "savings_pct_p90": savings / standalone * 150,
        "prob_saving": 0.9,
        "delivered_value": 100_000.0 * (index + 1),
        "settlement": allocated - 100_000.0 * (index + 1),
    }


@pytest.fixture
def make_run(db):
    """`make_run(scenario, labs, rules=..., status="succeeded", shift=0)` stores a run with results.

    Results are written directly, as the worker's service would, so report tests need no worker.
    `shift` lowers every allocated cost by that many US$ (to tell runs apart).
    """
    from simulations.models import MemberResult, SimulationRun, YearResult

    def make(scenario, labs, *, rules=("shapley", "proportional"), status="succeeded", shift=0.0, finished_at=None):
        now = timezone.now()
        succeeded = status == SimulationRun.Status.SUCCEEDED
        run = SimulationRun.objects.create(
            scenario=scenario,
            status=status,
            inputs={"spec": {"rules": list(rules)}},
            seed=scenario.seed,
            draws=scenario.draws,
            engine_version="test",
            chunks_total=1,
            chunks_done=1 if succeeded else 0,
            started_at=now - datetime.timedelta(seconds=5),
            finished_at=(finished_at or now) if succeeded else None,
        )
        ordered = sorted(labs, key=lambda lab: lab.name)
        MemberResult.objects.bulk_create(
            MemberResult(run=run, **results_for(lab, rule=rule, index=i, rule_index=r, shift=shift))
            for r, rule in enumerate(rules)
            for i, lab in enumerate(ordered)
        )
        YearResult.objects.bulk_create(
            YearResult(
                run=run,
                lab_name=lab.name,
                year=year,
                standalone_cost=1.0,
                consortium_cost=0.6,
                cumulative_savings=0.4 * year,
            )
            for lab in ordered
            for year in range(1, 4)
        )
        return run

    return make


@pytest.fixture
def make_key(db):
    """`make_key(consortium, **fields)` returns (ApiKey, token)."""
    from reports.services import api_key_create

    def make(consortium, *, name="dashboard", **fields):
        api_key, token = api_key_create(consortium=consortium, created_by=None, name=name)
        if fields:
            for field, value in fields.items():
                setattr(api_key, field, value)
            api_key.save()
        return api_key, token

    return make


@pytest.fixture
def key_client():
    """`key_client(token)`: an APIClient sending `Authorization: Api-Key <token>`."""
    from rest_framework.test import APIClient

    def make(token: str):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {token}")
        return client

    return make
