"""REST endpoints of labs, the compute ledger, artifacts and reuse (under /api/v1/).

Who sees and changes what comes from consortium.access: querysets hold only what the user may see
(anything else answers 404), and a visible object the user may not change answers 403. Writes go
through labs.services. Ledger entries are never updated or deleted (405); they are corrected.
"""

from __future__ import annotations

from django.db.models import ProtectedError
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from consortium.access import (
    can_edit_lab,
    visible_artifacts,
    visible_contributions,
    visible_labs,
    visible_reuses,
)
from consortium.api.common import IsLabUserOrReadOnly, JsonOnlyMixin, ListPagination, errors

from .. import selectors, services
from ..models import Artifact, ArtifactReuse, ComputeContribution, Lab
from . import filters
from . import serializers as s

READ = errors(401, 404)
LIST = errors(400, 401, 404)
CREATE = errors(400, 401, 403, 415)
CHANGE = errors(400, 401, 403, 404, 415)
DELETE = errors(401, 403, 404)
IMMUTABLE = errors(401, 404, 405)


def _require_lab_user(request: Request, field: str, what: str) -> None:
    """Answer 403 before validating the rest when the named lab is visible but not the user's own.

    A lab id that is missing, malformed or invisible is left to the serializer, which answers 400
    exactly as for a lab that does not exist.
    """
    raw = request.data.get(field) if hasattr(request.data, "get") else None
    try:
        lab = visible_labs(request.user).get(pk=raw)
    except (Lab.DoesNotExist, ValueError, TypeError):
        return
    if not can_edit_lab(request.user, lab):
        raise exceptions.PermissionDenied(f"Only users of {lab} can {what}.")


