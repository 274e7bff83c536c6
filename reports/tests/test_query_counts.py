"""A report costs the same number of queries for a 5-member and a 50-member consortium."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories as f

pytestmark = pytest.mark.django_db

REPORTS = [
    ("savings", lambda c: {"scenario": c.scenario.pk}),
    ("savings", lambda c: {"scenario": c.scenario.pk, "format": "csv"}),
    ("comparison", lambda c: {"scenarios": f"{c.scenario.pk},{c.alternative.pk}"}),
    ("contributions", lambda c: {"group_by": "lab,period,gpu_type"}),
    ("reuse", lambda c: {"by": "owning_lab"}),
]


def build_consortium(size: int, make_run, make_key):
    """A consortium of `size` member labs, each with ledger entries, an artifact reused by the next
    lab, and two scenarios with a succeeded run each."""
    consortium = f.ConsortiumFactory(slug=f"size-{size}")
    labs = [f.LabFactory(name=f"Lab {size}-{i:02d}", slug=f"lab-{size}-{i}") for i in range(size)]
    recorder = f.UserFactory()
    for i, lab in enumerate(labs):
        f.MembershipFactory(consortium=consortium, lab=lab)
        f.ComputeContributionFactory(lab=lab, consortium=consortium, recorded_by=recorder)
        f.ComputeContributionFactory(lab=lab, consortium=consortium, recorded_by=recorder, gpu_type="A100")
        artifact = f.ArtifactFactory(lab=lab)
        f.ArtifactReuseFactory(artifact=artifact, reusing_lab=labs[(i + 1) % size])
    scenario = f.ScenarioFactory(consortium=consortium, labs=labs)
    alternative = f.ScenarioFactory(consortium=consortium, labs=labs[:-1])
    make_run(scenario, labs)
    make_run(alternative, labs[:-1])
    _, token = make_key(consortium)
    consortium.scenario, consortium.alternative, consortium.token = scenario, alternative, token
    return consortium


def count_queries(client, url: str, params: dict) -> tuple[int, int]:
    """Queries of a request with cold caches, then of the same request again."""
    client.get(url, params)  # the key's first use records last_used_at, once a minute at most
    caches["local"].clear()
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, params)
        assert response.status_code == 200, response.content
        counts.append(len(queries.captured_queries))
    return counts[0], counts[1]


@pytest.mark.parametrize(("report", "params"), REPORTS)
def test_queries_per_report_do_not_grow_with_the_consortium(make_run, make_key, key_client, report, params):
    counts = {}
    for size in (5, 50):
        consortium = build_consortium(size, make_run, make_key)
        url = f"/api/v1/consortia/{consortium.slug}/reports/{report}/"
        counts[size] = count_queries(key_client(consortium.token), url, params(consortium))
    assert counts[5] == counts[50], counts
    cold, warm = counts[50]
    assert cold <= 10 and warm <= cold, counts
