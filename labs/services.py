"""Writes to the ledger, artifacts and reuse. Every function validates fully inside one transaction.

Errors are django ValidationErrors keyed by field, so pages show them next to the input and the API
answers 400 with the field named. Permission checks belong to the caller (consortium.access).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from consortium.models import Consortium, Membership
from consortium.services import save_or_conflict

from .models import Artifact, ArtifactReuse, ComputeContribution, Lab, LabMember

# Fields a correction may amend; identity fields (lab, consortium) never change.
AMENDABLE_FIELDS = (
    "period_start",
    "period_end",
    "gpu_type",
    "gpu_hours_pledged",
    "gpu_hours_delivered",
    "price_per_gpu_hour",
    "cash",
    "evidence_url",
    "evidence_note",
)
SIGNED_AMOUNTS = ("gpu_hours_pledged", "gpu_hours_delivered", "cash")
ARTIFACT_FIELDS = (
    "kind",
    "title",
    "url",
    "licence",
    "openness",
    "research_area",
    "reproduction_gpu_hours",
    "release_date",
)


LAB_FIELDS = (
    "name",
    "slug",
    "kind",
    "country",
    "website",
    "description",
    "gpu_type",
    "throughput_factor",
    "price_per_gpu_hour",
    "final_run_gpu_hours",
    "rd_share",
    "area_weights",
    "openness",
)


def _save_validated(instance: Any, **clean_options: Any) -> Any:
    instance.full_clean(**clean_options)
    instance.save()
    return instance


def contribution_check_participant(*, lab: Lab, consortium: Consortium) -> None:
    """A lab logs compute only in a consortium it currently belongs to as member or candidate."""
    is_in = (
        Membership.objects.current()
        .filter(lab=lab, consortium=consortium, status__in=[Membership.Status.MEMBER, Membership.Status.CANDIDATE])
        .exists()
    )
    if not is_in:
        raise ValidationError(
            {"consortium": f"{lab} is not a current member or candidate of {consortium}; it cannot log compute there."}
        )


# Lab pages live at /labs/<slug>/; these slugs name other pages there.
RESERVED_LAB_SLUGS = frozenset({"new", "invitations"})


@transaction.atomic
def lab_create(*, created_by: Any, **fields: Any) -> Lab:
    """Register a lab; its creator becomes the lab's admin."""
    unknown = sorted(set(fields) - set(LAB_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Unknown lab field."))
    if fields.get("slug") in RESERVED_LAB_SLUGS:
        raise ValidationError({"slug": f"“{fields['slug']}” names another page; choose another slug."})
    lab = Lab(**fields)
    lab.full_clean()

    def conflict() -> dict[str, str]:
        taken = "name" if Lab.objects.filter(name=lab.name).exists() else "slug"
        return {taken: f"A lab with this {taken} was registered at the same moment; choose another."}

    # Two registrations of one name at once both pass full_clean; the constraint refuses the second.
    save_or_conflict(lab, conflict)
    LabMember.objects.create(lab=lab, user=created_by, role=LabMember.Role.ADMIN)
    return lab


@transaction.atomic
def contribution_record(
    *,
    lab: Lab,
    consortium: Consortium,
    recorded_by: Any,
    period_start: datetime.date,
    period_end: datetime.date,
    gpu_type: str,
    gpu_hours_pledged: Decimal,
    gpu_hours_delivered: Decimal,
    price_per_gpu_hour: Decimal,
    cash: Decimal = Decimal("0"),
    evidence_url: str = "",
    evidence_note: str = "",
) -> ComputeContribution:
    """Append an original entry to the ledger for a lab currently in the consortium."""
    contribution_check_participant(lab=lab, consortium=consortium)
    entry = ComputeContribution(
        lab=lab,
        consortium=consortium,
        entry_type=ComputeContribution.EntryType.ORIGINAL,
        recorded_by=recorded_by,
        period_start=period_start,
        period_end=period_end,
        gpu_type=gpu_type,
        gpu_hours_pledged=gpu_hours_pledged,
        gpu_hours_delivered=gpu_hours_delivered,
        price_per_gpu_hour=price_per_gpu_hour,
        cash=cash,
        evidence_url=evidence_url,
        evidence_note=evidence_note,
    )
    # The model's clean() states each check constraint with the field it concerns.
    return _save_validated(entry, validate_constraints=False)


@transaction.atomic
def contribution_correct(
    *, original: ComputeContribution, recorded_by: Any, reason: str, **new_values: Any
) -> tuple[ComputeContribution, ComputeContribution | None]:
    """Reverse an entry and, when new values are given, record its replacement in the same transaction.

    The reversal carries the negated amounts of `original`, so ledger sums drop it; the replacement
    is a complete entry built from `original` overridden by `new_values`. A reversal cannot be
    corrected, and an entry can be corrected once (correct its replacement to amend again).
    """
    unknown = sorted(set(new_values) - set(AMENDABLE_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be amended by a correction."))
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why the entry is corrected."})
    # Lock the entry so two simultaneous corrections cannot both pass the checks below.
    original = ComputeContribution.objects.select_for_update().get(pk=original.pk)
    if original.entry_type == ComputeContribution.EntryType.REVERSAL:
        raise ValidationError(
            {NON_FIELD_ERRORS: ["A reversal cannot be corrected; correct the entry it reversed instead."]}
        )
    if ComputeContribution.objects.filter(reverses=original).exists():
        raise ValidationError(
            {NON_FIELD_ERRORS: [f"Entry {original.pk} has already been corrected; correct its replacement."]}
        )

    values = {name: getattr(original, name) for name in AMENDABLE_FIELDS}
    if new_values and all(values[name] == value for name, value in new_values.items()):
        raise ValidationError({NON_FIELD_ERRORS: ["The new values equal the entry's values; nothing to amend."]})
    common = {"lab": original.lab, "consortium": original.consortium, "recorded_by": recorded_by, "reason": reason}
    reversal = ComputeContribution(
        **common,
        **(values | {name: -values[name] for name in SIGNED_AMOUNTS}),
        entry_type=ComputeContribution.EntryType.REVERSAL,
        reverses=original,
    )
    try:
        _save_validated(reversal, validate_constraints=False)
        replacement = None
        if new_values:
            replacement = ComputeContribution(
                **common,
                **(values | new_values),
                entry_type=ComputeContribution.EntryType.REPLACEMENT,
                replaces=original,
            )
            _save_validated(replacement, validate_constraints=False)
    except IntegrityError:
        # The one-to-one links make a second correction of the same entry impossible in the database.
        raise ValidationError({NON_FIELD_ERRORS: [f"Entry {original.pk} has already been corrected."]}) from None
    return reversal, replacement


@transaction.atomic
def artifact_create(*, lab: Lab, created_by: Any, **fields: Any) -> Artifact:
    unknown = sorted(set(fields) - set(ARTIFACT_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Unknown artifact field."))
    return _save_validated(Artifact(lab=lab, created_by=created_by, **fields))


@transaction.atomic
def artifact_update(*, artifact: Artifact, **fields: Any) -> Artifact:
    unknown = sorted(set(fields) - set(ARTIFACT_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This artifact field cannot be changed."))
    for name, value in fields.items():
        setattr(artifact, name, value)
    return _save_validated(artifact)


@transaction.atomic
def reuse_record(
    *,
    artifact: Artifact,
    reusing_lab: Lab,
    recorded_by: Any,
    reused_on: datetime.date,
    gpu_hours_saved: Decimal,
    note: str = "",
) -> ArtifactReuse:
    """Log that `reusing_lab` reused another lab's artifact and roughly how much compute it saved."""
    reuse = ArtifactReuse(
        artifact=artifact,
        reusing_lab=reusing_lab,
        recorded_by=recorded_by,
        reused_on=reused_on,
        gpu_hours_saved=gpu_hours_saved,
        note=note,
    )
    return _save_validated(reuse)