@extend_schema_view(
    list=extend_schema(summary="Labs the user can see", responses={200: s.LabSerializer(many=True), **LIST}),
    retrieve=extend_schema(summary="One lab", responses={200: s.LabSerializer, **READ}),
    create=extend_schema(
        summary="Register a lab (its creator becomes its admin)", responses={201: s.LabSerializer, **CREATE}
    ),
    update=extend_schema(
        summary="Replace a lab's profile (its users only)", responses={200: s.LabSerializer, **CHANGE}
    ),
    partial_update=extend_schema(
        summary="Change a lab's profile (its users only)", responses={200: s.LabSerializer, **CHANGE}
    ),
    destroy=extend_schema(summary="Labs are not deleted over the API (staff use the admin)", responses={**IMMUTABLE}),
)
class LabViewSet(JsonOnlyMixin, viewsets.ModelViewSet):
    serializer_class = s.LabSerializer
    permission_classes = [IsAuthenticated, IsLabUserOrReadOnly]
    pagination_class = ListPagination
    filterset_class = filters.LabFilter
    ordering_fields = ("name", "final_run_gpu_hours", "created_at")
    ordering = ("name",)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return visible_labs(self.request.user).order_by("name")

    def lab_of(self, lab: Lab) -> Lab:
        return lab

    def perform_create(self, serializer: s.LabSerializer) -> None:
        serializer.instance = services.lab_create(created_by=self.request.user, **serializer.validated_data)

    def destroy(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        # A lab carries ledger history; removing one is a staff decision taken in the admin.
        raise exceptions.MethodNotAllowed(request.method)


@extend_schema_view(
    list=extend_schema(
        summary="Ledger entries the user can see", responses={200: s.ContributionSerializer(many=True), **LIST}
    ),
    retrieve=extend_schema(summary="One ledger entry", responses={200: s.ContributionSerializer, **READ}),
    create=extend_schema(
        summary="Log compute for one of the user's labs in a consortium it currently belongs to",
        request=s.ContributionCreateSerializer,
        responses={201: s.ContributionSerializer, **CREATE},
    ),
    update=extend_schema(
        summary="Not allowed: ledger entries are corrected, never changed", request=None, responses=IMMUTABLE
    ),
    partial_update=extend_schema(
        summary="Not allowed: ledger entries are corrected, never changed", request=None, responses=IMMUTABLE
    ),
    destroy=extend_schema(summary="Not allowed: ledger entries are reversed, never deleted", responses=IMMUTABLE),
)
class ContributionViewSet(JsonOnlyMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.ContributionSerializer
    permission_classes = [IsAuthenticated, IsLabUserOrReadOnly]
    pagination_class = ListPagination
    filterset_class = filters.ContributionFilter
    ordering_fields = ("recorded_at", "period_start", "gpu_hours_delivered", "id")
    ordering = ("-recorded_at", "-id")

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return visible_contributions(self.request.user).select_related(
            "lab", "consortium", "recorded_by", "reversed_by", "replaced_by"
        )

    def lab_of(self, entry: ComputeContribution) -> Lab:
        return entry.lab

    def create(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        _require_lab_user(request, "lab", "log its contributions")
        incoming = s.ContributionCreateSerializer(data=request.data, context=self.get_serializer_context())
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        data.setdefault("price_per_gpu_hour", data["lab"].price_per_gpu_hour)
        entry = services.contribution_record(recorded_by=request.user, **data)
        return Response(self.get_serializer(entry).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        raise exceptions.MethodNotAllowed(request.method, detail="Ledger entries cannot be changed; POST a correction.")

    def partial_update(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        raise exceptions.MethodNotAllowed(request.method, detail="Ledger entries cannot be changed; POST a correction.")

    def destroy(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        raise exceptions.MethodNotAllowed(
            request.method, detail="Ledger entries cannot be deleted; POST a correction without new values."
        )

    @extend_schema(
        summary="Correct an entry: reverse it and, with new values, record its replacement",
        request=s.CorrectionSerializer,
        responses={201: s.CorrectionResultSerializer, **CHANGE},
    )
    @action(detail=True, methods=["post"])
    def correct(self, request: Request, pk: str | None = None) -> Response:
        original = self.get_object()
        incoming = s.CorrectionSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        values = dict(incoming.validated_data)
        reversal, replacement = services.contribution_correct(
            original=original, recorded_by=request.user, reason=values.pop("reason"), **values
        )
        body = {
            "reversal": self.get_serializer(reversal).data,
            "replacement": self.get_serializer(replacement).data if replacement else None,
        }
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Ledger totals per lab, quarter and/or GPU type (US$ and GPU-hours)",
        parameters=[s.TotalsQuerySerializer],
        responses={200: s.TotalsSerializer, **LIST},
        filters=False,
    )
    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def totals(self, request: Request) -> Response:
        query = s.TotalsQuerySerializer(data=request.query_params, context=self.get_serializer_context())
        query.is_valid(raise_exception=True)
        params = query.validated_data
        rows = selectors.contribution_totals(
            consortium=params.get("consortium"),
            lab=params.get("lab"),
            start=params.get("start"),
            end=params.get("end"),
            group_by=params["group_by"],
            user=request.user,
        )
        units = {"gpu_hours_pledged": "GPU-hours", "gpu_hours_delivered": "GPU-hours"} | dict.fromkeys(
            ("pledged_value", "delivered_value", "cash"), "US$"
        )
        body = {"group_by": list(params["group_by"]), "units": units, "results": rows}
        return Response(s.TotalsSerializer(body).data)


@extend_schema_view(
    list=extend_schema(
        summary="Artifacts of labs the user can see", responses={200: s.ArtifactSerializer(many=True), **LIST}
    ),
    retrieve=extend_schema(summary="One artifact", responses={200: s.ArtifactSerializer, **READ}),
    create=extend_schema(
        summary="Publish an artifact of one of the user's labs", responses={201: s.ArtifactSerializer, **CREATE}
    ),
    update=extend_schema(
        summary="Replace an artifact (its lab's users only)",
        request=s.ArtifactUpdateSerializer,
        responses={200: s.ArtifactSerializer, **CHANGE},
    ),
    partial_update=extend_schema(
        summary="Change an artifact (its lab's users only)",
        request=s.ArtifactUpdateSerializer,
        responses={200: s.ArtifactSerializer, **CHANGE},
    ),
    destroy=extend_schema(
        summary="Withdraw an artifact nobody has reused yet (its lab's users only)",
        responses={204: OpenApiResponse(description="Deleted."), **errors(400, 401, 403, 404)},
    ),
)
class ArtifactViewSet(JsonOnlyMixin, viewsets.ModelViewSet):
    permission_classes = [IsAuthenticated, IsLabUserOrReadOnly]
    pagination_class = ListPagination
    filterset_class = filters.ArtifactFilter
    ordering_fields = ("release_date", "title", "reproduction_gpu_hours", "created_at")
    ordering = ("-release_date", "title")

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return visible_artifacts(self.request.user).select_related("lab")

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return s.ArtifactUpdateSerializer if self.action in ("update", "partial_update") else s.ArtifactSerializer

    def lab_of(self, artifact: Artifact) -> Lab:
        return artifact.lab

    def create(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        _require_lab_user(request, "lab", "publish its artifacts")
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer: s.ArtifactSerializer) -> None:
        serializer.instance = services.artifact_create(created_by=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: s.ArtifactSerializer) -> None:
        serializer.instance = services.artifact_update(artifact=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance: Artifact) -> None:
        try:
            instance.delete()
        except ProtectedError:
            raise serializers.ValidationError(
                {"non_field_errors": ["Other labs have logged reuse of this artifact; it stays on record."]}
            ) from None


@extend_schema_view(
    list=extend_schema(summary="Reuse records the user can see", responses={200: s.ReuseSerializer(many=True), **LIST}),
    retrieve=extend_schema(summary="One reuse record", responses={200: s.ReuseSerializer, **READ}),
    create=extend_schema(
        summary="Log that one of the user's labs reused another lab's artifact",
        responses={201: s.ReuseSerializer, **CREATE},
    ),
    update=extend_schema(
        summary="Replace a reuse record (the reusing lab's users only)",
        request=s.ReuseUpdateSerializer,
        responses={200: s.ReuseSerializer, **CHANGE},
    ),
    partial_update=extend_schema(
        summary="Change a reuse record (the reusing lab's users only)",
        request=s.ReuseUpdateSerializer,
        responses={200: s.ReuseSerializer, **CHANGE},
    ),
    destroy=extend_schema(
        summary="Remove a reuse record (the reusing lab's users only)",
        responses={204: OpenApiResponse(description="Deleted."), **DELETE},
    ),
)
class ReuseViewSet(JsonOnlyMixin, viewsets.ModelViewSet):
    permission_classes = [IsAuthenticated, IsLabUserOrReadOnly]
    pagination_class = ListPagination
    filterset_class = filters.ReuseFilter
    ordering_fields = ("reused_on", "gpu_hours_saved", "created_at")
    ordering = ("-reused_on", "-id")

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return visible_reuses(self.request.user).select_related("artifact", "reusing_lab")

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return s.ReuseUpdateSerializer if self.action in ("update", "partial_update") else s.ReuseSerializer

    def lab_of(self, reuse: ArtifactReuse) -> Lab:
        return reuse.reusing_lab

    def create(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        _require_lab_user(request, "reusing_lab", "log its reuse")
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer: s.ReuseSerializer) -> None:
        serializer.instance = services.reuse_record(recorded_by=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: s.ReuseSerializer) -> None:
        serializer.instance = services.reuse_update(reuse=serializer.instance, **serializer.validated_data)
