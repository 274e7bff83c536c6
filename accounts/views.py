"""Sign-up. A link from a lab invitation (`?invitation=<token>`) fills in the invited email and, once
the account exists with that email, makes the new user one of the lab's users."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from labs import team

from .forms import SignUpForm


@require_http_methods(["GET", "POST"])
def signup(request):
    token = request.POST.get("invitation") or request.GET.get("invitation") or ""
    if request.user.is_authenticated:
        # Already signed in: an invitation is accepted from its own page.
        return redirect("labs:invitation", token=token) if token else redirect("dashboard")
    invitation = team.invitation_from_token(token) if token else None
    if invitation is not None and team.invitation_problem(invitation, None):
        invitation = None
    initial = {"email": invitation.email} if invitation else None
    form = SignUpForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            with transaction.atomic():
                user = form.save()
                joined = None
                if invitation is not None and user.email.lower() == invitation.email.lower():
                    try:
                        joined = team.lab_invitation_accept(invitation=invitation, user=user)
                    except ValidationError as error:
                        messages.error(request, " ".join(error.messages))
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            if joined is not None:
                role = joined.get_role_display().lower()
                messages.success(request, f"Welcome! You are now a {role} of {joined.lab}.")
                return redirect(joined.lab)
            messages.success(request, "Welcome! Your account is ready: register your lab or wait for an invitation.")
            return redirect("dashboard")
        status = 400
    return render(
        request, "registration/signup.html", {"form": form, "invitation": invitation, "token": token}, status=status
    )
