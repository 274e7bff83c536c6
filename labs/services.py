"""Writes to the ledger, artifacts and reuse. Every function validates fully inside one transaction.

Errors are django ValidationErrors keyed by field, so pages show them next to the input and the API
answers 400 with the field named. Permission checks belong to the caller (consortium.access).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

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
    "over_pledge_confirmed",
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
REUSE_FIELDS = ("reused_on", "gpu_hours_saved", "note", "saving_exceeds_reason")
# No artifact this ledger tracks (open datasets, checkpoints, tools of the deep-learning era) predates 2000.
EARLIEST_RELEASE_DATE = datetime.date(2000, 1, 1)


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
    "listed_in_directory",
)


def _gpu_hours(value: Decimal) -> str:
    return f"{value:,.2f}".removesuffix(".00")


def contribution_check_plausible(
    *,
    period_start: datetime.date | None,
    gpu_hours_pledged: Decimal | None,
    gpu_hours_delivered: Decimal | None,
    over_pledge_confirmed: bool = False,
) -> None:
    """Refuse a ledger entry that cannot be true, and ask about one that is unlikely.

    Compute cannot have been delivered in a period that has not started. Delivering more than
    LEDGER_DELIVERED_OVER_PLEDGED_RATIO times the pledge happens (a partner lends spare capacity) but
    is more often a typo, so it needs `over_pledge_confirmed`, which is stored with the entry.
    Pages and the API call this before anything is written, as do the services themselves.
    """
    errors: dict[str, str] = {}
    today = timezone.localdate()
    if period_start is not None and period_start > today and gpu_hours_delivered:
        errors["gpu_hours_delivered"] = (
            f"The period starts on {period_start}, after today ({today}), so nothing can have been delivered "
            "yet: enter 0 GPU-hours delivered (the pledge can stay), or a period that has started."
        )
    ratio = settings.LEDGER_DELIVERED_OVER_PLEDGED_RATIO
    if (
        "gpu_hours_delivered" not in errors
        and gpu_hours_pledged is not None
        and gpu_hours_delivered is not None
        and gpu_hours_pledged >= 0
        and gpu_hours_delivered > gpu_hours_pledged * ratio
        and not over_pledge_confirmed
    ):
        errors["over_pledge_confirmed"] = (
            f"GPU-hours delivered ({_gpu_hours(gpu_hours_delivered)}) are more than {ratio.normalize():f} times the "
            f"GPU-hours pledged ({_gpu_hours(gpu_hours_pledged)}). Correct the figures, or confirm that the "
            "delivery above the pledge is right (over_pledge_confirmed) to record it."
        )
    if errors:
        raise ValidationError(errors)


def reuse_check_plausible(
    *, artifact: Artifact | None, gpu_hours_saved: Decimal | None, saving_exceeds_reason: str = ""
) -> None:
    """A reuse saves at most what the artifact would cost to reproduce, unless a reason says why it saved more."""
    if artifact is None or gpu_hours_saved is None:
        return
    limit = artifact.reproduction_gpu_hours
    if gpu_hours_saved > limit and not (saving_exceeds_reason or "").strip():
        raise ValidationError(
            {
                "gpu_hours_saved": (
                    f"{_gpu_hours(gpu_hours_saved)} GPU-hours saved is more than the {_gpu_hours(limit)} GPU-hours "
                    f"{artifact.lab} states “{artifact.title}” would take to reproduce. Enter at most "
                    f"{_gpu_hours(limit)}, or give the reason the saving exceeds the reproduction cost "
                    "(saving_exceeds_reason)."
                )
            }
        )


def artifact_check_release_date(release_date: datetime.date | None) -> None:
    """An artifact's release date lies between 2000-01-01 and today."""
    if release_date is None:
        return
    today = timezone.localdate()
    if release_date > today:
        raise ValidationError(
            {
                "release_date": f"The release date {release_date} is in the future: enter the date the artifact "
                f"was released, today ({today}) at the latest, and add it once it is out."
            }
        )
    if release_date < EARLIEST_RELEASE_DATE:
        raise ValidationError(
            {
                "release_date": f"The release date {release_date} is before 2000: enter a date from "
                f"{EARLIEST_RELEASE_DATE} on."
            }
        )


