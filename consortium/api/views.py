"""REST endpoints of consortia, membership history and scenarios (under /api/v1/).

Objects outside the user's consortia answer 404; inside them, changes are for coordinators (403
for anyone else). Membership spells are history: they are opened, changed and ended through
actions, never edited or deleted (405).
"""

from __future__ import annotations

import math

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from .. import services
from ..access import (
    can_answer_invitation,
    can_edit_lab,
    directory_consortia,
    is_coordinator,
    visible_consortia,
    visible_memberships,
    visible_scenarios,
)
from ..models import Consortium, Membership, Scenario
from . import serializers as s
from .common import (
    IdFilter,
    IsCoordinatorOrReadOnly,
    JsonOnlyMixin,
    ListPagination,
    StrictFilterSet,
    django_errors_to_drf,
    errors,
)

READ = errors(401, 404)
LIST = errors(400, 401, 404)
CREATE = errors(400, 401, 403, 415)
CHANGE = errors(400, 401, 403, 404, 415)
IMMUTABLE = errors(401, 404, 405)


def _require_coordinator(request: Request, consortium: Consortium) -> None:
    if not is_coordinator(request.user, consortium):
        raise exceptions.PermissionDenied(f"Only coordinators of {consortium} can do this.")


def _visible_consortium_in(request: Request, field: str) -> Consortium | None:
    """The visible consortium a request body names, or None when the serializer should reject it."""
    raw = request.data.get(field) if hasattr(request.data, "get") else None
    try:
        return visible_consortia(request.user).get(pk=raw)
    except (Consortium.DoesNotExist, ValueError, TypeError):
        return None


class MembershipFilter(StrictFilterSet):
    consortium = IdFilter()
    lab = IdFilter()
    current = django_filters.BooleanFilter(
        method="filter_current", label="Current spells (open, not invitations) only, or (false) the others"
    )

    class Meta:
        model = Membership
        fields = ("consortium", "lab", "status", "current")

    def filter_current(self, queryset, name, value):  # type: ignore[no-untyped-def]
        current = Membership.objects.current().values("pk")
        return queryset.filter(pk__in=current) if value else queryset.exclude(pk__in=current)


class ScenarioFilter(StrictFilterSet):
    consortium = IdFilter()
    name = django_filters.CharFilter(lookup_expr="icontains")
    archived = django_filters.BooleanFilter(
        method="filter_archived",
        label="Include archived scenarios (true); without it, or with false, only active ones are listed",
    )

    class Meta:
        model = Scenario
        fields = ("consortium", "name", "archived")

    def filter_archived(self, queryset, name, value):  # type: ignore[no-untyped-def]
        return queryset if value else queryset.active()


