"""Lever studies over the API: start one (coordinators, 202), follow it and read its findings."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from consortium import access
from consortium.api.common import ErrorSerializer, errors
from simulations import levers, services
from simulations.models import LeverStudy

from .views import Conflict, TooManyActiveRuns, _visible_scenario


class LeverStudyStartSerializer(serializers.Serializer):
    target = serializers.FloatField(
        required=False,
        default=levers.DEFAULT_TARGET,
        min_value=levers.MIN_TARGET,
        max_value=levers.MAX_TARGET,
        help_text="Share of the draws (0.5 to 0.99) in which the levers must keep the first rule in the core.",
    )


class LeverStudySerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    scenario = serializers.PrimaryKeyRelatedField(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)
    sentences = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="The findings in words: embargo, overhead, largest stable group (empty until it has succeeded).",
    )
    results = serializers.JSONField(
        read_only=True,
        help_text="`embargo` and `overhead`: parameter, rule, target, value (null if none in range reaches the "
        "target), prob_at_value, stderr_at_value, beyond, prob_beyond, stderr_beyond, draws, sentence; "
        "`coalition`: rule, method (`exact` or `greedy`), members, removed, max_excess (US$), sentence.",
    )

    class Meta:
        model = LeverStudy
        fields = [
            "id",
            "url",
            "scenario",
            "status",
            "progress",
            "step",
            "rule",
            "target",
            "draws",
            "engine_version",
            "sentences",
            "results",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
        ]
        read_only_fields = fields

    def get_url(self, study: LeverStudy) -> str:
        path = reverse("api-lever-study-detail", kwargs={"pk": study.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


@extend_schema_view(get=extend_schema(responses={200: LeverStudySerializer(many=True), **errors(401, 404)}))
class ScenarioLeverStudiesView(generics.ListAPIView):
    """GET lists a scenario's lever studies, newest first; POST starts one (coordinators) and answers 202."""

    serializer_class = LeverStudySerializer
    filter_backends: list = []

    def get_queryset(self):
        scenario = _visible_scenario(self.request, self.kwargs["pk"])
        return scenario.lever_studies.select_related("created_by").order_by("-created_at", "-id")

    @extend_schema(
        request=LeverStudyStartSerializer,
        responses={
            202: LeverStudySerializer,
            **errors(400, 401, 403, 404, 429),
            409: OpenApiResponse(ErrorSerializer, description="The scenario is archived; unarchive it first."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        scenario = _visible_scenario(request, pk)
        if not access.is_coordinator(request.user, scenario.consortium):
            raise exceptions.PermissionDenied("Only the consortium's coordinators can search for levers.")
        if scenario.is_archived:
            raise Conflict(f"Scenario {scenario.pk} ({scenario.name}) is archived; unarchive it to study its levers.")
        options = LeverStudyStartSerializer(data=request.data or {})
        options.is_valid(raise_exception=True)
        try:
            study = levers.lever_study_create(scenario=scenario, started_by=request.user, **options.validated_data)
        except services.ActiveRunLimitError as exc:
            raise TooManyActiveRuns(str(exc)) from None
        body = LeverStudySerializer(study, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class LeverStudyDetailView(APIView):
    @extend_schema(responses={200: LeverStudySerializer, **errors(401, 404)})
    def get(self, request: Request, pk: int) -> Response:
        study = get_object_or_404(
            LeverStudy.objects.filter(scenario__consortium__in=access.visible_consortia(request.user)), pk=pk
        )
        return Response(LeverStudySerializer(study, context={"request": request}).data)
