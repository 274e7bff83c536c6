"""Serializers of labs, the compute ledger, artifacts and reuse.

Amounts are decimal strings: GPU-hours (of the entry's or lab's GPU type unless the name says
H100-equivalent) and US$; field names carry the unit.
Related objects are chosen among those the requesting user can see, so an id the user may not see
is answered exactly like an id that does not exist.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from consortium.access import visible_artifacts, visible_consortia, visible_labs
from consortium.api.common import ModelCleanSerializer

from ..models import AREAS, Artifact, ArtifactReuse, ComputeContribution, Lab, validate_area_weights
from ..selectors import GROUP_BY_CHOICES
from ..services import AMENDABLE_FIELDS


@extend_schema_field(OpenApiTypes.INT)
class VisibleRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary key among the objects `visible(user)` returns for the requesting user."""

    def __init__(self, visible: Any, **kwargs: Any) -> None:
        self.visible = visible
        super().__init__(**kwargs)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return self.visible(self.context["request"].user)


@extend_schema_field(
    {
        "type": "object",
        "properties": {area: {"type": "number", "minimum": 0, "maximum": 1} for area in AREAS},
        "required": list(AREAS),
        "additionalProperties": False,
        "description": "Share of the lab's R&D in each research area; the shares sum to 1.",
    }
)
class AreaWeightsField(serializers.JSONField):
    pass


class LabSerializer(ModelCleanSerializer):
    area_weights = AreaWeightsField(required=False, validators=[validate_area_weights])
    rd_gpu_hours = serializers.FloatField(
        read_only=True, help_text="R&D compute implied by the final run and the R&D share (GPU-hours/year)."
    )
    standalone_gpu_hours = serializers.FloatField(
        read_only=True, help_text="Final run plus R&D compute when going alone (GPU-hours/year)."
    )
    h100_factor = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="H100-equivalent GPU-hours per GPU-hour: `throughput_factor` if set, else the GPU type's "
        "datasheet factor (dense BF16 TFLOPS relative to the H100).",
    )
    final_run_h100_gpu_hours = serializers.FloatField(
        read_only=True, allow_null=True, help_text="The final run in H100-equivalent GPU-hours per year."
    )

    class Meta:
        model = Lab
        fields = (
            "id",
            "name",
            "slug",
            "kind",
            "country",
            "website",
            "description",
            "gpu_type",
            "throughput_factor",
            "h100_factor",
            "price_per_gpu_hour",
            "final_run_gpu_hours",
            "final_run_h100_gpu_hours",
            "rd_share",
            "area_weights",
            "openness",
            "listed_in_directory",
            "rd_gpu_hours",
            "standalone_gpu_hours",
            "created_at",
        )
        read_only_fields = ("created_at",)


class ContributionSerializer(serializers.ModelSerializer):
    lab_name = serializers.CharField(source="lab.name", read_only=True)
    consortium_name = serializers.CharField(source="consortium.name", read_only=True)
    recorded_by = serializers.CharField(source="recorded_by.username", read_only=True)
    pledged_value = serializers.DecimalField(
        max_digits=24, decimal_places=4, read_only=True, help_text="GPU-hours pledged x price (US$)."
    )
    delivered_value = serializers.DecimalField(
        max_digits=24, decimal_places=4, read_only=True, help_text="GPU-hours delivered x price (US$)."
    )
    h100_gpu_hours_delivered = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="GPU-hours delivered in H100-equivalents: the GPU type's datasheet factor, or for `other` "
        "the lab's throughput factor.",
    )
    reversed_by = serializers.SerializerMethodField(help_text="Id of the reversal of this entry, if corrected.")
    replaced_by = serializers.SerializerMethodField(help_text="Id of the entry that amends this one, if any.")

    class Meta:
        model = ComputeContribution
        fields = (
            "id",
            "lab",
            "lab_name",
            "consortium",
            "consortium_name",
            "entry_type",
            "period_start",
            "period_end",
            "gpu_type",
            "gpu_hours_pledged",
            "gpu_hours_delivered",
            "h100_gpu_hours_delivered",
            "price_per_gpu_hour",
            "cash",
            "pledged_value",
            "delivered_value",
            "evidence_url",
            "evidence_note",
            "reverses",
            "replaces",
            "reversed_by",
            "replaced_by",
            "reason",
            "over_pledge_confirmed",
            "recorded_by",
            "recorded_at",
        )
        read_only_fields = fields

    def get_reversed_by(self, entry: ComputeContribution) -> int | None:
        return getattr(getattr(entry, "reversed_by", None), "pk", None)

    def get_replaced_by(self, entry: ComputeContribution) -> int | None:
        return getattr(getattr(entry, "replaced_by", None), "pk", None)


class ContributionCreateSerializer(serializers.ModelSerializer):
    """A new original entry. The price defaults to the lab's price per GPU-hour."""

    lab = VisibleRelatedField(visible_labs)
    consortium = VisibleRelatedField(visible_consortia)

    class Meta:
        model = ComputeContribution
        fields = ("lab", "consortium", *AMENDABLE_FIELDS)
        extra_kwargs = {"price_per_gpu_hour": {"required": False}}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # An entry posted here is always an original; `entry_type` or `reverses` must not be ignored silently.
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                dict.fromkeys(
                    unknown, "Not accepted here: new entries are originals; POST .../{id}/correct/ to correct."
                )
            )
        return attrs


