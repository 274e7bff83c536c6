"""The consortium directory and applications to join: a lab's users apply, the coordinators answer.

- The directory (/consortia/) lists listed consortia to every signed-in user.
- Applying needs a listed consortium (404 otherwise) and a lab of the user's (the form offers only those).
- Answering an application needs the consortium's coordinators: 404 for whoever cannot see the
  application, 403 for a lab user who sees it but may not answer.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from labs.forms import add_service_errors
from labs.models import Lab

from . import access, applications
from .forms import ApplicationAcceptForm, ApplicationForm
from .models import Application, Consortium, Membership


@login_required
def directory(request):
    user = request.user
    members = Count("memberships", filter=Q(memberships__left_on__isnull=True, memberships__status="member"))
    consortia = access.directory_consortia().annotate(member_count=members).order_by("name")
    mine = access.user_lab_ids(user)
    pending: dict[int, list[Application]] = {}
    for application in Application.objects.filter(lab__in=mine, status=Application.Status.PENDING).select_related(
        "lab"
    ):
        pending.setdefault(application.consortium_id, []).append(application)
    inside: dict[int, list[Membership]] = {}
    for spell in Membership.objects.filter(lab__in=mine, left_on__isnull=True).select_related("lab"):
        inside.setdefault(spell.consortium_id, []).append(spell)
    visible = set(access.visible_consortia(user).values_list("pk", flat=True))
    rows = [
        {
            "consortium": consortium,
            "pending": pending.get(consortium.pk, []),
            "spells": inside.get(consortium.pk, []),
            "visible": consortium.pk in visible,
        }
        for consortium in consortia
    ]
    return render(request, "consortium/directory.html", {"rows": rows, "has_labs": bool(mine)})


@login_required
@require_http_methods(["GET", "POST"])
def application_new(request, slug: str):
    consortium = get_object_or_404(access.directory_consortia(), slug=slug)
    labs = Lab.objects.filter(pk__in=access.user_lab_ids(request.user)).order_by("name")
    form = ApplicationForm(request.POST or None, labs=labs, initial={"lab": request.GET.get("lab")})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            lab = form.cleaned_data["lab"]
            try:
                applications.application_create(
                    consortium=consortium, lab=lab, note=form.cleaned_data["note"], by=request.user
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(
                    request,
                    f"{lab.name} applied to {consortium.name}. Its coordinators answer on the consortium's page; "
                    "the answer shows on your lab's page.",
                )
                return redirect(lab)
        status = 400
    return render(
        request,
        "consortium/application_form.html",
        {"consortium": consortium, "form": form, "has_labs": labs.exists()},
        status=status,
    )


@login_required
@require_POST
def application_answer(request, pk: int, accept: bool):
    application = get_object_or_404(
        access.visible_applications(request.user).select_related("consortium", "lab"), pk=pk
    )
    if not access.is_coordinator(request.user, application.consortium):
        raise PermissionDenied("Only the consortium's coordinators answer applications.")
    try:
        if accept:
            form = ApplicationAcceptForm(request.POST)
            status = form.cleaned_data["status"] if form.is_valid() else Membership.Status.CANDIDATE
            applications.application_accept(application=application, by=request.user, status=status)
        else:
            applications.application_decline(application=application, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        lab, consortium = application.lab.name, application.consortium.name
        if accept:
            messages.success(request, f"{lab} is now a {status} of {consortium}.")
        else:
            messages.success(request, f"The application of {lab} is declined.")
    return redirect(application.consortium)


def pending_applications(consortium: Consortium):
    return consortium.applications.filter(status=Application.Status.PENDING).select_related("lab", "applied_by")
