"""Custom games over the API: a table of coalition costs or an airport game, as a scenario.

`POST /api/v1/games/` creates one in a consortium the caller coordinates; `PUT /api/v1/games/{id}/`
replaces its table, rules, name or description. The scenario resource (`/api/v1/scenarios/{id}/`)
reads it (with `kind` and `game`), and runs and results go through the same endpoints as any
scenario. The game may be sent as text (the CSV or JSON the page and the CLI read) or as a JSON
object (a coalition table {"A+B": cost} or an airport game {"levels": ..., "players": [...]}).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from consortium import services
from consortium.access import is_coordinator, visible_consortia
from consortium.models import Consortium, Scenario, validate_rules

from .common import JsonOnlyMixin, django_errors_to_drf, errors
from .serializers import RulesField, ScenarioSerializer


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": "CSV or JSON text"},
            {"type": "object", "description": "A coalition table or an airport game"},
        ]
    }
)
class GameField(serializers.Field):
    """The game as CSV or JSON text, or as a JSON object / list."""

    default_error_messages = {"invalid": "Give the game as text (CSV or JSON) or as a JSON object."}

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, str):
            return data
        if isinstance(data, dict | list):
            return json.dumps(data)
        self.fail("invalid")

    def to_representation(self, value: Any) -> Any:
        return value


class CustomGameSerializer(serializers.Serializer):
    consortium = serializers.IntegerField(help_text="The consortium's id; you must coordinate it.")
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=["table", "airport"], help_text="`table` or `airport`.")
    game = GameField(
        help_text="CSV text (`coalition,cost`, or `player,level,cost,count` for an airport game), JSON text, "
        "or a JSON object. Errors name the row."
    )
    rules = RulesField(
        validators=[validate_rules],
        help_text="Cost-sharing rules to compute; every rule but `weighted` (a custom game has no member weights).",
    )


class CustomGameUpdateSerializer(CustomGameSerializer):
    consortium = None  # type: ignore[assignment]
    kind = None  # type: ignore[assignment]


def _coordinated_consortium(request: Request, pk: Any) -> Consortium:
    try:
        consortium = visible_consortia(request.user).get(pk=pk)
    except (Consortium.DoesNotExist, ValueError, TypeError):
        raise serializers.ValidationError({"consortium": ["No such consortium."]}) from None
    if not is_coordinator(request.user, consortium):
        raise exceptions.PermissionDenied(f"Only coordinators of {consortium} can do this.")
    return consortium


class CustomGameCreateView(JsonOnlyMixin, APIView):
    @extend_schema(
        request=CustomGameSerializer,
        responses={201: ScenarioSerializer, **errors(400, 401, 403)},
        summary="Create a custom game (a table of coalition costs or an airport game)",
    )
    def post(self, request: Request) -> Response:
        body = CustomGameSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        consortium = _coordinated_consortium(request, data["consortium"])
        try:
            scenario = services.custom_game_create(
                consortium=consortium,
                created_by=request.user,
                name=data["name"],
                description=data["description"],
                kind=data["kind"],
                text=data["game"],
                rules=data["rules"],
            )
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from None
        out = ScenarioSerializer(scenario, context={"request": request}).data
        return Response(out, status=status.HTTP_201_CREATED)


class CustomGameUpdateView(JsonOnlyMixin, APIView):
    @extend_schema(
        request=CustomGameUpdateSerializer,
        responses={200: ScenarioSerializer, **errors(400, 401, 403, 404)},
        summary="Replace a custom game's table, rules, name or description",
    )
    def put(self, request: Request, pk: int) -> Response:
        scenario = get_object_or_404(
            Scenario.objects.filter(consortium__in=visible_consortia(request.user)).exclude(kind=Scenario.Kind.MODEL),
            pk=pk,
        )
        if not is_coordinator(request.user, scenario.consortium):
            raise exceptions.PermissionDenied(f"Only coordinators of {scenario.consortium} can do this.")
        body = CustomGameUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            services.custom_game_update(
                scenario=scenario,
                name=data["name"],
                description=data["description"],
                text=data["game"],
                rules=data["rules"],
            )
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from None
        return Response(ScenarioSerializer(scenario, context={"request": request}).data)