@extend_schema_view(
    list=extend_schema(
        summary="Consortia the user belongs to or coordinates",
        responses={200: s.ConsortiumSerializer(many=True), **LIST},
    ),
    retrieve=extend_schema(summary="One consortium", responses={200: s.ConsortiumSerializer, **READ}),
    create=extend_schema(
        summary="Found a consortium (its founder becomes its coordinator)",
        responses={201: s.ConsortiumSerializer, **CREATE},
    ),
    update=extend_schema(
        summary="Replace a consortium's profile (coordinators only)",
        responses={200: s.ConsortiumSerializer, **CHANGE},
    ),
    partial_update=extend_schema(
        summary="Change a consortium's profile (coordinators only)",
        responses={200: s.ConsortiumSerializer, **CHANGE},
    ),
    destroy=extend_schema(summary="Consortia are not deleted over the API (staff use the admin)", responses=IMMUTABLE),
)
class ConsortiumViewSet(JsonOnlyMixin, viewsets.ModelViewSet):
    serializer_class = s.ConsortiumSerializer
    permission_classes = [IsAuthenticated, IsCoordinatorOrReadOnly]
    pagination_class = ListPagination
    filterset_fields = ("currency",)
    ordering_fields = ("name", "created_at")
    ordering = ("name",)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return visible_consortia(self.request.user).prefetch_related("coordinators")

    def consortium_of(self, consortium: Consortium) -> Consortium:
        return consortium

    def perform_create(self, serializer: s.ConsortiumSerializer) -> None:
        serializer.instance = services.consortium_create(created_by=self.request.user, **serializer.validated_data)

    def destroy(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        # A consortium carries a ledger and membership history; removing one is a staff decision.
        raise exceptions.MethodNotAllowed(request.method)

    @extend_schema(
        summary="The directory: consortia listed as open to applications (name and charter only)",
        responses={200: s.DirectoryConsortiumSerializer(many=True), **LIST},
    )
    @action(detail=False, methods=["get"], filterset_fields=(), ordering_fields=("name",))
    def directory(self, request: Request) -> Response:
        listed = self.filter_queryset(directory_consortia().order_by("name"))
        page = self.paginate_queryset(listed)
        return self.get_paginated_response(s.DirectoryConsortiumSerializer(page, many=True).data)


@extend_schema_view(
    list=extend_schema(
        summary="Membership spells (history included) of the user's consortia",
        responses={200: s.MembershipSerializer(many=True), **LIST},
    ),
    retrieve=extend_schema(summary="One membership spell", responses={200: s.MembershipSerializer, **READ}),
    create=extend_schema(
        summary="A lab joins or takes a new status (coordinators only); a current spell closes that day",
        request=s.MembershipCreateSerializer,
        responses={201: s.MembershipSerializer, **CREATE, **errors(429)},
    ),
    update=extend_schema(summary="Not allowed: spells are history", request=None, responses=IMMUTABLE),
    partial_update=extend_schema(summary="Not allowed: spells are history", request=None, responses=IMMUTABLE),
    destroy=extend_schema(summary="Not allowed: spells are history; end the spell instead", responses=IMMUTABLE),
)
class MembershipViewSet(JsonOnlyMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.MembershipSerializer
    permission_classes = [IsAuthenticated, IsCoordinatorOrReadOnly]
    pagination_class = ListPagination
    filterset_class = MembershipFilter
    ordering_fields = ("joined_on", "left_on", "lab__name")
    ordering = ("consortium_id", "lab__name", "-joined_on")

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return visible_memberships(self.request.user).select_related("lab", "consortium")

    def consortium_of(self, spell: Membership) -> Consortium:
        return spell.consortium

    def create(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        consortium = _visible_consortium_in(request, "consortium")
        if consortium is not None:
            _require_coordinator(request, consortium)
        context = self.get_serializer_context() | {"consortium": consortium}
        incoming = s.MembershipCreateSerializer(data=request.data, context=context)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            spell = services.membership_change(
                consortium=data["consortium"],
                lab=data["lab"],
                status=data["status"],
                on_date=data["joined_on"],
                by=request.user,
            )
        except services.InvitationLimitReached as exc:
            wait = max(1, math.ceil((exc.retry_at - timezone.now()).total_seconds()))
            raise exceptions.Throttled(wait=wait, detail=" ".join(exc.messages)) from None
        except DjangoValidationError as exc:
            # The service calls the date on_date; this request calls it joined_on.
            raise django_errors_to_drf(exc, rename={"on_date": "joined_on"}) from None
        return Response(self.get_serializer(spell).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        raise exceptions.MethodNotAllowed(
            request.method, detail="Membership spells are history; POST a change instead."
        )

    def partial_update(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        raise exceptions.MethodNotAllowed(
            request.method, detail="Membership spells are history; POST a change instead."
        )

    def destroy(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        raise exceptions.MethodNotAllowed(request.method, detail="Membership spells are history; POST an end instead.")

    def _current_spell(self) -> Membership:
        spell = self.get_object()
        if spell.left_on is not None:
            raise exceptions.ValidationError(
                {"non_field_errors": [f"This spell ended on {spell.left_on}; change the lab's current spell."]}
            )
        return spell

    @extend_schema(
        summary="Change a current spell's status: it closes on `on_date` and a new spell opens",
        request=s.MembershipChangeSerializer,
        responses={201: s.MembershipSerializer, **CHANGE},
    )
    @action(detail=True, methods=["post"])
    def change(self, request: Request, pk: str | None = None) -> Response:
        spell = self._current_spell()
        incoming = s.MembershipChangeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        new = services.membership_change(
            consortium=spell.consortium,
            lab=spell.lab,
            status=incoming.validated_data["status"],
            on_date=incoming.validated_data["on_date"],
            by=request.user,
        )
        return Response(self.get_serializer(new).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="End a current spell: the lab leaves the consortium on `on_date`",
        request=s.MembershipEndSerializer,
        responses={200: s.MembershipSerializer, **CHANGE},
    )
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: str | None = None) -> Response:
        spell = self._current_spell()
        incoming = s.MembershipEndSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        ended = services.membership_end(
            consortium=spell.consortium, lab=spell.lab, on_date=incoming.validated_data["on_date"], by=request.user
        )
        return Response(self.get_serializer(ended).data)

    def _invitation(self) -> Membership:
        """The spell to answer: 403 unless the user is one of the lab's users, 400 if it is no open invitation."""
        spell = self.get_object()
        if not can_edit_lab(self.request.user, spell.lab):
            raise exceptions.PermissionDenied(f"Only users of {spell.lab} can answer its invitations.")
        if not can_answer_invitation(self.request.user, spell):
            raise exceptions.ValidationError({"non_field_errors": ["This spell is not an open invitation."]})
        return spell

    @extend_schema(
        summary="The invited lab accepts (its users only): the invitation closes today, a candidate spell opens",
        request=None,
        responses={201: s.MembershipSerializer, **errors(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def accept(self, request: Request, pk: str | None = None) -> Response:
        spell = self._invitation()
        try:
            candidate = services.membership_accept(spell=spell, by=request.user)
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from None
        return Response(self.get_serializer(candidate).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The invited lab declines (its users only): the invitation closes today",
        request=None,
        responses={200: s.MembershipSerializer, **errors(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def decline(self, request: Request, pk: str | None = None) -> Response:
        spell = self._invitation()
        try:
            closed = services.membership_decline(spell=spell, by=request.user)
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from None
        return Response(self.get_serializer(closed).data)


@extend_schema_view(
    list=extend_schema(
        summary="Scenarios of the user's consortia", responses={200: s.ScenarioSerializer(many=True), **LIST}
    ),
    retrieve=extend_schema(summary="One scenario", responses={200: s.ScenarioSerializer, **READ}),
    create=extend_schema(
        summary="Create a scenario (coordinators only)", responses={201: s.ScenarioSerializer, **CREATE}
    ),
    update=extend_schema(
        summary="Replace a scenario (coordinators only)",
        request=s.ScenarioUpdateSerializer,
        responses={200: s.ScenarioSerializer, **CHANGE},
    ),
    partial_update=extend_schema(
        summary="Change a scenario (coordinators only)",
        request=s.ScenarioUpdateSerializer,
        responses={200: s.ScenarioSerializer, **CHANGE},
    ),
    destroy=extend_schema(
        summary="Delete a scenario and its runs (coordinators only)",
        responses={204: OpenApiResponse(description="Deleted."), **errors(401, 403, 404)},
    ),
    archive=extend_schema(
        summary="Archive a scenario (coordinators only): it leaves lists and starts no runs; its runs stay readable",
        request=None,
        responses={200: s.ScenarioSerializer, **errors(401, 403, 404)},
    ),
    unarchive=extend_schema(
        summary="Unarchive a scenario (coordinators only): it is listed again and can start runs",
        request=None,
        responses={200: s.ScenarioSerializer, **errors(401, 403, 404)},
    ),
    duplicate=extend_schema(
        summary="Copy a scenario's fields and labs into a new one named “Copy of …” (coordinators only)",
        request=None,
        responses={201: s.ScenarioSerializer, **errors(400, 401, 403, 404)},
    ),
)
class ScenarioViewSet(JsonOnlyMixin, viewsets.ModelViewSet):
    permission_classes = [IsAuthenticated, IsCoordinatorOrReadOnly]
    pagination_class = ListPagination
    filterset_class = ScenarioFilter
    ordering_fields = ("name", "created_at", "updated_at")
    ordering = ("consortium_id", "name")

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return visible_scenarios(self.request.user).select_related("created_by").prefetch_related("labs")

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return s.ScenarioUpdateSerializer if self.action in ("update", "partial_update") else s.ScenarioSerializer

    def consortium_of(self, scenario: Scenario) -> Consortium:
        return scenario.consortium

    def create(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        consortium = _visible_consortium_in(request, "consortium")
        if consortium is not None:
            _require_coordinator(request, consortium)
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer: s.ScenarioSerializer) -> None:
        serializer.instance = services.scenario_create(created_by=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: s.ScenarioSerializer) -> None:
        serializer.instance = services.scenario_update(scenario=serializer.instance, **serializer.validated_data)

    def filter_queryset(self, queryset):  # type: ignore[no-untyped-def]
        queryset = super().filter_queryset(queryset)
        # Lists leave archived scenarios out unless asked; one is still found by its id.
        if self.action == "list" and "archived" not in self.request.query_params:
            queryset = queryset.active()
        return queryset

    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: str | None = None) -> Response:
        scenario = services.scenario_archive(scenario=self.get_object(), by=request.user)
        return Response(self.get_serializer(scenario).data)

    @action(detail=True, methods=["post"])
    def unarchive(self, request: Request, pk: str | None = None) -> Response:
        scenario = services.scenario_unarchive(scenario=self.get_object(), by=request.user)
        return Response(self.get_serializer(scenario).data)

    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, pk: str | None = None) -> Response:
        try:
            copy = services.scenario_duplicate(scenario=self.get_object(), by=request.user)
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from None
        body = self.get_serializer(copy).data
        location = reverse("scenario-detail", kwargs={"pk": copy.pk}, request=request)
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})
