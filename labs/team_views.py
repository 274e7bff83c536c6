"""Pages where a lab gets its people: registering a lab, the people page, invitation links.

- Registering (/labs/new/) is open to every signed-in user, who becomes the lab's admin.
- The people page is read by the lab's users (a lab it cannot see answers 404, one it sees 403);
  its forms are for the lab's admins (403 for its other users).
- An invitation link works for the person it names: anonymous visitors are offered sign-up (with
  the address filled in) or log-in; a signed-in user with the invited email accepts it.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from consortium import access

from . import services, team
from .forms import LabCreateForm, LabInvitationForm, LabRoleForm, add_service_errors
from .models import Lab, LabInvitation, LabMember


@login_required
@require_http_methods(["GET", "POST"])
def lab_new(request):
    form = LabCreateForm(request.POST or None, instance=Lab())
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                lab = services.lab_create(created_by=request.user, **form.service_values())
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, f"{lab.name} is registered and you are its admin. Invite your colleagues.")
                return redirect("labs:people", slug=lab.slug)
        status = 400
    context = {
        "form": form,
        "title": "Register a lab",
        "lead": "Its profile feeds every scenario it joins; you become its admin and can invite colleagues.",
        "submit": "Register lab",
    }
    return render(request, "labs/lab_new.html", context, status=status)


def _lab_for_people(request, slug: str, *, admin: bool) -> Lab:
    lab = get_object_or_404(Lab, slug=slug)
    if not access.can_view_lab(request.user, lab):
        raise Http404("No such lab.")
    if not access.can_edit_lab(request.user, lab):
        raise PermissionDenied("Only this lab's users see its people.")
    if admin and not access.is_lab_admin(request.user, lab):
        raise PermissionDenied("Only this lab's admins manage its people.")
    return lab


def _people_page(request, lab: Lab, *, invite_form=None, status: int = 200):
    members = lab.memberships.select_related("user").order_by("user__username")
    return render(
        request,
        "labs/people.html",
        {
            "lab": lab,
            "members": [(member, LabRoleForm(initial={"role": member.role})) for member in members],
            "admins": sum(1 for member in members if member.role == LabMember.Role.ADMIN),
            "is_admin": access.is_lab_admin(request.user, lab),
            "invitations": lab.invitations.select_related("invited_by", "accepted_by")[:50],
            "invite_form": invite_form or LabInvitationForm(),
        },
        status=status,
    )


@login_required
def lab_people(request, slug: str):
    return _people_page(request, _lab_for_people(request, slug, admin=False))


@login_required
@require_POST
def lab_invite(request, slug: str):
    lab = _lab_for_people(request, slug, admin=True)
    form = LabInvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation = team.lab_invitation_create(
                lab=lab, email=form.cleaned_data["email"], role=form.cleaned_data["role"], invited_by=request.user
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            url = request.build_absolute_uri(reverse("labs:invitation", args=[team.invitation_token(invitation)]))
            until = f"{invitation.expires_at:%d %b %Y}"
            if team.lab_invitation_send(invitation=invitation, accept_url=url):
                messages.success(request, f"Invitation sent to {invitation.email}; the link works until {until}.")
            else:
                messages.warning(
                    request,
                    f"The invitation is ready but the email to {invitation.email} could not be sent; "
                    f"pass on this link yourself (it works until {until}): {url}",
                )
            return redirect("labs:people", slug=lab.slug)
    return _people_page(request, lab, invite_form=form, status=400)


def _member(lab: Lab, pk: int) -> LabMember:
    return get_object_or_404(LabMember.objects.select_related("user", "lab"), pk=pk, lab=lab)


@login_required
@require_POST
def lab_member_role(request, slug: str, pk: int):
    lab = _lab_for_people(request, slug, admin=True)
    member = _member(lab, pk)
    form = LabRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role: lab admin or lab member.")
        return redirect("labs:people", slug=lab.slug)
    try:
        member = team.lab_member_role_change(member=member, role=form.cleaned_data["role"], by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{member.user.get_username()} is now a {member.get_role_display().lower()}.")
    return redirect("labs:people", slug=lab.slug)


@login_required
@require_POST
def lab_member_remove(request, slug: str, pk: int):
    lab = _lab_for_people(request, slug, admin=True)
    member = _member(lab, pk)
    try:
        team.lab_member_remove(member=member, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("labs:people", slug=lab.slug)
    messages.success(request, f"{member.user.get_username()} is no longer a user of {lab.name}.")
    if member.user_id == request.user.pk:
        return redirect("dashboard")
    return redirect("labs:people", slug=lab.slug)


@login_required
@require_POST
def lab_invitation_revoke(request, slug: str, pk: int):
    lab = _lab_for_people(request, slug, admin=True)
    invitation = get_object_or_404(LabInvitation, pk=pk, lab=lab)
    try:
        team.lab_invitation_revoke(invitation=invitation, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"The invitation of {invitation.email} is withdrawn; its link no longer works.")
    return redirect("labs:people", slug=lab.slug)


@require_http_methods(["GET", "POST"])
def invitation(request, token: str):
    """The page an invitation link opens; POST (signed in) accepts it.

    Statuses: 404 for a link that was not signed here, 410 for one used, withdrawn or expired,
    403 for a signed-in user whose email is not the invited one.
    """
    found = team.invitation_from_token(token)
    if found is None:
        return render(
            request,
            "labs/invitation.html",
            {"problem": "This invitation link is not valid. Check that it was copied whole from the email."},
            status=404,
        )
    user = request.user if request.user.is_authenticated else None
    problem = team.invitation_problem(found, user)
    if problem:
        status = 403 if found.state == LabInvitation.State.PENDING else 410
        return render(request, "labs/invitation.html", {"invitation": found, "problem": problem}, status=status)
    if request.method == "POST":
        if user is None:
            return redirect(f"{reverse('login')}?next={request.path}")
        try:
            member = team.lab_invitation_accept(invitation=found, user=user)
        except ValidationError as error:
            return render(
                request,
                "labs/invitation.html",
                {"invitation": found, "problem": " ".join(error.messages)},
                status=409,
            )
        messages.success(request, f"You are now a {member.get_role_display().lower()} of {found.lab.name}.")
        return redirect(found.lab)
    has_account = get_user_model().objects.filter(email__iexact=found.email).exists()
    return render(
        request,
        "labs/invitation.html",
        {"invitation": found, "token": token, "has_account": has_account},
    )
