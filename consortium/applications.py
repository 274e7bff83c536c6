"""Writes to applications: a lab asks to join a listed consortium, its coordinators accept or decline.

Accepting opens a membership spell (candidate by default, as an accepted invitation does) on the
day of the decision. Each function locks the lab's row first, like consortium.services, so an
application, an invitation and a coordinator's change of the same lab cannot cross. Permission
checks belong to the caller (consortium.access).
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from labs.models import Lab

from .models import Application, Consortium, Membership
from .services import save_or_conflict

logger = logging.getLogger(__name__)

# What an accepted application may make of the lab; an invitation is no answer to an application.
ACCEPT_STATUSES = (Membership.Status.CANDIDATE, Membership.Status.MEMBER, Membership.Status.OBSERVER)


def _lock_lab(lab: Lab) -> None:
    Lab.objects.select_for_update().filter(pk=lab.pk).first()


def _check_not_in(*, consortium: Consortium, lab: Lab) -> None:
    spell = Membership.objects.filter(consortium=consortium, lab=lab, left_on__isnull=True).first()
    if spell is None:
        return
    if spell.status == Membership.Status.INVITED:
        raise ValidationError(
            {"consortium": f"{consortium} has already invited {lab}: accept the invitation on the dashboard instead."}
        )
    raise ValidationError({"consortium": f"{lab} is already a {spell.get_status_display().lower()} of {consortium}."})


@transaction.atomic
def application_create(*, consortium: Consortium, lab: Lab, note: str, by: Any) -> Application:
    """The lab asks to join `consortium` (listed in the directory); one pending application at a time."""
    if not consortium.listed:
        raise ValidationError({"consortium": f"{consortium} is not listed in the directory; it takes no applications."})
    _lock_lab(lab)
    _check_not_in(consortium=consortium, lab=lab)
    pending = Application.objects.filter(consortium=consortium, lab=lab, status=Application.Status.PENDING).first()
    if pending is not None:
        raise ValidationError(
            {
                "consortium": f"{lab} already applied to {consortium} on {pending.created_at:%d %b %Y}; "
                "its coordinators have not answered yet."
            }
        )
    application = Application(consortium=consortium, lab=lab, note=(note or "").strip(), applied_by=by)
    application.full_clean(validate_constraints=False)
    save_or_conflict(application, {"consortium": f"{lab} applied to {consortium} at the same moment."})
    logger.info("application: %s applied to %s (by %s)", lab, consortium, by)
    return application


def _decide(application: Application) -> Application:
    _lock_lab(application.lab)
    application = Application.objects.select_for_update().select_related("lab", "consortium").get(pk=application.pk)
    if application.status != Application.Status.PENDING:
        raise ValidationError(
            {"non_field_errors": f"This application was already {application.get_status_display().lower()}."}
        )
    return application


@transaction.atomic
def application_accept(*, application: Application, by: Any, status: str = Membership.Status.CANDIDATE) -> Application:
    """Accept: the lab joins with `status` (candidate unless said otherwise) from today."""
    if status not in ACCEPT_STATUSES:
        raise ValidationError({"status": f"Choose one of {', '.join(ACCEPT_STATUSES)}."})
    application = _decide(application)
    consortium, lab = application.consortium, application.lab
    _check_not_in(consortium=consortium, lab=lab)
    today = datetime.date.today()
    spell = Membership(consortium=consortium, lab=lab, status=status, joined_on=today)
    spell.full_clean(validate_constraints=False)
    save_or_conflict(spell, {"non_field_errors": f"{lab} was changed in {consortium} at the same moment; try again."})
    application.status = Application.Status.ACCEPTED
    application.decided_by = by
    application.decided_at = timezone.now()
    application.membership = spell
    application.save(update_fields=["status", "decided_by", "decided_at", "membership"])
    logger.info("application: %s accepted into %s as %s (by %s)", lab, consortium, status, by)
    return application


@transaction.atomic
def application_decline(*, application: Application, by: Any) -> Application:
    """Decline: the application closes; the lab may apply again later."""
    application = _decide(application)
    application.status = Application.Status.DECLINED
    application.decided_by = by
    application.decided_at = timezone.now()
    application.save(update_fields=["status", "decided_by", "decided_at"])
    logger.info("application: %s declined for %s (by %s)", application.lab, application.consortium, by)
    return application
