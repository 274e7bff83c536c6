"""Openness measured from a lab's artifacts, and the reuse the ledger records, over a window."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labs.models import Artifact
from labs.selectors import OPENNESS_WEIGHTS, evidence_window, lab_evidence_get, months_before
from tests import factories as f

pytestmark = pytest.mark.django_db

START, END = datetime.date(2025, 1, 1), datetime.date(2026, 12, 31)
OPEN, PARTIAL, FORK = Artifact.Openness.OPEN, Artifact.Openness.PARTIAL, Artifact.Openness.INTERNAL_FORK


def artifact(lab, openness, hours, released=datetime.date(2026, 2, 1)):
    return f.ArtifactFactory(lab=lab, openness=openness, reproduction_gpu_hours=Decimal(hours), release_date=released)


def evidence_of(lab, start=START, end=END):
    return lab_evidence_get(labs=[lab], start=start, end=end)[lab.pk]


def test_all_open_artifacts_measure_openness_one(world):
    artifact(world.lab_a, OPEN, 1000)
    artifact(world.lab_a, OPEN, 3000)
    evidence = evidence_of(world.lab_a)
    assert evidence.measured_openness == 1.0
    assert (evidence.artifacts, evidence.reproduction_gpu_hours) == (2, 4000.0)


def test_all_internal_forks_measure_openness_zero_not_no_evidence(world):
    artifact(world.lab_a, FORK, 1000)
    artifact(world.lab_a, FORK, 2000)
    evidence = evidence_of(world.lab_a)
    assert evidence.measured_openness == 0.0
    assert evidence.has_evidence


def test_mixed_artifacts_weigh_openness_by_reproduction_gpu_hours(world):
    artifact(world.lab_a, OPEN, 6000)
    artifact(world.lab_a, PARTIAL, 2000)
    artifact(world.lab_a, FORK, 2000)
    # (6000 x 1 + 2000 x 0.5 + 2000 x 0) / 10000
    assert evidence_of(world.lab_a).measured_openness == pytest.approx(0.7)
    assert OPENNESS_WEIGHTS == {OPEN: 1.0, PARTIAL: 0.5, FORK: 0.0}


def test_no_artifacts_logged_is_no_evidence_not_zero(world):
    evidence = evidence_of(world.lab_a)
    assert evidence.measured_openness is None
    assert not evidence.has_evidence
    assert evidence.artifacts == 0


def test_artifacts_that_cost_nothing_to_reproduce_are_no_evidence(world):
    artifact(world.lab_a, OPEN, 0)
    evidence = evidence_of(world.lab_a)
    assert evidence.artifacts == 1 and evidence.measured_openness is None


def test_the_window_keeps_only_artifacts_released_in_it(world):
    artifact(world.lab_a, OPEN, 1000, released=datetime.date(2026, 6, 1))
    artifact(world.lab_a, FORK, 1000, released=datetime.date(2024, 12, 31))  # before the window
    artifact(world.lab_a, FORK, 1000, released=datetime.date(2027, 1, 1))  # after it
    assert evidence_of(world.lab_a).measured_openness == 1.0
    assert evidence_of(world.lab_a, start=datetime.date(2024, 1, 1)).measured_openness == 0.5
    # Both ends of the window count.
    assert evidence_of(world.lab_a, start=datetime.date(2026, 6, 1), end=datetime.date(2026, 6, 1)).artifacts == 1
    assert evidence_of(world.lab_a, start=datetime.date(2026, 6, 2)).measured_openness is None


def test_reuse_counts_other_labs_in_the_window_both_ways(world):
    old = artifact(world.lab_a, OPEN, 50000, released=datetime.date(2024, 1, 1))
    mine = artifact(world.lab_a, OPEN, 50000)
    theirs = artifact(world.lab_b, OPEN, 50000)
    f.ArtifactReuseFactory(
        artifact=old, reusing_lab=world.lab_b, reused_on=datetime.date(2025, 3, 1), gpu_hours_saved=100
    )
    f.ArtifactReuseFactory(
        artifact=mine, reusing_lab=world.lab_d, reused_on=datetime.date(2026, 3, 1), gpu_hours_saved=30
    )
    f.ArtifactReuseFactory(
        artifact=mine, reusing_lab=world.lab_b, reused_on=datetime.date(2024, 3, 1), gpu_hours_saved=999
    )
    f.ArtifactReuseFactory(
        artifact=theirs, reusing_lab=world.lab_a, reused_on=datetime.date(2026, 3, 1), gpu_hours_saved=7
    )
    found = lab_evidence_get(labs=[world.lab_a, world.lab_b], start=START, end=END)

    # An artifact released before the window still counts when it is reused in it; a reuse before it does not.
    assert found[world.lab_a.pk].reuse_of_its_work == 130.0
    assert found[world.lab_a.pk].reuse_by_it == 7.0
    assert found[world.lab_b.pk].reuse_of_its_work == 7.0
    assert found[world.lab_b.pk].reuse_by_it == 100.0


def test_reuse_limited_to_labs_a_reader_may_see(world):
    from labs.models import Lab

    mine = artifact(world.lab_a, OPEN, 50000)
    f.ArtifactReuseFactory(
        artifact=mine, reusing_lab=world.lab_d, reused_on=datetime.date(2026, 3, 1), gpu_hours_saved=30
    )
    f.ArtifactReuseFactory(
        artifact=mine, reusing_lab=world.lab_b, reused_on=datetime.date(2026, 3, 1), gpu_hours_saved=5
    )
    seen = Lab.objects.filter(pk__in=[world.lab_a.pk, world.lab_b.pk])
    found = lab_evidence_get(labs=[world.lab_a], start=START, end=END, reusing_labs=seen)
    assert found[world.lab_a.pk].reuse_of_its_work == 5.0


def test_evidence_for_many_labs_takes_two_queries(world):
    labs = [f.LabFactory() for _ in range(12)]
    for lab in labs:
        artifact(lab, PARTIAL, 100)
        f.ArtifactReuseFactory(
            artifact=artifact(lab, OPEN, 100), reusing_lab=world.lab_a, reused_on=datetime.date(2026, 3, 1)
        )
    with CaptureQueriesContext(connection) as captured:
        found = lab_evidence_get(labs=labs, start=START, end=END)
    assert len(captured) == 2
    assert all(found[lab.pk].measured_openness == 0.75 for lab in labs)
    assert all(found[lab.pk].reuse_of_its_work == 20000.0 for lab in labs)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (datetime.date(2026, 12, 2), 24, datetime.date(2024, 12, 2)),
        (datetime.date(2026, 3, 31), 1, datetime.date(2026, 2, 28)),
        (datetime.date(2024, 3, 31), 1, datetime.date(2024, 2, 29)),
        (datetime.date(2026, 1, 15), 13, datetime.date(2024, 12, 15)),
    ],
)
def test_months_before(day, months, expected):
    assert months_before(day, months) == expected
    assert evidence_window(months, today=day) == (expected, day)
