"""labs.services: what each write accepts, what it refuses (with the field named), and that a
refused write leaves nothing behind."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from labs import services
from labs.models import Artifact, ArtifactReuse, ComputeContribution, Lab, LabMember
from tests import factories as f

D = datetime.date


def record(world, **changes):  # type: ignore[no-untyped-def]
    values = {
        "lab": world.lab_a,
        "consortium": world.consortium,
        "recorded_by": world.user_a,
        "period_start": D(2026, 1, 1),
        "period_end": D(2026, 3, 31),
        "gpu_type": "H100",
        "gpu_hours_pledged": Decimal("1000"),
        "gpu_hours_delivered": Decimal("800"),
        "price_per_gpu_hour": Decimal("2.40"),
    } | changes
    return services.contribution_record(**values)


def test_record_appends_an_original_entry(world) -> None:
    entry = record(world, cash=Decimal("50"), evidence_url="https://example.org/invoice")
    assert entry.entry_type == ComputeContribution.EntryType.ORIGINAL
    assert entry.delivered_value == Decimal("1920.00")
    assert (entry.reverses, entry.replaces, entry.is_corrected) == (None, None, False)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"gpu_hours_pledged": Decimal("-1")}, "gpu_hours_pledged"),
        ({"gpu_hours_delivered": Decimal("20000000000")}, "gpu_hours_delivered"),
        ({"cash": Decimal("-0.01")}, "cash"),
        ({"price_per_gpu_hour": Decimal("0")}, "price_per_gpu_hour"),
        ({"price_per_gpu_hour": Decimal("100.01")}, "price_per_gpu_hour"),
        ({"period_end": D(2025, 12, 31)}, "period_end"),
        ({"gpu_type": "TPU"}, "gpu_type"),
        ({"evidence_url": "not a link"}, "evidence_url"),
    ],
)
def test_record_refuses_nonsense_naming_the_field(world, changes, field) -> None:
    with pytest.raises(ValidationError) as caught:
        record(world, **changes)
    assert field in caught.value.message_dict
    assert not ComputeContribution.objects.exists()


@pytest.mark.parametrize("status", ["observer", None])
def test_record_needs_a_current_member_or_candidate(world, status) -> None:
    """Observers and labs that left cannot log compute to the consortium."""
    from consortium.services import membership_change, membership_end

    if status:
        membership_change(
            consortium=world.consortium, lab=world.lab_a, status=status, on_date=D(2026, 2, 1), by=world.coordinator
        )
    else:
        membership_end(consortium=world.consortium, lab=world.lab_a, on_date=D(2026, 2, 1), by=world.coordinator)
    with pytest.raises(ValidationError) as caught:
        record(world)
    assert "consortium" in caught.value.message_dict


def test_record_refuses_a_lab_never_in_the_consortium(world) -> None:
    with pytest.raises(ValidationError) as caught:
        record(world, lab=world.lab_d)
    assert "not a current member or candidate" in caught.value.message_dict["consortium"][0]


def test_correct_refuses_fields_it_cannot_amend_and_a_missing_reason(world) -> None:
    entry = record(world)
    with pytest.raises(ValidationError) as caught:
        services.contribution_correct(original=entry, recorded_by=world.user_a, reason="x", lab=world.lab_b)
    assert "lab" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        services.contribution_correct(original=entry, recorded_by=world.user_a, reason="  ")
    assert "reason" in caught.value.message_dict
    assert ComputeContribution.objects.count() == 1


def test_correction_keeps_identity_and_records_who_corrected(world) -> None:
    """Reversal and replacement stay with the entry's lab and consortium and name the corrector."""
    entry = record(world)
    reversal, replacement = services.contribution_correct(
        original=entry,
        recorded_by=world.token_user,
        reason="wrong quarter",
        period_start=D(2026, 4, 1),
        period_end=D(2026, 6, 30),
    )
    for row in (reversal, replacement):
        assert (row.lab, row.consortium, row.recorded_by, row.reason) == (
            world.lab_a,
            world.consortium,
            world.token_user,
            "wrong quarter",
        )
    assert (reversal.period_start, replacement.period_start) == (D(2026, 1, 1), D(2026, 4, 1))
    entry.refresh_from_db()
    assert entry.is_corrected


