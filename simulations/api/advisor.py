"""The membership advisor over the API: GET /api/v1/scenarios/{id}/advisor/ (coordinators only)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from consortium import access
from consortium.api.common import ErrorSerializer, errors
from simulations.advisor import AdvisorError, advisor_get, advisor_payload

from .views import Conflict, _visible_scenario


class LabRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()


class MemberSavingsSerializer(serializers.Serializer):
    lab = LabRefSerializer()
    savings = serializers.FloatField(allow_null=True, help_text="US$, present value, at central parameters.")


class MemberChangeSerializer(serializers.Serializer):
    lab = LabRefSerializer()
    savings_before = serializers.FloatField(allow_null=True, help_text="US$ in the scenario as it is.")
    savings_after = serializers.FloatField(allow_null=True, help_text="US$ after the move.")
    savings_change = serializers.FloatField(allow_null=True, help_text="US$, after minus before.")
    savings_pct_before = serializers.FloatField(allow_null=True, help_text="% of its outside option.")
    savings_pct_after = serializers.FloatField(allow_null=True, help_text="% of its outside option.")


class BringsSerializer(serializers.Serializer):
    area = serializers.CharField(help_text="The research area where the moving lab publishes most shareable research.")
    area_label = serializers.CharField()
    h100_gpu_hours_per_year = serializers.FloatField(
        allow_null=True, help_text="Its shareable research there: openness x area weight x shareable fraction x R&D."
    )
    members_needing = LabRefSerializer(many=True, help_text="Staying members with 20% or more of their research there.")


class VariantSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    lab = LabRefSerializer()
    sources = serializers.ListField(
        child=serializers.CharField(),
        help_text="Why a candidate is listed: `applied`, `member`, `candidate`, `observer` (its open spell in the "
        "consortium), `shares` (artifacts reused between it and the scenario's labs). Empty when leaving.",
    )
    grand_cost = serializers.FloatField(allow_null=True, help_text="c(N) after the move, US$ (present value).")
    grand_cost_change = serializers.FloatField(allow_null=True, help_text="US$, after minus before.")
    members_savings_change = serializers.FloatField(
        allow_null=True, help_text="Sum of the staying members' change in savings, US$: the ranking's key."
    )
    members_better_off = serializers.IntegerField(allow_null=True)
    members_worse_off = serializers.IntegerField(allow_null=True)
    own_savings = serializers.FloatField(
        allow_null=True, help_text="US$: a joiner's savings after joining; a leaver's savings now, which it gives up."
    )
    own_savings_pct = serializers.FloatField(allow_null=True, help_text="% of its outside option.")
    allocation_in_core = serializers.BooleanField(
        allow_null=True, help_text="The first rule's allocation is in the core (null: not proven either way)."
    )
    core_nonempty = serializers.BooleanField(
        allow_null=True, help_text="Least-core epsilon at most the tolerance (null: not proven at this size)."
    )
    least_core_epsilon = serializers.FloatField(
        allow_null=True, help_text="US$; null when not needed (the allocation is in the core) or not computed."
    )
    brings = BringsSerializer()
    reason = serializers.CharField(help_text="One sentence from the figures above.")
    error = serializers.CharField(help_text="Why the variant was not computed (figures null); empty otherwise.")
    members = MemberChangeSerializer(many=True)


class RankingSerializer(serializers.Serializer):
    join = serializers.CharField()
    leave = serializers.CharField()


class AdvisorSerializer(serializers.Serializer):
    scenario = serializers.IntegerField()
    rule = serializers.CharField(help_text="The scenario's first rule, under which every figure is computed.")
    rule_label = serializers.CharField()
    currency = serializers.CharField()
    grand_cost = serializers.FloatField(allow_null=True, help_text="c(N) of the scenario as it is, US$.")
    core_nonempty = serializers.BooleanField(allow_null=True)
    members = MemberSavingsSerializer(many=True)
    ranking = RankingSerializer()
    joining = VariantSerializer(many=True)
    leaving = VariantSerializer(many=True)
    candidates_left_off = serializers.IntegerField(help_text="Candidates beyond ADVISOR_MAX_CANDIDATES, not shown.")
    candidates_skipped = serializers.ListField(
        child=serializers.CharField(), help_text="Candidates whose inputs the engine refuses, each with the reason."
    )
    seconds = serializers.FloatField(help_text="Time the engine took (when first computed).")
    cached = serializers.BooleanField(help_text="Reused from this process's cache: no input changed since.")


class ScenarioAdvisorView(APIView):
    """What each candidate's joining and each member's leaving would do, at central parameters (docs/model.md)."""

    @extend_schema(
        responses={
            200: AdvisorSerializer,
            **errors(401, 403, 404),
            409: OpenApiResponse(
                ErrorSerializer,
                description="The scenario is a custom game, has no labs or more than ADVISOR_MAX_LABS, or its "
                "weighted rule's weights cannot be computed; the message says which.",
            ),
        }
    )
    def get(self, request: Request, pk: int) -> Response:
        scenario = _visible_scenario(request, pk)
        if not access.is_coordinator(request.user, scenario.consortium):
            raise exceptions.PermissionDenied("Only the consortium's coordinators see the membership advisor.")
        try:
            report = advisor_get(scenario=scenario)
        except AdvisorError as error:
            raise Conflict(str(error)) from None
        return Response(AdvisorSerializer(advisor_payload(report)).data)
