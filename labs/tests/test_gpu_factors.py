"""GPU types in H100-equivalents: a lab's throughput factor, ledger entries converted, and the totals."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from labs import services
from labs.models import ComputeContribution, Lab
from labs.selectors import contribution_totals
from simulations.engine import GPU_TYPES
from tests import factories as f

A100 = 312 / 989


def lab(**fields) -> Lab:
    return Lab(**{"name": "Lab X", "slug": "lab-x", "kind": "academic", "final_run_gpu_hours": 1_000_000} | fields)


@pytest.mark.parametrize(
    ("gpu_type", "factor", "expected"),
    [
        ("H100", None, 1.0),
        ("H800", None, 1.0),
        ("H200", None, 1.0),
        ("A100", None, A100),
        ("A100", 0.4, 0.4),
        ("other", 2.5, 2.5),
        ("other", None, None),
    ],
)
def test_lab_factor_is_its_own_else_the_datasheets(gpu_type, factor, expected):
    subject = lab(gpu_type=gpu_type, throughput_factor=factor)
    assert subject.h100_factor == (pytest.approx(expected) if expected else expected)


def test_lab_final_run_in_h100_equivalents_names_its_source():
    subject = lab(gpu_type="A100", final_run_gpu_hours=2_800_000)
    assert subject.final_run_h100_gpu_hours == pytest.approx(2_800_000 * A100)
    assert subject.h100_factor_source == GPU_TYPES["A100"].source
    subject.throughput_factor = 0.35
    assert subject.final_run_h100_gpu_hours == pytest.approx(980_000)
    assert subject.h100_factor_source == "The lab's own throughput factor."


@pytest.mark.django_db
def test_other_gpu_type_needs_a_throughput_factor():
    with pytest.raises(ValidationError) as error:
        lab(gpu_type="other").full_clean()
    assert "give the lab's throughput factor" in error.value.message_dict["throughput_factor"][0]
    lab(gpu_type="other", throughput_factor=1.7).full_clean()


@pytest.mark.django_db
@pytest.mark.parametrize(("factor", "message"), [(0.001, "greater than or equal to 0.01"), (101, "less than or")])
def test_throughput_factor_outside_its_range_is_refused(factor, message):
    with pytest.raises(ValidationError) as error:
        lab(gpu_type="other", throughput_factor=factor).full_clean()
    assert message in error.value.message_dict["throughput_factor"][0]


@pytest.mark.django_db
def test_a_listed_gpu_type_may_override_its_datasheet_factor():
    lab(gpu_type="H100", throughput_factor=0.9).full_clean()
    lab(gpu_type="H100").full_clean()


@pytest.mark.parametrize(
    ("gpu_type", "lab_factor", "delivered", "expected"),
    [
        ("H100", None, "1000", 1000.0),
        ("A100", None, "989", 312.0),
        # A listed type counts at its datasheet factor whatever the lab's own factor says.
        ("A100", 0.9, "989", 312.0),
        ("other", 2.0, "1000", 2000.0),
        ("other", 2.0, "-1000", -2000.0),
        ("other", None, "1000", None),
    ],
)
def test_entry_delivered_in_h100_equivalents(gpu_type, lab_factor, delivered, expected):
    entry = ComputeContribution(
        lab=lab(throughput_factor=lab_factor), gpu_type=gpu_type, gpu_hours_delivered=Decimal(delivered)
    )
    assert entry.h100_gpu_hours_delivered == (pytest.approx(expected) if expected else expected)


def record(world, lab, **fields):
    values = {
        "lab": lab,
        "consortium": world.consortium,
        "recorded_by": world.user_a,
        "period_start": datetime.date(2026, 1, 1),
        "period_end": datetime.date(2026, 3, 31),
        "gpu_type": "H100",
        "gpu_hours_pledged": Decimal("10000"),
        "gpu_hours_delivered": Decimal("1000"),
        "price_per_gpu_hour": Decimal("2.40"),
    }
    return services.contribution_record(**(values | fields))


def test_an_entry_on_other_gpus_needs_the_labs_factor(world):
    with pytest.raises(ValidationError) as error:
        record(world, world.lab_a, gpu_type="other")
    assert "set Lab A's throughput factor" in error.value.message_dict["gpu_type"][0]
    assert not ComputeContribution.objects.exists()
    world.lab_a.throughput_factor = 0.5
    world.lab_a.save()
    assert record(world, world.lab_a, gpu_type="other").h100_gpu_hours_delivered == pytest.approx(500)


def test_a_lab_with_entries_on_other_gpus_keeps_its_factor(world):
    world.lab_a.throughput_factor = 0.5
    world.lab_a.save()
    record(world, world.lab_a, gpu_type="other")
    world.lab_a.throughput_factor = None
    with pytest.raises(ValidationError) as error:
        world.lab_a.full_clean()
    assert "cannot be removed" in error.value.message_dict["throughput_factor"][0]


def test_an_entry_on_other_gpus_can_be_reversed_without_a_factor(world):
    """A reversal only cancels: a lab that lost its factor (an entry from before factors) can still correct."""
    entry = f.ComputeContributionFactory(
        lab=world.lab_a, consortium=world.consortium, gpu_type="other", recorded_by=world.user_a
    )
    reversal, replacement = services.contribution_correct(original=entry, recorded_by=world.user_a, reason="Typo")
    assert (reversal.entry_type, replacement) == ("reversal", None)


def test_totals_give_delivered_h100_equivalent_hours_per_lab(world):
    world.lab_b.throughput_factor = 2.0
    world.lab_b.save()
    record(world, world.lab_a, gpu_type="A100", gpu_hours_delivered=Decimal("9890"))
    original = record(world, world.lab_a, gpu_type="H100", gpu_hours_delivered=Decimal("500"))
    services.contribution_correct(
        original=original, recorded_by=world.user_a, reason="Re-counted", gpu_hours_delivered=Decimal("400")
    )
    record(world, world.lab_b, recorded_by=world.user_b, gpu_type="other", gpu_hours_delivered=Decimal("100"))

    rows = {row["lab_name"]: row for row in contribution_totals(consortium=world.consortium, h100_equivalent=True)}
    assert rows["Lab A"]["h100_gpu_hours_delivered"] == pytest.approx(3120 + 400)
    assert rows["Lab B"]["h100_gpu_hours_delivered"] == pytest.approx(200)
    assert rows["Lab A"]["entries_without_factor"] == rows["Lab B"]["entries_without_factor"] == 0
    assert rows["Lab A"]["gpu_hours_delivered"] == Decimal("10290.00")  # raw hours are unchanged
    (total,) = contribution_totals(consortium=world.consortium, group_by=(), h100_equivalent=True)
    assert total["h100_gpu_hours_delivered"] == pytest.approx(3720)


def test_totals_count_entries_on_other_gpus_they_cannot_convert(world):
    f.ComputeContributionFactory(lab=world.lab_b, consortium=world.consortium, gpu_type="other")
    (row,) = contribution_totals(consortium=world.consortium, h100_equivalent=True)
    assert (row["lab_name"], row["entries_without_factor"], row["h100_gpu_hours_delivered"]) == ("Lab B", 1, 0.0)


def test_totals_leave_the_h100_columns_out_unless_asked(world):
    f.ComputeContributionFactory(lab=world.lab_a, consortium=world.consortium)
    (row,) = contribution_totals(consortium=world.consortium)
    assert "h100_gpu_hours_delivered" not in row
