"""Serializers of consortia, membership spells and scenarios."""

from __future__ import annotations

import datetime

from rest_framework import serializers

from labs.api.serializers import VisibleRelatedField
from labs.models import Lab

from ..access import visible_consortia
from ..models import Consortium, Membership, Scenario
from .common import ModelCleanSerializer


class ConsortiumSerializer(ModelCleanSerializer):
    coordinators = serializers.SlugRelatedField(
        slug_field="username", many=True, read_only=True, help_text="Usernames of the coordinators."
    )

    class Meta:
        model = Consortium
        fields = ("id", "name", "slug", "charter", "currency", "coordinators", "created_at")
        read_only_fields = ("created_at",)


class MembershipSerializer(serializers.ModelSerializer):
    lab_name = serializers.CharField(source="lab.name", read_only=True)
    is_current = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ("id", "consortium", "lab", "lab_name", "status", "joined_on", "left_on", "is_current")
        read_only_fields = fields

    def get_is_current(self, spell: Membership) -> bool:
        return spell.left_on is None


class MembershipCreateSerializer(serializers.Serializer):
    """A lab joins, or takes a new status; its current spell, if any, closes on `joined_on`."""

    consortium = VisibleRelatedField(visible_consortia)
    # Any lab may be invited, including one the coordinator cannot see yet.
    lab = serializers.PrimaryKeyRelatedField(queryset=Lab.objects.all())
    status = serializers.ChoiceField(choices=Membership.Status.choices)
    joined_on = serializers.DateField(default=datetime.date.today)


class MembershipChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Membership.Status.choices)
    on_date = serializers.DateField(default=datetime.date.today, help_text="Date the new status starts.")


class MembershipEndSerializer(serializers.Serializer):
    on_date = serializers.DateField(default=datetime.date.today, help_text="Date the lab leaves.")


class ScenarioSerializer(serializers.ModelSerializer):
    consortium = VisibleRelatedField(visible_consortia)
    labs = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Lab.objects.all(), help_text="Current members or candidates of the consortium (2 or more)."
    )
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = Scenario
        fields = (
            "id",
            "consortium",
            "name",
            "description",
            "labs",
            "parameters",
            "rules",
            "draws",
            "seed",
            "created_by",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("created_at", "updated_at")
        # scenario_create/scenario_update check the name per consortium and name the field.
        validators: list = []
        extra_kwargs = {
            "parameters": {
                "required": False,
                "help_text": "Cost-model parameters by name (docs/model.md lists them with defaults, ranges "
                "and units); omitted ones take their defaults.",
            },
            "rules": {"required": False, "help_text": 'Cost-sharing rules to compute, e.g. ["shapley", "nucleolus"].'},
        }


class ScenarioUpdateSerializer(ScenarioSerializer):
    """A scenario stays in its consortium."""

    consortium = serializers.PrimaryKeyRelatedField(read_only=True)
