"""Simulation runs over the API: start (coordinators), read status and results (the consortium's people)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from consortium import access
from consortium.api.common import ErrorSerializer, errors
from consortium.csv_export import csv_response
from consortium.models import Scenario
from simulations import selectors, services
from simulations.focus import FOCUS_COLUMNS, focus_rows
from simulations.models import SimulationRun

from .serializers import RunResultsSerializer, RunSerializer, RunStartSerializer, results_payload


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class TooManyActiveRuns(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_active_runs"


CONFLICT = {409: OpenApiResponse(ErrorSerializer, description="The run is not in a state that allows this.")}


def _visible_scenario(request: Request, pk: int) -> Scenario:
    return get_object_or_404(
        Scenario.objects.filter(consortium__in=access.visible_consortia(request.user)).select_related("consortium"),
        pk=pk,
    )


def _visible_run(request: Request, pk: int) -> SimulationRun:
    return get_object_or_404(selectors.visible_runs(user=request.user), pk=pk)


@extend_schema_view(get=extend_schema(responses={200: RunSerializer(many=True), **errors(401, 404)}))
class ScenarioRunsView(generics.ListAPIView):
    """GET lists a scenario's runs, newest first; POST starts a run (coordinators) and answers 202."""

    serializer_class = RunSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.scenario_runs(scenario=_visible_scenario(self.request, self.kwargs["pk"]))

    @extend_schema(
        request=RunStartSerializer,
        responses={
            202: RunSerializer,
            **errors(400, 401, 403, 404, 429),
            409: OpenApiResponse(ErrorSerializer, description="The scenario is archived; unarchive it first."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        scenario = _visible_scenario(request, pk)
        if not access.is_coordinator(request.user, scenario.consortium):
            raise exceptions.PermissionDenied("Only the consortium's coordinators can start runs.")
        if scenario.is_archived:
            raise Conflict(
                f"Scenario {scenario.pk} ({scenario.name}) is archived and starts no new runs; unarchive it first."
            )
        options = RunStartSerializer(data=request.data or {})
        options.is_valid(raise_exception=True)
        try:
            run = services.run_create(scenario=scenario, started_by=request.user, **options.validated_data)
        except services.ActiveRunLimitError as exc:
            raise TooManyActiveRuns(str(exc)) from None
        body = RunSerializer(run, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class RunDetailView(APIView):
    @extend_schema(responses={200: RunSerializer, **errors(401, 404)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(RunSerializer(_visible_run(request, pk), context={"request": request}).data)


class RunResultsView(APIView):
    @extend_schema(responses={200: RunResultsSerializer, **errors(401, 404), **CONFLICT})
    def get(self, request: Request, pk: int) -> Response:
        run = _visible_run(request, pk)
        if run.status != SimulationRun.Status.SUCCEEDED:
            raise Conflict(f"Run {run.pk} is {run.status}; its results are available once it has succeeded.")
        results = selectors.run_results_get(run=run)
        context = {"request": request}
        return Response(results_payload(results, currency=run.scenario.consortium.currency, context=context))


class RunFocusView(APIView):
    """The run's allocation as FOCUS 1.3 allocated charges (CSV); columns in docs/api.md."""

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="One allocated charge per member and rule, adding back to c(N)."
            ),
            **errors(401, 404),
            **CONFLICT,
        }
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        run = _visible_run(request, pk)
        if run.status != SimulationRun.Status.SUCCEEDED:
            raise Conflict(f"Run {run.pk} is {run.status}; its allocation is available once it has succeeded.")
        results = selectors.run_results_get(run=run)
        return csv_response(f"run-{run.pk}-allocation-focus.csv", FOCUS_COLUMNS, focus_rows(results))


class RunCancelView(APIView):
    @extend_schema(request=None, responses={200: RunSerializer, **errors(401, 403, 404), **CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        run = _visible_run(request, pk)
        if not access.is_coordinator(request.user, run.scenario.consortium):
            raise exceptions.PermissionDenied("Only the consortium's coordinators can cancel its runs.")
        if run.is_finished:
            raise Conflict(f"Run {run.pk} has already {run.status}; only queued or running runs can be cancelled.")
        run = services.run_cancel(run=run, by=request.user)
        return Response(RunSerializer(run, context={"request": request}).data)
