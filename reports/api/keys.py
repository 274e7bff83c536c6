"""API-key management: a consortium's coordinators list, create and revoke its keys; staff list them.

An API key never manages keys: ApiKeyAuthentication refuses keys on every endpoint but reports.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from consortium import access
from consortium.api.common import ListPagination
from consortium.api.parsers import BoundedJSONParser
from consortium.models import Consortium
from reports.models import ApiKey
from reports.services import api_key_create, api_key_revoke

from . import serializers as s
from .views import CONSORTIUM_SLUG, ERRORS


class KeyManager(permissions.BasePermission):
    """Coordinators manage their consortium's keys; staff may list them."""

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        consortium = view.consortium
        if access.is_coordinator(request.user, consortium):
            return True
        if request.user.is_staff and request.method in permissions.SAFE_METHODS:
            return True
        self.message = "Only the consortium's coordinators manage its API keys."
        return False


KEY_ERRORS = {
    401: OpenApiResponse(s.ErrorSerializer, description="No credentials."),
    403: OpenApiResponse(s.ErrorSerializer, description="Not a coordinator (staff may only list), or an API key."),
    404: OpenApiResponse(s.ErrorSerializer, description="No such consortium (or not visible) or key."),
    429: ERRORS[429],
}


@extend_schema_view(
    list=extend_schema(
        summary="List the consortium's API keys",
        responses={200: s.ApiKeySerializer, 400: ERRORS[400], **KEY_ERRORS},
    ),
    retrieve=extend_schema(summary="One API key", responses={200: s.ApiKeySerializer, **KEY_ERRORS}),
    create=extend_schema(
        summary="Create an API key (the secret is in this response only)",
        request=s.ApiKeySerializer,
        responses={201: s.ApiKeyCreatedSerializer, 400: ERRORS[400], **KEY_ERRORS},
    ),
    destroy=extend_schema(
        summary="Revoke an API key", responses={204: OpenApiResponse(description="Revoked."), **KEY_ERRORS}
    ),
    revoke=extend_schema(summary="Revoke an API key", request=None, responses={200: s.ApiKeySerializer, **KEY_ERRORS}),
)
@extend_schema(parameters=[CONSORTIUM_SLUG], tags=["api keys"])
class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    serializer_class = s.ApiKeySerializer
    parser_classes = [BoundedJSONParser]
    permission_classes = [permissions.IsAuthenticated, KeyManager]
    pagination_class = ListPagination
    filter_backends: list = []
    lookup_value_regex = r"[0-9]+"

    def initial(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Authentication runs first so an anonymous caller learns it needs credentials (401/403),
        # not whether the consortium exists.
        self.perform_authentication(request)
        if request.user.is_authenticated:
            consortium = Consortium.objects.filter(slug=kwargs["slug"]).first()
            if consortium is None or not access.can_view_consortium(request.user, consortium):
                raise NotFound(f"slug: no consortium {kwargs['slug']!r} you can read.")
            self.consortium = consortium
        else:
            self.consortium = None
        super().initial(request, *args, **kwargs)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return ApiKey.objects.filter(consortium=self.consortium).select_related("created_by")

    def create(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key, token = api_key_create(
            consortium=self.consortium, created_by=request.user, **serializer.validated_data
        )
        body = s.ApiKeyCreatedSerializer(api_key, context={"token": token, "request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        api_key_revoke(api_key=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def revoke(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        api_key = api_key_revoke(api_key=self.get_object(), by=request.user)
        return Response(s.ApiKeySerializer(api_key).data)