def test_lab_create_makes_the_creator_admin_and_validates(world) -> None:
    lab = services.lab_create(
        created_by=world.user_b, name="Lab N", slug="lab-n", kind="academic", final_run_gpu_hours=10
    )
    assert LabMember.objects.get(lab=lab).role == LabMember.Role.ADMIN
    with pytest.raises(ValidationError) as caught:
        services.lab_create(
            created_by=world.user_b, name="Lab M", slug="lab-m", kind="academic", final_run_gpu_hours=10, rd_share=1.0
        )
    assert "rd_share" in caught.value.message_dict
    assert not Lab.objects.filter(slug="lab-m").exists()


def test_artifact_create_and_update_validate(world) -> None:
    artifact = services.artifact_create(
        lab=world.lab_a,
        created_by=world.user_a,
        kind="code",
        title="Kernels",
        research_area="infrastructure_kernels",
        reproduction_gpu_hours=Decimal("100"),
        release_date=D(2026, 1, 1),
    )
    assert artifact.created_by == world.user_a
    with pytest.raises(ValidationError) as caught:
        services.artifact_update(artifact=artifact, reproduction_gpu_hours=Decimal("-5"))
    assert "reproduction_gpu_hours" in caught.value.message_dict
    assert Artifact.objects.get(pk=artifact.pk).reproduction_gpu_hours == Decimal("100")
    with pytest.raises(ValidationError) as caught:
        services.artifact_update(artifact=artifact, lab=world.lab_b)
    assert "lab" in caught.value.message_dict


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reusing_lab": "artifact_owner"}, "artifact"),
        ({"reused_on": D(2026, 1, 1)}, "reused_on"),
        ({"reused_on": D(2999, 1, 1)}, "reused_on"),
        ({"gpu_hours_saved": Decimal("-1")}, "gpu_hours_saved"),
        ({"gpu_hours_saved": Decimal("1e11")}, "gpu_hours_saved"),
    ],
)
def test_reuse_record_refuses_own_artifacts_impossible_dates_and_amounts(world, changes, field) -> None:
    artifact = f.ArtifactFactory(lab=world.lab_a, release_date=D(2026, 2, 1))
    values = {
        "artifact": artifact,
        "reusing_lab": world.lab_b,
        "recorded_by": world.user_b,
        "reused_on": D(2026, 3, 1),
        "gpu_hours_saved": Decimal("100"),
    } | changes
    if values["reusing_lab"] == "artifact_owner":
        values["reusing_lab"] = world.lab_a
    with pytest.raises(ValidationError) as caught:
        services.reuse_record(**values)
    assert field in caught.value.message_dict
    assert not ArtifactReuse.objects.exists()


TODAY = timezone.localdate()
TOMORROW = TODAY + datetime.timedelta(days=1)


@pytest.mark.parametrize(
    ("start", "pledged", "delivered", "confirmed", "refused"),
    [
        (TODAY, "100", "150", False, None),
        (TODAY, "100", "150.01", False, "over_pledge_confirmed"),
        (TODAY, "100", "150.01", True, None),
        (TODAY, "0", "0", False, None),
        (TODAY, "0", "0.01", False, "over_pledge_confirmed"),
        (TOMORROW, "100", "0", False, None),
        (TOMORROW, "100", "1", False, "gpu_hours_delivered"),
        (TOMORROW, "100", "1", True, "gpu_hours_delivered"),
        # Reversals carry negated amounts; the rule is not theirs to follow.
        (TODAY, "-100", "-800", False, None),
    ],
)
def test_contribution_plausibility_rule_by_rule(start, pledged, delivered, confirmed, refused) -> None:
    check = services.contribution_check_plausible
    values = {"period_start": start, "gpu_hours_pledged": Decimal(pledged), "gpu_hours_delivered": Decimal(delivered)}
    if refused is None:
        check(**values, over_pledge_confirmed=confirmed)
    else:
        with pytest.raises(ValidationError) as caught:
            check(**values, over_pledge_confirmed=confirmed)
        assert list(caught.value.message_dict) == [refused]


@pytest.mark.parametrize(
    ("released", "refused"),
    [(TODAY, False), (TOMORROW, True), (datetime.date(2000, 1, 1), False), (datetime.date(1999, 12, 31), True)],
)
def test_artifact_release_dates_run_from_2000_to_today(released, refused) -> None:
    if refused:
        with pytest.raises(ValidationError) as caught:
            services.artifact_check_release_date(released)
        assert list(caught.value.message_dict) == ["release_date"]
    else:
        services.artifact_check_release_date(released)
