"""REST endpoints of lab invitations (under /api/v1/lab-invitations/).

A lab's admins invite colleagues by email (403 for the lab's other users and for anyone who sees
the lab, 400 for a lab the user cannot see) and withdraw open invitations; the lab's users read
them. The invited person accepts with the token from the emailed link while signed in with the
invited address. Invitations are never edited or deleted (a withdrawn one stays on record).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from consortium.access import is_lab_admin, user_lab_ids, visible_labs
from consortium.api.common import (
    IdFilter,
    JsonOnlyMixin,
    ListPagination,
    StrictFilterSet,
    django_errors_to_drf,
    errors,
)

from .. import team
from ..models import Lab, LabInvitation, LabMember


class LabInvitationFilter(StrictFilterSet):
    lab = IdFilter()

    class Meta:
        model = LabInvitation
        fields = ("lab",)


class LabInvitationSerializer(serializers.ModelSerializer):
    lab_name = serializers.CharField(source="lab.name", read_only=True)
    state = serializers.ChoiceField(choices=LabInvitation.State.choices, read_only=True)
    invited_by = serializers.CharField(source="invited_by.username", read_only=True, allow_null=True, default=None)
    accepted_by = serializers.CharField(source="accepted_by.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = LabInvitation
        fields = (
            "id",
            "lab",
            "lab_name",
            "email",
            "role",
            "state",
            "invited_by",
            "created_at",
            "expires_at",
            "accepted_at",
            "accepted_by",
            "revoked_at",
        )
        read_only_fields = fields


class LabInvitationCreatedSerializer(LabInvitationSerializer):
    accept_url = serializers.SerializerMethodField(help_text="The link emailed to the invited address.")
    email_sent = serializers.BooleanField(
        read_only=True, default=False, help_text="False when the mail server refused: pass the link on yourself."
    )

    class Meta(LabInvitationSerializer.Meta):
        fields = (*LabInvitationSerializer.Meta.fields, "accept_url", "email_sent")
        read_only_fields = fields

    def get_accept_url(self, invitation: LabInvitation) -> str:
        path = reverse("labs:invitation", args=[team.invitation_token(invitation)])
        return self.context["request"].build_absolute_uri(path)


class LabInvitationCreateSerializer(serializers.Serializer):
    lab = serializers.PrimaryKeyRelatedField(queryset=Lab.objects.all(), help_text="A lab the user is an admin of.")
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=LabMember.Role.choices, default=LabMember.Role.MEMBER)

    def validate_lab(self, lab: Lab) -> Lab:
        # A lab the user cannot see reads like one that does not exist.
        if not visible_labs(self.context["request"].user).filter(pk=lab.pk).exists():
            raise serializers.ValidationError(f'Invalid pk "{lab.pk}" - object does not exist.')
        return lab


class LabInvitationAcceptSerializer(serializers.Serializer):
    token = serializers.CharField(
        max_length=500, help_text="The last part of the emailed link /labs/invitations/<token>/."
    )


LabMemberSerializer = inline_serializer(
    name="LabMembership",
    fields={
        "lab": serializers.IntegerField(),
        "lab_name": serializers.CharField(),
        "role": serializers.ChoiceField(choices=LabMember.Role.choices),
    },
)


@extend_schema_view(
    list=extend_schema(
        summary="Invitations of the user's labs",
        responses={200: LabInvitationSerializer(many=True), **errors(400, 401, 404)},
    ),
    retrieve=extend_schema(summary="One invitation", responses={200: LabInvitationSerializer, **errors(401, 404)}),
    create=extend_schema(
        summary="Invite a colleague by email (lab admins only); the link is emailed and returned once",
        request=LabInvitationCreateSerializer,
        responses={201: LabInvitationCreatedSerializer, **errors(400, 401, 403, 415)},
    ),
)
class LabInvitationViewSet(
    JsonOnlyMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    serializer_class = LabInvitationSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = ListPagination
    filterset_class = LabInvitationFilter
    ordering_fields = ("created_at", "expires_at")
    ordering = ("-created_at", "-id")

    def get_queryset(self):  # type: ignore[no-untyped-def]
        user = self.request.user
        invitations = LabInvitation.objects.select_related("lab", "invited_by", "accepted_by")
        return invitations if user.is_staff else invitations.filter(lab__in=user_lab_ids(user))

    def create(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        incoming = LabInvitationCreateSerializer(data=request.data, context=self.get_serializer_context())
        incoming.is_valid(raise_exception=True)
        lab = incoming.validated_data["lab"]
        if not is_lab_admin(request.user, lab):
            raise exceptions.PermissionDenied(f"Only admins of {lab} invite its users.")
        try:
            invitation = team.lab_invitation_create(invited_by=request.user, **incoming.validated_data)
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from None
        created = LabInvitationCreatedSerializer(invitation, context=self.get_serializer_context()).data
        created["email_sent"] = team.lab_invitation_send(invitation=invitation, accept_url=created["accept_url"])
        return Response(created, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Withdraw an open invitation (lab admins only); its link stops working",
        request=None,
        responses={200: LabInvitationSerializer, **errors(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        invitation = self.get_object()
        if not is_lab_admin(request.user, invitation.lab):
            raise exceptions.PermissionDenied(f"Only admins of {invitation.lab} withdraw its invitations.")
        try:
            invitation = team.lab_invitation_revoke(invitation=invitation, by=request.user)
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from None
        return Response(self.get_serializer(invitation).data)

    @extend_schema(
        summary="Accept an invitation with its token, signed in with the invited email: join the lab",
        request=LabInvitationAcceptSerializer,
        responses={201: LabMemberSerializer, **errors(400, 401, 415)},
    )
    @action(detail=False, methods=["post"])
    def accept(self, request: Request) -> Response:
        incoming = LabInvitationAcceptSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        invitation = team.invitation_from_token(incoming.validated_data["token"])
        if invitation is None:
            raise serializers.ValidationError({"token": ["This invitation token is not valid."]})
        try:
            member = team.lab_invitation_accept(invitation=invitation, user=request.user)
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from None
        body = {"lab": member.lab_id, "lab_name": member.lab.name, "role": member.role}
        return Response(body, status=status.HTTP_201_CREATED)