class CorrectionSerializer(serializers.ModelSerializer):
    """A reason, and the new values of an amendment; without new values the entry is only reversed."""

    reason = serializers.CharField(max_length=300, help_text="Why the entry is corrected.")

    class Meta:
        model = ComputeContribution
        fields = ("reason", *AMENDABLE_FIELDS)
        extra_kwargs = {name: {"required": False} for name in AMENDABLE_FIELDS}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Silently ignoring `lab` or `consortium` would let a client believe it moved the entry.
        fixed = sorted(set(self.initial_data) - set(self.fields))
        if fixed:
            raise serializers.ValidationError(
                dict.fromkeys(fixed, "A correction cannot change this; reverse the entry and log a new one.")
            )
        return attrs


class CorrectionResultSerializer(serializers.Serializer):
    reversal = ContributionSerializer()
    replacement = ContributionSerializer(allow_null=True)


class TotalsQuerySerializer(serializers.Serializer):
    consortium = VisibleRelatedField(visible_consortia, required=False)
    lab = VisibleRelatedField(visible_labs, required=False)
    start = serializers.DateField(required=False, help_text="Entries whose period starts on or after this date.")
    end = serializers.DateField(required=False, help_text="Entries whose period starts on or before this date.")
    group_by = serializers.CharField(
        required=False,
        default="lab",
        allow_blank=True,
        help_text=f"Comma-separated, from {', '.join(GROUP_BY_CHOICES)}; empty for one grand total.",
    )

    def validate_group_by(self, value: str) -> tuple[str, ...]:
        items = tuple(item.strip() for item in value.split(",") if item.strip())
        unknown = sorted(set(items) - set(GROUP_BY_CHOICES))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown grouping {', '.join(unknown)}; choose from {', '.join(GROUP_BY_CHOICES)}."
            )
        return items

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # DRF skips an optional parameter given empty (`?start=`); a client should hear about it.
        empty = [name for name in ("consortium", "lab", "start", "end") if self.initial_data.get(name) == ""]
        if empty:
            raise serializers.ValidationError(dict.fromkeys(empty, "Give a value or leave the parameter out."))
        if attrs.get("start") and attrs.get("end") and attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": "The end date cannot be before the start date."})
        return attrs


class TotalsRowSerializer(serializers.Serializer):
    lab = serializers.IntegerField(required=False, help_text="Present when grouped by lab.")
    lab_name = serializers.CharField(required=False)
    quarter = serializers.DateField(required=False, help_text="First day of the quarter, when grouped by quarter.")
    gpu_type = serializers.CharField(required=False)
    entries = serializers.IntegerField(help_text="Ledger entries summed (originals, reversals, replacements).")
    gpu_hours_pledged = serializers.DecimalField(max_digits=24, decimal_places=2, help_text="GPU-hours.")
    gpu_hours_delivered = serializers.DecimalField(max_digits=24, decimal_places=2, help_text="GPU-hours.")
    pledged_value = serializers.DecimalField(max_digits=24, decimal_places=2, help_text="US$.")
    delivered_value = serializers.DecimalField(max_digits=24, decimal_places=2, help_text="US$.")
    cash = serializers.DecimalField(max_digits=24, decimal_places=2, help_text="US$.")


class TotalsSerializer(serializers.Serializer):
    group_by = serializers.ListField(child=serializers.CharField())
    units = serializers.DictField(child=serializers.CharField())
    results = TotalsRowSerializer(many=True)


class ArtifactSerializer(ModelCleanSerializer):
    lab = VisibleRelatedField(visible_labs)
    lab_name = serializers.CharField(source="lab.name", read_only=True)

    class Meta:
        model = Artifact
        fields = (
            "id",
            "lab",
            "lab_name",
            "kind",
            "title",
            "url",
            "licence",
            "openness",
            "research_area",
            "reproduction_gpu_hours",
            "release_date",
            "created_at",
        )
        read_only_fields = ("created_at",)


class ArtifactUpdateSerializer(ArtifactSerializer):
    """An artifact stays with the lab that published it."""

    lab = serializers.PrimaryKeyRelatedField(read_only=True)


class ReuseSerializer(ModelCleanSerializer):
    artifact = VisibleRelatedField(visible_artifacts)
    reusing_lab = VisibleRelatedField(visible_labs)
    artifact_title = serializers.CharField(source="artifact.title", read_only=True)
    artifact_lab = serializers.IntegerField(source="artifact.lab_id", read_only=True)
    reusing_lab_name = serializers.CharField(source="reusing_lab.name", read_only=True)

    class Meta:
        model = ArtifactReuse
        fields = (
            "id",
            "artifact",
            "artifact_title",
            "artifact_lab",
            "reusing_lab",
            "reusing_lab_name",
            "reused_on",
            "gpu_hours_saved",
            "saving_exceeds_reason",
            "note",
            "created_at",
        )
        read_only_fields = ("created_at",)


class ReuseUpdateSerializer(ReuseSerializer):
    """Which lab reused which artifact is fixed once logged; the date, estimate and note can change."""

    artifact = serializers.PrimaryKeyRelatedField(read_only=True)
    reusing_lab = serializers.PrimaryKeyRelatedField(read_only=True)
