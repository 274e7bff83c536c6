"""Serializers of consortia, membership spells and scenarios."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labs.api.serializers import VisibleRelatedField
from labs.models import GPU_CHOICES, RD_SHARE_MAX, THROUGHPUT_FACTOR_MAX, THROUGHPUT_FACTOR_MIN, Lab
from simulations.engine import RULES, WEIGHT_BASES
from simulations.engine.params import AREAS, PARAMETER_SPECS, ParamSpec

from ..access import directory_consortia, invitable_labs, user_lab_ids, visible_consortia
from ..applications import ACCEPT_STATUSES
from ..models import (
    MAX_ID,
    OPENNESS_SOURCE_CHOICES,
    OPENNESS_SOURCES,
    WEIGHT_VALUE_MAX,
    Application,
    Consortium,
    Membership,
    Scenario,
    validate_openness_by_lab,
    validate_overrides,
    validate_parameters,
    validate_rules,
    validate_weight_values,
)
from ..services import SCENARIO_FIELDS
from .common import ModelCleanSerializer


def _parameter_schema(spec: ParamSpec) -> dict[str, Any]:
    number = {"minimum": spec.low, "maximum": spec.high}
    described = {
        "description": f"{spec.label} ({spec.unit}). {spec.source}".replace(" ()", ""),
        "default": spec.to_dict()["default"],
    }
    if spec.kind == "bool":
        return {"type": "boolean", **described}
    if spec.kind == "int":
        return {"type": "integer", **number, **described}
    if spec.kind == "area":
        return {
            "type": "array",
            "items": {"type": "number", **number},
            "minItems": len(AREAS),
            "maxItems": len(AREAS),
            **described,
            "description": described["description"] + f" One value per research area: {', '.join(AREAS)}.",
        }
    return {"type": "number", **number, **described}


@extend_schema_field(
    {
        "type": "object",
        "properties": {name: _parameter_schema(spec) for name, spec in PARAMETER_SPECS.items()},
        "additionalProperties": False,
    }
)
class ParametersField(serializers.JSONField):
    """Scenario parameters; the schema lists each with its unit, default and allowed range."""


@extend_schema_field(
    {"type": "array", "items": {"type": "string", "enum": list(RULES)}, "minItems": 1, "uniqueItems": True}
)
class RulesField(serializers.JSONField):
    pass


def _too_many_labs(count: int) -> str:
    most = settings.SCENARIO_MAX_LABS
    return f"A scenario has at most {most} labs (SCENARIO_MAX_LABS); {count} were given."


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "integer", "minimum": 1},
        "maxItems": settings.SCENARIO_MAX_LABS,
        "description": "Lab ids; a repeated id counts once.",
    }
)
class LabIdsField(serializers.ListField):
    """Lab ids, at most SCENARIO_MAX_LABS, duplicates dropped, all looked up in one query.

    DRF's PrimaryKeyRelatedField(many=True) looks each element up with its own query, and
    ListField checks max_length only after validating every element: a list of 200,000 ones
    kept a worker busy for a minute. The length is checked first here, on the raw list, and an
    element's error is one sentence naming its position (the error shape has a list of strings
    per field).
    """

    child = serializers.IntegerField()

    def to_internal_value(self, data: Any) -> list[Lab]:
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        if len(data) > settings.SCENARIO_MAX_LABS:
            raise serializers.ValidationError(_too_many_labs(len(data)), code="max_length")
        ids = []
        for index, item in enumerate(data):
            try:
                ids.append(self.child.run_validation(item))
            except serializers.ValidationError as exc:
                raise serializers.ValidationError(f"Item {index}: {' '.join(map(str, exc.detail))}") from None
        ids = list(dict.fromkeys(ids))
        # An id no row can have is not looked up (SQLite cannot even compare one beyond 64 bits).
        found = Lab.objects.in_bulk([pk for pk in ids if 1 <= pk <= MAX_ID])
        missing = [pk for pk in ids if pk not in found]
        if missing:
            message = f'Invalid pk "{missing[0]}" - object does not exist.'
            raise serializers.ValidationError(message, code="does_not_exist")
        return [found[pk] for pk in ids]

    def to_representation(self, value: Any) -> list[int]:
        return [lab.pk for lab in value.all()]


def validate_weight_count(value: object) -> None:
    """No more weights than a scenario can have labs (checked before they are looked up)."""
    if isinstance(value, dict) and len(value) > settings.SCENARIO_MAX_LABS:
        raise serializers.ValidationError(
            f"Give at most {settings.SCENARIO_MAX_LABS} weights, one per lab of the scenario (SCENARIO_MAX_LABS); "
            f"{len(value)} were given."
        )


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": settings.SCENARIO_MAX_LABS,
        "additionalProperties": {"type": "number", "minimum": -WEIGHT_VALUE_MAX, "maximum": WEIGHT_VALUE_MAX},
        "description": "For the weighted rule, one number per lab of the scenario, keyed by lab id (as a string): "
        "percentages summing to 100 for `shares`, each lab's number (income, revenue) for `scale`. Empty for "
        "`delivered`, whose weights are the H100-equivalent GPU-hours each lab delivered, from the ledger.",
    }
)
class WeightValuesField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": settings.SCENARIO_MAX_LABS,
        "additionalProperties": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "final_run_gpu_hours": {"type": "integer", "minimum": 1, "maximum": 10**10},
                "rd_share": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": RD_SHARE_MAX},
                "price_per_gpu_hour": {"type": "number", "minimum": 0.01, "maximum": 100, "multipleOf": 0.01},
                "gpu_type": {"type": "string", "enum": [name for name, _ in GPU_CHOICES]},
                "throughput_factor": {
                    "type": "number",
                    "nullable": True,
                    "minimum": THROUGHPUT_FACTOR_MIN,
                    "maximum": THROUGHPUT_FACTOR_MAX,
                },
                "area_weights": {
                    "type": "object",
                    "description": "Every research area with a weight in [0, 1]; the weights sum to 1.",
                    "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
                },
                "openness": {"type": "number", "minimum": 0, "maximum": 1},
            },
        },
        "description": "Lab inputs this scenario's runs use instead of the lab's own, keyed by lab id (as a string) "
        "of the scenario's labs: {lab id: {field: value}}. Each value is checked as the lab's own field is. "
        "Overriding `gpu_type` without `throughput_factor` uses the new type's datasheet factor. The labs "
        "themselves are unchanged; a run's `inputs.overrides` records which values were overridden.",
    }
)
class OverridesField(serializers.JSONField):
    pass


def validate_override_count(value: object) -> None:
    """No more labs with overrides than a scenario can have labs (checked before they are looked up)."""
    if isinstance(value, dict) and len(value) > settings.SCENARIO_MAX_LABS:
        raise serializers.ValidationError(
            f"Give overrides for at most {settings.SCENARIO_MAX_LABS} labs, the scenario's own "
            f"(SCENARIO_MAX_LABS); {len(value)} were given."
        )


class ConsortiumSerializer(ModelCleanSerializer):
    coordinators = serializers.SlugRelatedField(
        slug_field="username", many=True, read_only=True, help_text="Usernames of the coordinators."
    )

    class Meta:
        model = Consortium
        fields = ("id", "name", "slug", "charter", "currency", "listed", "coordinators", "created_at")
        read_only_fields = ("created_at",)


class DirectoryConsortiumSerializer(serializers.ModelSerializer):
    """What the directory shows every signed-in user of a listed consortium."""

    class Meta:
        model = Consortium
        fields = ("id", "name", "slug", "charter")
        read_only_fields = fields


class MembershipSerializer(serializers.ModelSerializer):
    consortium_name = serializers.CharField(source="consortium.name", read_only=True)
    lab_name = serializers.CharField(source="lab.name", read_only=True)
    is_current = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = (
            "id",
            "consortium",
            "consortium_name",
            "lab",
            "lab_name",
            "status",
            "joined_on",
            "left_on",
            "is_current",
        )
        read_only_fields = fields

    def get_is_current(self, spell: Membership) -> bool:
        """Open and not an invitation: the lab takes part in the consortium."""
        return spell.left_on is None and spell.status != Membership.Status.INVITED


@extend_schema_field(OpenApiTypes.INT)
class InvitableLabField(serializers.PrimaryKeyRelatedField):
    """A lab the consortium named in the view's context may pick (consortium.access.invitable_labs).

    A hidden lab gets the very answer a missing one gets, so ids cannot be probed for labs.
    """

    default_error_messages = {
        "does_not_exist": "No lab {pk_value} among the labs this consortium can invite or change.",
    }

    def get_queryset(self):  # type: ignore[no-untyped-def]
        consortium = self.context.get("consortium")
        if consortium is None:
            return Lab.objects.none()
        return invitable_labs(consortium, self.context["request"].user)


class MembershipCreateSerializer(serializers.Serializer):
    """A lab joins, or takes a new status; its current spell, if any, closes on `joined_on`.

    A lab not yet in the consortium is invited (status "invited", whatever status was asked)
    unless the requesting coordinator is one of its users.
    """

    consortium = VisibleRelatedField(visible_consortia)
    lab = InvitableLabField(
        help_text="A lab with a spell in the consortium, one of the caller's labs, or a lab listed in the "
        "directory; any other lab id answers as one that does not exist."
    )
    status = serializers.ChoiceField(choices=Membership.Status.choices)
    joined_on = serializers.DateField(default=datetime.date.today)


class MembershipChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Membership.Status.choices)
    on_date = serializers.DateField(default=datetime.date.today, help_text="Date the new status starts.")


class MembershipEndSerializer(serializers.Serializer):
    on_date = serializers.DateField(default=datetime.date.today, help_text="Date the lab leaves.")


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": settings.SCENARIO_MAX_LABS,
        "additionalProperties": {"type": "string", "enum": list(OPENNESS_SOURCES)},
        "description": "Labs whose openness comes from the other source than `openness_source`, keyed by lab id "
        '(as a string) of the scenario\'s labs: {lab id: "assumed" | "ledger"}. One equal to `openness_source` is '
        "dropped. A lab whose openness is overridden (`overrides`) cannot also take it from the ledger.",
    }
)
class OpennessByLabField(serializers.JSONField):
    pass


def validate_openness_count(value: object) -> None:
    if isinstance(value, dict) and len(value) > settings.SCENARIO_MAX_LABS:
        raise serializers.ValidationError(
            f"Give openness sources for at most {settings.SCENARIO_MAX_LABS} labs, the scenario's own "
            f"(SCENARIO_MAX_LABS); {len(value)} were given."
        )


class ScenarioSerializer(serializers.ModelSerializer):
    consortium = VisibleRelatedField(visible_consortia)
    labs = LabIdsField(help_text="Current members or candidates of the consortium (2 or more).")
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True, default=None)
    parameters = ParametersField(
        required=False,
        validators=[validate_parameters],
        help_text="Cost-model parameters by name (docs/model.md explains each); omitted ones take their "
        "defaults, and the stored scenario lists them all.",
    )
    rules = RulesField(required=False, validators=[validate_rules], help_text="Cost-sharing rules to compute.")
    weight_basis = serializers.ChoiceField(
        choices=list(WEIGHT_BASES.items()),
        required=False,
        help_text="What the weighted rule splits the joint costs by (default `delivered`); checked, with "
        "`weight_values` and `weight_cap`, when `weighted` is among the rules.",
    )
    weight_values = WeightValuesField(required=False, validators=[validate_weight_count, validate_weight_values])
    overrides = OverridesField(required=False, validators=[validate_override_count, validate_overrides])
    openness_source = serializers.ChoiceField(
        choices=OPENNESS_SOURCE_CHOICES,
        required=False,
        help_text="Where every lab's openness comes from (default `assumed`): `assumed`, the lab's own figure, or "
        "`ledger`, the GPU-hour-weighted openness of its artifacts released in the evidence window (open 1, "
        "partially open 0.5, internal fork 0). A lab without evidence falls back to its assumed figure; a run's "
        "`inputs.openness` records, per lab, the source and value used.",
    )
    openness_by_lab = OpennessByLabField(required=False, validators=[validate_openness_count, validate_openness_by_lab])
    evidence_months = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=120,
        help_text="The evidence window: the ledger is read over this many months up to the day a run starts "
        "(default 24).",
    )
    weight_cap = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=1,
        help_text="For `scale` only, optional: the largest share of the joint costs one member pays, above 0 "
        "and at most 1; what a capped member would pay above it is spread over the others.",
    )

    archived = serializers.BooleanField(
        source="is_archived",
        read_only=True,
        help_text="Archived scenarios leave lists and start no runs (409); their runs stay readable. "
        "Change it with the `archive` and `unarchive` actions.",
    )

    class Meta:
        model = Scenario
        fields = (
            "id",
            "consortium",
            *SCENARIO_FIELDS,
            "kind",
            "game",
            "archived",
            "archived_at",
            "created_by",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("archived_at", "created_at", "updated_at", "kind", "game")
        extra_kwargs = {
            "kind": {"help_text": "`model` (the cost model of the labs), or a custom game: `table` or `airport`."},
            "game": {"help_text": "Custom games: the stored table (`players`, `coalitions`) or airport types."},
        }
        # scenario_create/scenario_update check the name per consortium and name the field.
        validators: list = []

    def to_representation(self, instance: Scenario) -> dict[str, Any]:
        data = super().to_representation(instance)
        # A scenario saved before a parameter existed runs with its default; show the values it runs with.
        data["parameters"] = instance.effective_parameters()
        return data


class ScenarioUpdateSerializer(ScenarioSerializer):
    """A scenario stays in its consortium."""

    consortium = serializers.PrimaryKeyRelatedField(read_only=True)


class ApplicationSerializer(serializers.ModelSerializer):
    consortium_name = serializers.CharField(source="consortium.name", read_only=True)
    lab_name = serializers.CharField(source="lab.name", read_only=True)
    applied_by = serializers.CharField(source="applied_by.username", read_only=True, allow_null=True, default=None)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Application
        fields = (
            "id",
            "consortium",
            "consortium_name",
            "lab",
            "lab_name",
            "note",
            "status",
            "applied_by",
            "created_at",
            "decided_by",
            "decided_at",
            "membership",
        )
        read_only_fields = fields
        extra_kwargs = {"membership": {"help_text": "The membership spell the acceptance opened (null otherwise)."}}


def _user_labs(user: Any):  # type: ignore[no-untyped-def]
    return Lab.objects.filter(pk__in=user_lab_ids(user))


class ApplicationCreateSerializer(serializers.Serializer):
    consortium = serializers.PrimaryKeyRelatedField(
        queryset=directory_consortia(), help_text="A consortium listed in the directory."
    )
    lab = VisibleRelatedField(_user_labs, help_text="One of the user's labs.")
    note = serializers.CharField(max_length=2000, help_text="Why the lab wants to join; the coordinators read it.")


class ApplicationAcceptSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[(s.value, s.label) for s in ACCEPT_STATUSES],
        default=Membership.Status.CANDIDATE,
        help_text="What the lab becomes from today (default candidate).",
    )
