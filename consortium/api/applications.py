"""REST endpoints of applications to join a consortium (under /api/v1/applications/).

A lab's users apply to a listed consortium (403 for a lab they see but do not belong to, 400 for
one they do not see or a consortium that is not listed); the consortium's coordinators accept or
decline (404 for whoever cannot see the application, 403 for the lab's users and staff).
Applications are never edited or deleted over the API.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from labs.api.views import _require_lab_user

from .. import applications
from ..access import is_coordinator, visible_applications
from ..models import Application
from . import serializers as s
from .common import IdFilter, JsonOnlyMixin, ListPagination, StrictFilterSet, django_errors_to_drf, errors


class ApplicationFilter(StrictFilterSet):
    consortium = IdFilter()
    lab = IdFilter()

    class Meta:
        model = Application
        fields = ("consortium", "lab", "status")


ANSWER = errors(400, 401, 403, 404, 415)


@extend_schema_view(
    list=extend_schema(
        summary="Applications of the user's labs and to the consortia the user coordinates",
        responses={200: s.ApplicationSerializer(many=True), **errors(400, 401, 404)},
    ),
    retrieve=extend_schema(summary="One application", responses={200: s.ApplicationSerializer, **errors(401, 404)}),
    create=extend_schema(
        summary="A lab applies to join a listed consortium (the lab's users only); one pending at a time",
        request=s.ApplicationCreateSerializer,
        responses={201: s.ApplicationSerializer, **errors(400, 401, 403, 415)},
    ),
)
class ApplicationViewSet(
    JsonOnlyMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    serializer_class = s.ApplicationSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = ListPagination
    filterset_class = ApplicationFilter
    ordering_fields = ("created_at", "decided_at")
    ordering = ("-created_at", "-id")

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return visible_applications(self.request.user).select_related("consortium", "lab", "applied_by", "decided_by")

    def create(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        _require_lab_user(request, "lab", "apply for it")
        incoming = s.ApplicationCreateSerializer(data=request.data, context=self.get_serializer_context())
        incoming.is_valid(raise_exception=True)
        try:
            application = applications.application_create(by=request.user, **incoming.validated_data)
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from None
        return Response(self.get_serializer(application).data, status=status.HTTP_201_CREATED)

    def _to_answer(self) -> Application:
        application = self.get_object()
        if not is_coordinator(self.request.user, application.consortium):
            raise exceptions.PermissionDenied(f"Only coordinators of {application.consortium} answer applications.")
        return application

    @extend_schema(
        summary="Accept (coordinators only): the lab joins as candidate, or the status given, from today",
        request=s.ApplicationAcceptSerializer,
        responses={200: s.ApplicationSerializer, **ANSWER},
    )
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str | None = None) -> Response:
        application = self._to_answer()
        incoming = s.ApplicationAcceptSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            application = applications.application_accept(
                application=application, by=request.user, status=incoming.validated_data["status"]
            )
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from None
        return Response(self.get_serializer(application).data)

    @extend_schema(
        summary="Decline (coordinators only): the application closes; the lab may apply again later",
        request=None,
        responses={200: s.ApplicationSerializer, **errors(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str | None = None) -> Response:
        application = self._to_answer()
        try:
            application = applications.application_decline(application=application, by=request.user)
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from None
        return Response(self.get_serializer(application).data)
