"""Pages where people run a consortium: found one, edit its charter, add and remove coordinators.

Anyone signed in founds a consortium and coordinates it. The other pages are for its coordinators:
a consortium the user cannot see answers 404 like a missing one, and one the user sees but does
not coordinate answers 403 (staff included: they change data through the admin).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from labs.forms import add_service_errors

from . import access, services
from .forms import CharterForm, ConsortiumForm, CoordinatorAddForm
from .models import Consortium
from .views import _visible_consortium


def coordinated_consortium(request, slug: str) -> Consortium:
    """The consortium `slug` if the user coordinates it: 404 if the user cannot see it, 403 if only sees it."""
    consortium = _visible_consortium(request, slug)
    if not access.is_coordinator(request.user, consortium):
        raise PermissionDenied("Only the consortium's coordinators do this.")
    return consortium


@login_required
@require_http_methods(["GET", "POST"])
def consortium_new(request):
    form = ConsortiumForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                consortium = services.consortium_create(created_by=request.user, **form.cleaned_data)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(
                    request, f"{consortium.name} is founded and you coordinate it. Next, add labs as members."
                )
                return redirect(consortium)
        return render(request, "consortium/consortium_form.html", {"form": form}, status=400)
    return render(request, "consortium/consortium_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def charter_edit(request, slug: str):
    consortium = coordinated_consortium(request, slug)
    form = CharterForm(request.POST or None, instance=consortium)
    context = {"consortium": consortium, "form": form}
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, "Charter saved.")
            return redirect(consortium)
        # The header shows the stored name, not the one the form refused.
        consortium.refresh_from_db()
        return render(request, "consortium/charter_form.html", context, status=400)
    return render(request, "consortium/charter_form.html", context)


def _coordinators_page(request, consortium: Consortium, form: CoordinatorAddForm, status: int = 200):
    coordinators = consortium.coordinators.order_by("username")
    return render(
        request,
        "consortium/coordinators.html",
        {"consortium": consortium, "form": form, "coordinators": coordinators, "only_one": len(coordinators) == 1},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def coordinators(request, slug: str):
    """The consortium's coordinators, and a form that adds one by username or email."""
    consortium = coordinated_consortium(request, slug)
    form = CoordinatorAddForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                user = services.coordinator_find(identifier=form.cleaned_data["user"])
                services.coordinator_add(consortium=consortium, user=user, by=request.user)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, f"{user.get_username()} now coordinates {consortium.name}.")
                return redirect("consortium:coordinators", consortium.slug)
        return _coordinators_page(request, consortium, form, status=400)
    return _coordinators_page(request, consortium, form)


@login_required
@require_POST
def coordinator_remove(request, slug: str, user_id: int):
    consortium = coordinated_consortium(request, slug)
    user = get_object_or_404(get_user_model(), pk=user_id)
    try:
        services.coordinator_remove(consortium=consortium, user=user, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("consortium:coordinators", consortium.slug)
    if user == request.user:
        messages.success(request, f"You no longer coordinate {consortium.name}.")
        return redirect(consortium if access.can_view_consortium(request.user, consortium) else "dashboard")
    messages.success(request, f"{user.get_username()} no longer coordinates {consortium.name}.")
    return redirect("consortium:coordinators", consortium.slug)
