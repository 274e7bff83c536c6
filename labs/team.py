"""Writes to a lab's people: invitations by email, roles, removal. Each validates inside one transaction.

A lab always keeps at least one admin: the last one can be neither demoted nor removed. The lab's
row is locked first, so two admins demoting each other at once cannot both succeed. Permission
checks belong to the caller (consortium.access.is_lab_admin).
"""

from __future__ import annotations

import datetime
import logging
import smtplib
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from .models import Lab, LabInvitation, LabMember

logger = logging.getLogger(__name__)

TOKEN_SALT = "labs.invitation"


def invitation_token(invitation: LabInvitation) -> str:
    """The link's token: the invitation's id signed with SECRET_KEY (django.core.signing)."""
    return signing.dumps(invitation.pk, salt=TOKEN_SALT, compress=True)


def invitation_from_token(token: str) -> LabInvitation | None:
    """The invitation a token names, or None for a token that was not signed here (or names nothing)."""
    try:
        pk = signing.loads(token, salt=TOKEN_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(pk, int):
        return None
    return LabInvitation.objects.select_related("lab", "invited_by").filter(pk=pk).first()


def _lock_lab(lab: Lab) -> None:
    Lab.objects.select_for_update().filter(pk=lab.pk).first()


def _check_role(role: str) -> None:
    if role not in LabMember.Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; choose one of {', '.join(LabMember.Role.values)}."})


@transaction.atomic
def lab_invitation_create(*, lab: Lab, email: str, role: str, invited_by: Any) -> LabInvitation:
    """Invite `email` to `lab` as `role`; an earlier open invitation of the same address must be revoked first."""
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": "Enter a valid email address, like name@lab.org."}) from None
    _check_role(role)
    _lock_lab(lab)
    if lab.memberships.filter(user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} already belongs to a user of {lab}."})
    now = timezone.now()
    open_one = (
        lab.invitations.filter(email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True)
        .filter(expires_at__gt=now)
        .first()
    )
    if open_one is not None:
        raise ValidationError(
            {
                "email": f"{email} already has an open invitation to {lab} (until {open_one.expires_at:%d %b %Y}); "
                "revoke it to send a new one."
            }
        )
    invitation = LabInvitation(
        lab=lab,
        email=email,
        role=role,
        invited_by=invited_by,
        expires_at=now + datetime.timedelta(days=settings.LAB_INVITATION_DAYS),
    )
    invitation.full_clean()
    invitation.save()
    logger.info("lab invitation: %s invited %s to %s as %s", invited_by, email, lab, role)
    return invitation


def lab_invitation_send(*, invitation: LabInvitation, accept_url: str) -> bool:
    """Email the invitation link (through Django's configured email backend); False if the server refused.

    The invitation stays valid when the mail server is down: the admin is shown the link to pass on.
    """
    context = {"invitation": invitation, "accept_url": accept_url, "days": settings.LAB_INVITATION_DAYS}
    try:
        send_mail(
            subject=f"Join {invitation.lab.name} on the consortium planner",
            message=render_to_string("labs/invitation_email.txt", context),
            from_email=None,
            recipient_list=[invitation.email],
        )
    except (smtplib.SMTPException, OSError):
        logger.exception("lab invitation: the email to %s could not be sent", invitation.email)
        return False
    return True


def invitation_problem(invitation: LabInvitation, user: Any) -> str:
    """Why `user` cannot accept `invitation` now, in a sentence; empty when it can."""
    state = invitation.state
    if state == LabInvitation.State.ACCEPTED:
        return "This invitation has already been used. Each invitation link works once."
    if state == LabInvitation.State.REVOKED:
        return "This invitation was withdrawn by the lab. Ask the lab's admin for a new one."
    if state == LabInvitation.State.EXPIRED:
        return f"This invitation expired on {invitation.expires_at:%d %b %Y}. Ask the lab's admin to send a new one."
    if user is not None and user.is_authenticated and (user.email or "").lower() != invitation.email.lower():
        return (
            f"This invitation is for {invitation.email}, but you are signed in as {user.get_username()}"
            f" ({user.email or 'no email address'}). Log out and sign in or sign up with {invitation.email}."
        )
    return ""


@transaction.atomic
def lab_invitation_accept(*, invitation: LabInvitation, user: Any) -> LabMember:
    """The invited person (signed in with the invited email) becomes a user of the lab with the invited role."""
    _lock_lab(invitation.lab)
    invitation = LabInvitation.objects.select_for_update().select_related("lab").get(pk=invitation.pk)
    problem = invitation_problem(invitation, user)
    if problem:
        raise ValidationError({"token": problem})
    if invitation.lab.memberships.filter(user=user).exists():
        raise ValidationError({"token": f"You are already a user of {invitation.lab}."})
    member = LabMember.objects.create(lab=invitation.lab, user=user, role=invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    logger.info("lab invitation: %s joined %s as %s", user, invitation.lab, invitation.role)
    return member


@transaction.atomic
def lab_invitation_revoke(*, invitation: LabInvitation, by: Any) -> LabInvitation:
    """Withdraw an open invitation; its link stops working."""
    invitation = LabInvitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.state != LabInvitation.State.PENDING:
        raise ValidationError(
            {"non_field_errors": f"This invitation is {invitation.get_state_display().lower()}, not open."}
        )
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    logger.info("lab invitation: %s revoked the invitation of %s to %s", by, invitation.email, invitation.lab)
    return invitation


def _check_keeps_an_admin(member: LabMember) -> None:
    if member.role != LabMember.Role.ADMIN:
        return
    others = LabMember.objects.filter(lab_id=member.lab_id, role=LabMember.Role.ADMIN).exclude(pk=member.pk)
    if not others.exists():
        raise ValidationError(
            {
                "role": f"{member.user.get_username()} is the last admin of {member.lab}; make another user admin "
                "first, so the lab keeps someone who manages its people."
            }
        )


@transaction.atomic
def lab_member_role_change(*, member: LabMember, role: str, by: Any) -> LabMember:
    """Give one of the lab's users another role; the lab's last admin stays admin."""
    _check_role(role)
    _lock_lab(member.lab)
    member = LabMember.objects.select_for_update().select_related("lab", "user").get(pk=member.pk)
    if member.role == role:
        raise ValidationError({"role": f"{member.user.get_username()} is already a {member.get_role_display()}."})
    if role != LabMember.Role.ADMIN:
        _check_keeps_an_admin(member)
    member.role = role
    member.save(update_fields=["role"])
    logger.info("lab people: %s made %s a %s of %s", by, member.user, role, member.lab)
    return member


@transaction.atomic
def lab_member_remove(*, member: LabMember, by: Any) -> None:
    """Remove a user from the lab (the user's account stays); never the lab's last admin."""
    _lock_lab(member.lab)
    member = LabMember.objects.select_for_update().select_related("lab", "user").get(pk=member.pk)
    _check_keeps_an_admin(member)
    member.delete()
    logger.info("lab people: %s removed %s from %s", by, member.user, member.lab)
