"""Consortia, their membership history, and scenarios (who is in, which parameters, which rules)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from simulations.engine.errors import EngineError
from simulations.engine.params import PARAMETER_SPECS
from simulations.engine.weights import WEIGHT_BASES

# Every price and amount in the planner (ledger prices, lab GPU prices, engine costs) is in US
# dollars and nothing converts, so a consortium cannot pick another currency: it would only relabel
# dollar figures.
CURRENCY_CHOICES = [("USD", "US dollar")]


class Consortium(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    charter = models.TextField(blank=True)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="USD")
    coordinators = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="coordinated_consortia", blank=True)
    listed = models.BooleanField(
        "listed in the directory",
        default=False,
        help_text="Listed consortia appear in the directory at /consortia/ (name and charter) to every signed-in "
        "user, and any lab may apply to join; unlisted ones are seen only by their members and coordinators.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "consortia"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("consortium:detail", kwargs={"slug": self.slug})


class MembershipQuerySet(models.QuerySet):
    def current(self) -> MembershipQuerySet:
        """Open spells of labs in the consortium (member, candidate, observer): not invitations."""
        return self.filter(left_on__isnull=True).exclude(status=Membership.Status.INVITED)

    def invitations(self) -> MembershipQuerySet:
        """Open invitations: the lab has not answered yet, and takes no part until it accepts."""
        return self.filter(left_on__isnull=True, status=Membership.Status.INVITED)


class Membership(models.Model):
    """One spell of a lab in a consortium. A change of status closes the spell and opens a new one.

    An INVITED spell is a coordinator's invitation the lab has not answered: it gives the
    consortium no sight of the lab's data and the lab no part in scenarios, runs or the ledger.
    Accepting closes it and opens a candidate spell; declining closes it.
    """

    class Status(models.TextChoices):
        MEMBER = "member", "Member"
        CANDIDATE = "candidate", "Candidate"
        OBSERVER = "observer", "Observer"
        INVITED = "invited", "Invited"

    consortium = models.ForeignKey(Consortium, on_delete=models.CASCADE, related_name="memberships")
    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="consortium_memberships")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.MEMBER)
    joined_on = models.DateField()
    left_on = models.DateField(null=True, blank=True)
    # When the spell was written, whatever dates it carries: invitations per day are counted by it.
    recorded_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["consortium", "lab__name", "-joined_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["consortium", "lab"],
                condition=models.Q(left_on__isnull=True),
                name="membership_one_current_spell",
            ),
            models.CheckConstraint(
                condition=models.Q(left_on__isnull=True) | models.Q(left_on__gte=models.F("joined_on")),
                name="membership_left_after_joined",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lab} in {self.consortium} ({self.status})"

    def clean(self) -> None:
        if self.left_on and self.joined_on and self.left_on < self.joined_on:
            raise ValidationError({"left_on": "The leaving date cannot be before the joining date."})


class Application(models.Model):
    """A lab's request to join a consortium, with a note for its coordinators.

    This is the invitation flow in the other direction: the lab's users ask, the coordinators
    answer. While pending it gives the consortium no sight of the lab's data; accepting opens a
    membership spell (`membership`), declining closes the request. At most one is pending per
    lab and consortium.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    consortium = models.ForeignKey(Consortium, on_delete=models.CASCADE, related_name="applications")
    lab = models.ForeignKey("labs.Lab", on_delete=models.CASCADE, related_name="consortium_applications")
    note = models.TextField(
        max_length=2000, help_text="Why the lab wants to join and what it brings; the coordinators read it."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    membership = models.ForeignKey(
        Membership,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The spell the acceptance opened.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["consortium", "lab"],
                condition=models.Q(status="pending"),
                name="application_one_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.lab} applies to {self.consortium} ({self.status})"


def default_parameters() -> dict[str, object]:
    return {
        name: list(spec.default) if isinstance(spec.default, tuple) else spec.default
        for name, spec in PARAMETER_SPECS.items()
    }


def default_rules() -> list[str]:
    return ["shapley", "nucleolus", "proportional"]


def validate_parameters(value: object) -> None:
    """Parameters are a mapping of known cost-model parameters to values within their allowed range."""
    if not isinstance(value, dict):
        raise ValidationError("Enter the parameters as an object {name: value}.")
    unknown = sorted(set(value) - set(PARAMETER_SPECS))
    if unknown:
        raise ValidationError(f"Unknown parameter(s): {', '.join(unknown)}.")
    errors = []
    for name, given in value.items():
        try:
            PARAMETER_SPECS[name].check(given)
        except EngineError as exc:
            errors.append(str(exc))
    if errors:
        raise ValidationError(errors)


def validate_rules(value: object) -> None:
    from simulations.engine import RULES

    if not isinstance(value, list) or not value:
        raise ValidationError("Choose at least one cost-sharing rule.")
    unknown = sorted({str(rule) for rule in value} - set(RULES))
    if unknown:
        raise ValidationError(f"Unknown rule(s): {', '.join(unknown)}. Known: {', '.join(RULES)}.")
    if len(set(value)) != len(value):
        raise ValidationError("Each rule may be chosen once.")


WEIGHT_BASIS_CHOICES = list(WEIGHT_BASES.items())
# Ids are 64-bit integers.
MAX_ID = 2**63 - 1
# A number on a scale (a national income or a revenue in US$) stays far below this; more is a typo.
WEIGHT_VALUE_MAX = 1e15


def validate_weight_values(value: object) -> None:
    """Weights of the weighted rule are {lab id: number}.

    Which labs and what the numbers must add up to depend on the scenario's labs and basis:
    consortium.services.scenario_weights_check states those rules.
    """
    if not isinstance(value, dict):
        raise ValidationError("Enter the weights as an object {lab id: number}.")
    for key, number in value.items():
        if not (isinstance(key, str) and key.isascii() and key.isdigit() and len(key) <= 19 and int(key) <= MAX_ID):
            raise ValidationError(f"Weights are keyed by lab id; {str(key)[:40]!r} is not a lab id.")
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ValidationError(f"The weight of lab {key} must be a number.")
        # Also false for NaN.
        if not -WEIGHT_VALUE_MAX <= number <= WEIGHT_VALUE_MAX:
            raise ValidationError(f"The weight of lab {key} must be a number between -1e15 and 1e15.")


# A scenario may override these inputs of its labs for its own runs (consortium.services
# scenario_overrides_check applies the lab's own validation to each value).
LAB_OVERRIDE_FIELDS = {
    "final_run_gpu_hours": "final run (GPU-hours per year)",
    "rd_share": "R&D share",
    "price_per_gpu_hour": "price per GPU-hour (US$)",
    "gpu_type": "GPU type",
    "throughput_factor": "throughput factor",
    "area_weights": "research-area weights",
    "openness": "openness",
}


def validate_overrides(value: object) -> None:
    """Overrides are {lab id: {lab field: value}} over LAB_OVERRIDE_FIELDS.

    The values and which labs may have overrides (the scenario's own) are checked by
    consortium.services.scenario_overrides_check.
    """
    if not isinstance(value, dict):
        raise ValidationError("Enter the overrides as an object {lab id: {field: value}}.")
    for key, fields in value.items():
        if not (isinstance(key, str) and key.isascii() and key.isdigit() and len(key) <= 19 and int(key) <= MAX_ID):
            raise ValidationError(f"Overrides are keyed by lab id; {str(key)[:40]!r} is not a lab id.")
        if not isinstance(fields, dict):
            raise ValidationError(f"The overrides of lab {key} must be an object {{field: value}}.")
        unknown = sorted(str(name)[:40] for name in set(fields) - set(LAB_OVERRIDE_FIELDS))
        if unknown:
            raise ValidationError(
                f"Lab {key}: {', '.join(unknown)} cannot be overridden; the fields that can are "
                f"{', '.join(LAB_OVERRIDE_FIELDS)}."
            )


# Where a scenario's runs take each lab's openness from (docs/model.md, "Openness from the ledger").
OPENNESS_SOURCES = {
    "assumed": "assumed (the lab's profile)",
    "ledger": "from the ledger (its artifacts' openness)",
}
OPENNESS_SOURCE_CHOICES = list(OPENNESS_SOURCES.items())


def validate_openness_by_lab(value: object) -> None:
    """Per-lab exceptions to the scenario's openness source: {lab id: "assumed" | "ledger"}.

    Which labs may have one (the scenario's own) is checked by consortium.services.scenario_openness_check.
    """
    if not isinstance(value, dict):
        raise ValidationError('Enter the sources per lab as an object {lab id: "assumed" or "ledger"}.')
    for key, source in value.items():
        if not (isinstance(key, str) and key.isascii() and key.isdigit() and len(key) <= 19 and int(key) <= MAX_ID):
            raise ValidationError(f"Openness sources are keyed by lab id; {str(key)[:40]!r} is not a lab id.")
        if source not in OPENNESS_SOURCES:
            raise ValidationError(
                f"The openness source of lab {key} must be “assumed” or “ledger”, not {str(source)[:40]!r}."
            )


def validate_weight_cap(value: float) -> None:
    if not 0 < value <= 1:
        raise ValidationError("The cap is the largest share of the joint costs one member pays: above 0, at most 1.")


class ScenarioQuerySet(models.QuerySet):
    def active(self) -> ScenarioQuerySet:
        """Scenarios not archived: the ones lists and pickers offer."""
        return self.filter(archived_at__isnull=True)

    def archived(self) -> ScenarioQuerySet:
        return self.filter(archived_at__isnull=False)


class Scenario(models.Model):
    class Kind(models.TextChoices):
        MODEL = "model", "Cost model of the labs"
        TABLE = "table", "Custom table of coalition costs"
        AIRPORT = "airport", "Airport game (shared facility by level)"

    consortium = models.ForeignKey(Consortium, on_delete=models.CASCADE, related_name="scenarios")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MODEL)
    game = models.JSONField(
        default=dict,
        blank=True,
        help_text="Custom games only: the table of coalition costs or the airport game's player types "
        "(simulations.engine.custom's stored form).",
    )
    player_labs = models.JSONField(
        default=dict, blank=True, help_text="Custom games only: {player name: lab id} for players that are labs."
    )
    labs = models.ManyToManyField("labs.Lab", related_name="scenarios")
    parameters = models.JSONField(default=default_parameters, validators=[validate_parameters])
    rules = models.JSONField(default=default_rules, validators=[validate_rules])
    weight_basis = models.CharField(
        "weights of the weighted rule", max_length=10, choices=WEIGHT_BASIS_CHOICES, default="delivered"
    )
    weight_values = models.JSONField(
        "weight per lab",
        default=dict,
        blank=True,
        validators=[validate_weight_values],
        help_text="{lab id: number}: percentages summing to 100 for fixed shares, each lab's number for a "
        "scale; empty for compute delivered, which the ledger gives.",
    )
    overrides = models.JSONField(
        "overrides of lab inputs",
        default=dict,
        blank=True,
        validators=[validate_overrides],
        help_text="{lab id: {field: value}}: lab inputs this scenario's runs use instead of the lab's own "
        "(the lab itself is unchanged).",
    )
    openness_source = models.CharField(
        "openness from",
        max_length=10,
        choices=OPENNESS_SOURCE_CHOICES,
        default="assumed",
        help_text="Every lab's openness: the lab's assumed figure, or the one measured from its artifacts in the "
        "evidence window (a lab without evidence falls back to its assumed figure).",
    )
    openness_by_lab = models.JSONField(
        "openness source per lab",
        default=dict,
        blank=True,
        validators=[validate_openness_by_lab],
        help_text='{lab id: "assumed" | "ledger"}: labs whose openness comes from the other source.',
    )
    evidence_months = models.PositiveSmallIntegerField(
        "evidence window (months)",
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
        help_text="The ledger is read over this many months before each run (1 to 120).",
    )
    weight_cap = models.FloatField(
        "cap on a member's share",
        null=True,
        blank=True,
        validators=[validate_weight_cap],
        help_text="Scale only, optional: the largest share of the joint costs one member pays (0 to 1).",
    )
    draws = models.PositiveIntegerField(
        "Monte Carlo draws", default=1000, validators=[MinValueValidator(1), MaxValueValidator(100_000)]
    )
    seed = models.PositiveIntegerField(default=2026, validators=[MaxValueValidator(2**31 - 1)])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    archived_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when a coordinator archives the scenario: it leaves the lists and starts no runs, "
        "but its runs stay readable.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScenarioQuerySet.as_manager()

    class Meta:
        ordering = ["consortium", "name"]
        constraints = [models.UniqueConstraint(fields=["consortium", "name"], name="scenario_unique_name")]

    def __str__(self) -> str:
        return f"{self.consortium}: {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("simulations:scenario", kwargs={"pk": self.pk})

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def weight_rows(self) -> list[tuple[str, object]]:
        """Each of the scenario's labs with its weight value (None where none is given), by name."""
        return [(lab.name, self.weight_values.get(str(lab.pk))) for lab in self.labs.order_by("name")]

    @property
    def is_custom(self) -> bool:
        return self.kind != self.Kind.MODEL

    def openness_source_of(self, lab_id: int) -> str:
        """Where this scenario takes the lab's openness from: its exception, else the scenario's source."""
        return str(self.openness_by_lab.get(str(lab_id), self.openness_source))

    def effective_parameters(self) -> dict[str, object]:
        """Stored parameters over the defaults, so a scenario saved before a parameter existed still runs."""
        return default_parameters() | dict(self.parameters)
