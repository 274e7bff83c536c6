"""Labs, their people, and what they contribute: compute (an append-only ledger), artifacts, reuse."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from simulations.engine.errors import InvalidParameterError
from simulations.engine.params import AREA_LABELS, AREAS, GPU_TYPES, OTHER_GPU, h100_factor

AREA_CHOICES = [(area, AREA_LABELS[area]) for area in AREAS]

# Price per GPU-hour by GPU type (US$, before the all-in uplift), from DOMAIN.md.
GPU_PRICES = {"H100": Decimal("2.40"), "H800": Decimal("2.00"), "A100": Decimal("1.20"), "H200": Decimal("3.50")}
GPU_CHOICES = [(name, name) for name in GPU_PRICES] + [("other", "Other")]

# Plausibility limits of one ledger entry: more than ten billion GPU-hours (or US$100 billion) in
# one entry, or over US$100 per GPU-hour, is a typo rather than a contribution.
LEDGER_MAX_AMOUNT = {
    "gpu_hours_pledged": Decimal("1e10"),
    "gpu_hours_delivered": Decimal("1e10"),
    "cash": Decimal("1e11"),
}
MAX_PRICE_PER_GPU_HOUR = Decimal("100")
# A lab's own throughput factor, in H100-equivalent GPU-hours per GPU-hour of its type.
THROUGHPUT_FACTOR_MIN, THROUGHPUT_FACTOR_MAX = 0.01, 100.0

WEIGHT_TOLERANCE = 1e-6
# Above 0.99 the implied R&D compute (F * rho / (1 - rho)) exceeds 99x the final run: a typo.
RD_SHARE_MAX = 0.99


def validate_area_weights(value: object) -> None:
    """Area weights are a mapping of every research area to a share in [0, 1], summing to 1."""
    if not isinstance(value, dict):
        raise ValidationError("Enter the research-area weights as an object {area: weight}.")
    unknown = sorted(set(value) - set(AREAS))
    if unknown:
        raise ValidationError(f"Unknown research area(s): {', '.join(unknown)}.")
    missing = sorted(set(AREAS) - set(value))
    if missing:
        raise ValidationError(f"Missing research area(s): {', '.join(missing)}.")
    total = 0.0
    for area, weight in value.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise ValidationError(f"The weight of {area} must be a number.")
        if not 0 <= weight <= 1:
            raise ValidationError(f"The weight of {area} must be between 0 and 1, got {weight}.")
        total += weight
    if abs(total - 1) > WEIGHT_TOLERANCE:
        raise ValidationError(f"Research-area weights must sum to 1, they sum to {total:.4f}.")


def default_area_weights() -> dict[str, float]:
    return {area: round(1 / len(AREAS), 12) for area in AREAS[:-1]} | {
        AREAS[-1]: 1 - round(1 / len(AREAS), 12) * (len(AREAS) - 1)
    }


class Lab(models.Model):
    class Kind(models.TextChoices):
        FRONTIER = "frontier", "Frontier lab"
        OPEN_WEIGHT = "open_weight", "Open-weight lab"
        ACADEMIC = "academic", "Academic"
        NON_PROFIT = "non_profit", "Non-profit"

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    country = models.CharField(max_length=60, blank=True)
    website = models.URLField(blank=True)
    description = models.TextField(blank=True)
    gpu_type = models.CharField("default GPU type", max_length=10, choices=GPU_CHOICES, default="H100")
    price_per_gpu_hour = models.DecimalField(
        "price per GPU-hour (US$)",
        max_digits=8,
        decimal_places=2,
        default=Decimal("2.40"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100"))],
    )
    throughput_factor = models.FloatField(
        "throughput factor (H100-equivalents per GPU-hour)",
        null=True,
        blank=True,
        validators=[MinValueValidator(THROUGHPUT_FACTOR_MIN), MaxValueValidator(THROUGHPUT_FACTOR_MAX)],
        help_text="H100-equivalent GPU-hours per GPU-hour of the lab's type, 0.01 to 100. Required for GPU type "
        "“other” (it also converts the lab's ledger entries on “other”); for a listed type it is optional and "
        "overrides the datasheet factor for the lab's final run. Empty: the datasheet factor.",
    )
    final_run_gpu_hours = models.BigIntegerField(
        "final-run compute per year (GPU-hours)",
        validators=[MinValueValidator(1), MaxValueValidator(10**10)],
    )
    rd_share = models.FloatField(
        "R&D share of development compute",
        default=0.80,
        help_text="Strictly between 0 and 1. Default 0.80 (Olmo 3 accounting: about 82%).",
    )
    area_weights = models.JSONField(
        "research-area weights", default=default_area_weights, validators=[validate_area_weights]
    )
    openness = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of its shareable research the lab publishes into the commons (0 to 1).",
    )
    listed_in_directory = models.BooleanField(
        "listed in the directory",
        default=False,
        help_text="Any consortium's coordinators may find the lab by name and invite it. Off: only "
        "consortia it is in, or was invited to, see its name.",
    )
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, through="LabMember", related_name="labs")
    created_at = models.DateTimeField(auto_now_add=True)
    # Reports name labs: a rename must change their ETags (reports/selectors.py).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rd_share__gt=0) & models.Q(rd_share__lte=RD_SHARE_MAX), name="lab_rd_share_open_unit"
            ),
            models.CheckConstraint(
                condition=models.Q(openness__gte=0) & models.Q(openness__lte=1), name="lab_openness_unit"
            ),
            models.CheckConstraint(condition=models.Q(final_run_gpu_hours__gt=0), name="lab_final_run_positive"),
            models.CheckConstraint(
                condition=models.Q(throughput_factor__isnull=True)
                | (
                    models.Q(throughput_factor__gte=THROUGHPUT_FACTOR_MIN)
                    & models.Q(throughput_factor__lte=THROUGHPUT_FACTOR_MAX)
                ),
                name="lab_throughput_factor_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("labs:detail", kwargs={"slug": self.slug})

    def clean(self) -> None:
        errors = {}
        if self.rd_share is not None and not 0 < self.rd_share <= RD_SHARE_MAX:
            errors["rd_share"] = f"The R&D share must be strictly between 0 and 1 (at most {RD_SHARE_MAX})."
        if self.throughput_factor is None:
            if self.gpu_type == OTHER_GPU:
                errors["throughput_factor"] = (
                    "GPU type “other” has no datasheet factor: give the lab's throughput factor "
                    f"(H100-equivalent GPU-hours per GPU-hour, {THROUGHPUT_FACTOR_MIN:g} to {THROUGHPUT_FACTOR_MAX:g})."
                )
            elif self.pk is not None and self.contributions.filter(gpu_type=OTHER_GPU).exists():
                errors["throughput_factor"] = (
                    "The lab's ledger has entries on GPU type “other”, which this factor converts to "
                    "H100-equivalent GPU-hours; it cannot be removed."
                )
        if errors:
            raise ValidationError(errors)

    @property
    def h100_factor(self) -> float | None:
        """H100-equivalent GPU-hours per GPU-hour: the lab's own factor, else its type's datasheet factor.

        None only for a type without a datasheet factor and no factor of the lab's own, which
        validation refuses.
        """
        try:
            return h100_factor(self.gpu_type, self.throughput_factor)
        except InvalidParameterError:
            return None

    @property
    def h100_factor_source(self) -> str:
        if self.throughput_factor is not None:
            return "The lab's own throughput factor."
        gpu = GPU_TYPES.get(self.gpu_type)
        return gpu.source if gpu else ""

    @property
    def final_run_h100_gpu_hours(self) -> float | None:
        """The final run in H100-equivalent GPU-hours, the unit the cost model works in."""
        factor = self.h100_factor
        return None if factor is None or self.final_run_gpu_hours is None else self.final_run_gpu_hours * factor

    @property
    def rd_gpu_hours(self) -> float:
        """R&D compute implied by the final run and the R&D share: F * rho / (1 - rho)."""
        return self.final_run_gpu_hours * self.rd_share / (1 - self.rd_share)

    @property
    def standalone_gpu_hours(self) -> float:
        return self.final_run_gpu_hours + self.rd_gpu_hours


class LabMember(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Lab admin"
        MEMBER = "member", "Lab member"

    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lab_memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["lab", "user"], name="labmember_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.lab} ({self.role})"


class LedgerQuerySet(models.QuerySet):
    """Ledger rows are never changed or removed in bulk either."""

    def update(self, **kwargs):  # type: ignore[no-untyped-def]
        raise LedgerImmutableError("Ledger entries cannot be changed; record a correction instead.")

    def delete(self):  # type: ignore[no-untyped-def]
        raise LedgerImmutableError("Ledger entries cannot be deleted; record a reversal instead.")

    def bulk_update(self, objs, fields, batch_size=None):  # type: ignore[no-untyped-def]
        # Refuse before Django opens its transaction, so the caller's transaction stays usable.
        raise LedgerImmutableError("Ledger entries cannot be changed; record a correction instead.")


class LedgerImmutableError(Exception):
    pass


class ComputeContribution(models.Model):
    """One row of the append-only compute ledger.

    Amounts are signed: an original entry is positive, a reversal carries the negated amounts of
    the entry it reverses, and an amendment is a reversal plus a replacement entry recorded
    together. Totals per lab and period are therefore plain sums over the ledger, and the history
    is never lost.
    """

    class EntryType(models.TextChoices):
        ORIGINAL = "original", "Original"
        REVERSAL = "reversal", "Reversal"
        REPLACEMENT = "replacement", "Replacement (amendment)"

    lab = models.ForeignKey(Lab, on_delete=models.PROTECT, related_name="contributions")
    consortium = models.ForeignKey("consortium.Consortium", on_delete=models.PROTECT, related_name="contributions")
    entry_type = models.CharField(max_length=12, choices=EntryType.choices, default=EntryType.ORIGINAL)
    period_start = models.DateField()
    period_end = models.DateField()
    gpu_type = models.CharField(max_length=10, choices=GPU_CHOICES, default="H100")
    gpu_hours_pledged = models.DecimalField("GPU-hours pledged", max_digits=14, decimal_places=2)
    gpu_hours_delivered = models.DecimalField("GPU-hours delivered", max_digits=14, decimal_places=2)
    price_per_gpu_hour = models.DecimalField("price per GPU-hour (US$)", max_digits=8, decimal_places=2)
    cash = models.DecimalField("cash (US$)", max_digits=14, decimal_places=2, default=Decimal("0"))
    evidence_url = models.URLField("evidence link", blank=True)
    evidence_note = models.TextField(blank=True)
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")
    replaces = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by")
    reason = models.CharField("reason for the correction", max_length=300, blank=True)
    over_pledge_confirmed = models.BooleanField(
        "delivery above the pledge confirmed",
        default=False,
        help_text="Set when the GPU-hours delivered exceed the stated multiple of those pledged and the "
        "recorder confirmed the figures are right.",
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = LedgerQuerySet.as_manager()

    class Meta:
        ordering = ["-recorded_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")), name="contribution_period_order"
            ),
            models.CheckConstraint(
                condition=models.Q(entry_type="reversal")
                | (models.Q(gpu_hours_pledged__gte=0) & models.Q(gpu_hours_delivered__gte=0) & models.Q(cash__gte=0)),
                name="contribution_non_negative_unless_reversal",
            ),
            models.CheckConstraint(condition=models.Q(price_per_gpu_hour__gt=0), name="contribution_price_positive"),
        ]
        indexes = [models.Index(fields=["consortium", "lab", "period_start"])]

    def __str__(self) -> str:
        return (
            f"{self.lab} {self.period_start}..{self.period_end}: {self.gpu_hours_delivered} GPU-h ({self.entry_type})"
        )

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk is not None and not self._state.adding:
            raise LedgerImmutableError("Ledger entries cannot be changed; record a correction instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise LedgerImmutableError("Ledger entries cannot be deleted; record a reversal instead.")

    def clean(self) -> None:
        """State each check constraint, and the plausibility limits, against the field it concerns."""
        errors: dict[str, str] = {}
        if self.period_start and self.period_end and self.period_end < self.period_start:
            errors["period_end"] = "The period cannot end before it starts."
        is_reversal = self.entry_type == self.EntryType.REVERSAL
        for name in ("gpu_hours_pledged", "gpu_hours_delivered", "cash"):
            value = getattr(self, name)
            if value is None:
                continue
            if value < 0 and not is_reversal:
                errors[name] = "Must be zero or more; record a correction to take compute back."
            elif abs(value) > LEDGER_MAX_AMOUNT[name]:
                errors[name] = f"{abs(value):,.0f} is not plausible; the limit is {LEDGER_MAX_AMOUNT[name]:,.0f}."
        if self.price_per_gpu_hour is not None and not 0 < self.price_per_gpu_hour <= MAX_PRICE_PER_GPU_HOUR:
            errors["price_per_gpu_hour"] = (
                f"The price must be above 0 and at most US${MAX_PRICE_PER_GPU_HOUR}/GPU-hour."
            )
        # A reversal cancels an entry whatever the lab's profile says, so only new compute needs converting.
        if (
            not is_reversal
            and self.gpu_type == OTHER_GPU
            and self.lab_id is not None
            and self.lab.throughput_factor is None
        ):
            errors["gpu_type"] = (
                f"GPU type “other” has no datasheet factor: set {self.lab}'s throughput factor "
                "(H100-equivalent GPU-hours per GPU-hour) on its profile first, or pick a listed GPU type."
            )
        if errors:
            raise ValidationError(errors)

    @property
    def delivered_value(self) -> Decimal:
        """Money value of the compute delivered (US$)."""
        return self.gpu_hours_delivered * self.price_per_gpu_hour

    @property
    def h100_factor(self) -> float | None:
        """H100-equivalent GPU-hours per GPU-hour of this entry.

        A listed type takes its datasheet factor, whatever the lab's own factor says, so every lab's
        deliveries are counted on one scale; "other" takes the lab's throughput factor, which
        validation requires before such an entry is recorded.
        """
        gpu = GPU_TYPES.get(self.gpu_type)
        return gpu.h100_factor if gpu else self.lab.throughput_factor

    @property
    def h100_gpu_hours_delivered(self) -> float | None:
        """GPU-hours delivered in H100-equivalents (signed, like the ledger amounts)."""
        factor = self.h100_factor
        return None if factor is None else float(self.gpu_hours_delivered) * factor

    @property
    def pledged_value(self) -> Decimal:
        return self.gpu_hours_pledged * self.price_per_gpu_hour

    @property
    def is_corrected(self) -> bool:
        return hasattr(self, "reversed_by")


class Artifact(models.Model):
    class Kind(models.TextChoices):
        DATASET = "dataset", "Dataset"
        CHECKPOINT = "checkpoint", "Checkpoint"
        CODE = "code", "Code or tool"
        INFRASTRUCTURE = "infrastructure", "Infrastructure"
        REPORT = "report", "Technical report"
        EVALUATION = "evaluation", "Evaluation"
        RECIPE = "recipe", "Recipe"

    class Openness(models.TextChoices):
        OPEN = "open", "Open"
        PARTIAL = "partial", "Partially open"
        INTERNAL_FORK = "internal_fork", "Internal fork"

    lab = models.ForeignKey(Lab, on_delete=models.PROTECT, related_name="artifacts")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=200)
    url = models.URLField("link", blank=True)
    licence = models.CharField(max_length=80, blank=True)
    openness = models.CharField(max_length=20, choices=Openness.choices, default=Openness.OPEN)
    research_area = models.CharField(max_length=30, choices=AREA_CHOICES)
    reproduction_gpu_hours = models.DecimalField(
        "GPU-hours another lab would need to reproduce it",
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1e10"))],
    )
    release_date = models.DateField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-release_date", "title"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reproduction_gpu_hours__gte=0), name="artifact_gpu_hours_non_negative"
            )
        ]

    def __str__(self) -> str:
        return self.title


class ArtifactReuse(models.Model):
    artifact = models.ForeignKey(Artifact, on_delete=models.PROTECT, related_name="reuses")
    reusing_lab = models.ForeignKey(Lab, on_delete=models.PROTECT, related_name="reuses")
    reused_on = models.DateField()
    gpu_hours_saved = models.DecimalField(
        "GPU-hours saved (estimate)",
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1e10"))],
    )
    note = models.TextField(blank=True)
    saving_exceeds_reason = models.CharField(
        "reason the saving exceeds the reproduction cost",
        max_length=300,
        blank=True,
        help_text="Required when the GPU-hours saved exceed the GPU-hours the artifact's lab states it would "
        "take to reproduce it.",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Reuse records can be edited (PATCH): the reuse report's ETag follows this.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-reused_on"]
        constraints = [
            models.CheckConstraint(condition=models.Q(gpu_hours_saved__gte=0), name="reuse_saved_non_negative")
        ]

    def __str__(self) -> str:
        return f"{self.reusing_lab} reused {self.artifact}"

    def clean(self) -> None:
        if not (self.artifact_id and self.reusing_lab_id):
            return
        if self.artifact.lab_id == self.reusing_lab_id:
            raise ValidationError({"artifact": "A lab cannot log reuse of its own artifact."})
        if self.reused_on and self.reused_on > datetime.date.today():
            raise ValidationError({"reused_on": "A reuse cannot be logged for a date in the future."})
        if self.reused_on and self.reused_on < self.artifact.release_date:
            raise ValidationError(
                {"reused_on": f"The artifact was released on {self.artifact.release_date}; it cannot be reused before."}
            )


class LabInvitation(models.Model):
    """A lab admin's invitation of a colleague, by email, to become one of the lab's users.

    The link carries a token signed with the site's key (labs.team.invitation_token); the row says
    whether the invitation is still open: not accepted, not revoked and not past `expires_at`.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=LabMember.Role.choices, default=LabMember.Role.MEMBER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["lab", "-created_at"]

    def __str__(self) -> str:
        return f"{self.email} to {self.lab} ({self.state})"

    @property
    def state(self) -> str:
        from django.utils import timezone

        if self.accepted_at is not None:
            return self.State.ACCEPTED
        if self.revoked_at is not None:
            return self.State.REVOKED
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return self.State.EXPIRED
        return self.State.PENDING

    def get_state_display(self) -> str:
        return self.State(self.state).label