def _save_validated(instance: Any, *, check: Any = None, **clean_options: Any) -> Any:
    """Validate the instance, then run `check` (a plausibility rule that assumes valid fields), then save."""
    instance.full_clean(**clean_options)
    if check is not None:
        check()
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
    over_pledge_confirmed: bool = False,
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
        over_pledge_confirmed=over_pledge_confirmed,
    )
    # The model's clean() states each check constraint with the field it concerns.
    return _save_validated(entry, check=lambda: _check_entry(entry), validate_constraints=False)


def _check_entry(entry: ComputeContribution) -> None:
    contribution_check_plausible(
        period_start=entry.period_start,
        gpu_hours_pledged=entry.gpu_hours_pledged,
        gpu_hours_delivered=entry.gpu_hours_delivered,
        over_pledge_confirmed=entry.over_pledge_confirmed,
    )


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
            _save_validated(replacement, check=lambda: _check_entry(replacement), validate_constraints=False)
    except IntegrityError:
        # The one-to-one links make a second correction of the same entry impossible in the database.
        raise ValidationError({NON_FIELD_ERRORS: [f"Entry {original.pk} has already been corrected."]}) from None
    return reversal, replacement


@transaction.atomic
def artifact_create(*, lab: Lab, created_by: Any, **fields: Any) -> Artifact:
    unknown = sorted(set(fields) - set(ARTIFACT_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Unknown artifact field."))
    artifact = Artifact(lab=lab, created_by=created_by, **fields)
    return _save_validated(artifact, check=lambda: artifact_check_release_date(artifact.release_date))


@transaction.atomic
def artifact_update(*, artifact: Artifact, **fields: Any) -> Artifact:
    unknown = sorted(set(fields) - set(ARTIFACT_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This artifact field cannot be changed."))
    # An artifact recorded before the rule keeps its date until someone changes it.
    date_changed = "release_date" in fields and fields["release_date"] != artifact.release_date
    for name, value in fields.items():
        setattr(artifact, name, value)
    return _save_validated(
        artifact, check=lambda: artifact_check_release_date(artifact.release_date) if date_changed else None
    )


@transaction.atomic
def reuse_record(
    *,
    artifact: Artifact,
    reusing_lab: Lab,
    recorded_by: Any,
    reused_on: datetime.date,
    gpu_hours_saved: Decimal,
    note: str = "",
    saving_exceeds_reason: str = "",
) -> ArtifactReuse:
    """Log that `reusing_lab` reused another lab's artifact and roughly how much compute it saved."""
    reuse = ArtifactReuse(
        artifact=artifact,
        reusing_lab=reusing_lab,
        recorded_by=recorded_by,
        reused_on=reused_on,
        gpu_hours_saved=gpu_hours_saved,
        note=note,
        saving_exceeds_reason=saving_exceeds_reason,
    )
    return _save_validated(reuse, check=lambda: _check_reuse(reuse))


def _check_reuse(reuse: ArtifactReuse) -> None:
    reuse_check_plausible(
        artifact=reuse.artifact,
        gpu_hours_saved=reuse.gpu_hours_saved,
        saving_exceeds_reason=reuse.saving_exceeds_reason,
    )


@transaction.atomic
def reuse_update(*, reuse: ArtifactReuse, **fields: Any) -> ArtifactReuse:
    """Change a reuse record's date, estimate, note or reason; which lab reused which artifact is fixed."""
    unknown = sorted(set(fields) - set(REUSE_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This reuse field cannot be changed."))
    # A record logged before the rule keeps its estimate until someone changes the estimate or its reason.
    changed = any(
        name in fields and fields[name] != getattr(reuse, name) for name in ("gpu_hours_saved", "saving_exceeds_reason")
    )
    for name, value in fields.items():
        setattr(reuse, name, value)
    return _save_validated(reuse, check=lambda: _check_reuse(reuse) if changed else None)
