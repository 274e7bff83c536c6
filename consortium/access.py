"""Who may see and change what. Pages, the API and reports all ask these functions.

- A lab's users (any role) edit that lab and log its contributions, artifacts and reuse.
- A consortium's coordinators manage its memberships and scenarios and start runs.
- Users of a lab with a current membership (member, candidate or observer) in a consortium, and
  its coordinators, read that consortium and the data of every lab currently in it.
- An invitation (an open INVITED spell) is not a membership: the consortium's people see the
  invitation spell (lab id and name) but none of the lab's data, and the invited lab's users see
  only the invitation itself (the consortium's name and charter, to decide), not its data.
  They answer it (accept or decline); nobody else does.
- An application (a lab asking to join a listed consortium) is the same in the other direction:
  the consortium's coordinators see it (lab name and note) and answer it; the lab's users see it
  and its outcome; neither gives the consortium sight of the lab's data until accepted.
- The membership advisor (simulations.advisor, coordinators only) is the one exception: to say what
  a pending applicant's joining would do, or that of a lab outside the consortium whose artifacts
  the scenario's labs reuse (or that reuses theirs), it runs the model on that lab's inputs and
  shows figures derived from them (its savings, the research it brings by area), never the
  inputs themselves.
- Listed consortia (the directory) show their name and charter to every signed-in user.
- A lab's admins invite colleagues and manage the lab's users and roles; its other users see them.
- Staff read everything; they change data through the admin.
- A coordinator's lab picker (who may be invited or changed) holds `invitable_labs`: labs with any
  spell in the consortium (past ones and invitations included), the coordinator's own labs, and
  labs listed in the public directory. Any other lab answers exactly as a lab that does not exist.
- A consortium's ledger (contributions to it) is read by whoever reads the consortium; a lab's
  users always read their own lab's entries, including those of consortia it has left.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from labs.models import Artifact, ArtifactReuse, ComputeContribution, Lab, LabMember

from .models import Application, Consortium, Membership, Scenario


def user_lab_ids(user) -> set[int]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_lab_ids_cache", None)
    if cached is None:
        cached = set(user.lab_memberships.values_list("lab_id", flat=True))
        user._lab_ids_cache = cached
    return cached


def visible_consortia(user) -> QuerySet[Consortium]:
    if not user.is_authenticated:
        return Consortium.objects.none()
    if user.is_staff:
        return Consortium.objects.all()
    current = Membership.objects.current().filter(lab__in=user_lab_ids(user)).values("consortium_id")
    return Consortium.objects.filter(Q(coordinators=user) | Q(pk__in=current)).distinct()


def visible_labs(user) -> QuerySet[Lab]:
    if not user.is_authenticated:
        return Lab.objects.none()
    if user.is_staff:
        return Lab.objects.all()
    in_visible = Membership.objects.current().filter(consortium__in=visible_consortia(user)).values("lab_id")
    return Lab.objects.filter(Q(pk__in=user_lab_ids(user)) | Q(pk__in=in_visible)).distinct()


def can_view_consortium(user, consortium: Consortium) -> bool:
    return visible_consortia(user).filter(pk=consortium.pk).exists()


def can_view_lab(user, lab: Lab) -> bool:
    return visible_labs(user).filter(pk=lab.pk).exists()


def can_edit_lab(user, lab: Lab) -> bool:
    """Only the lab's own users change its profile and log its contributions, artifacts and reuse."""
    return user.is_authenticated and lab.pk in user_lab_ids(user)


def is_lab_admin(user, lab: Lab) -> bool:
    """Lab admins invite colleagues and change the lab's users and roles."""
    return user.is_authenticated and lab.memberships.filter(user=user, role=LabMember.Role.ADMIN).exists()


def directory_consortia() -> QuerySet[Consortium]:
    """Consortia listed in the directory: any lab may apply to join them."""
    return Consortium.objects.filter(listed=True)


def visible_applications(user) -> QuerySet[Application]:
    """Applications to the consortia a user coordinates, and those of the user's labs."""
    if not user.is_authenticated:
        return Application.objects.none()
    if user.is_staff:
        return Application.objects.all()
    return Application.objects.filter(
        Q(consortium__in=coordinated_consortia(user).values("pk")) | Q(lab__in=user_lab_ids(user))
    )


def is_coordinator(user, consortium: Consortium) -> bool:
    return user.is_authenticated and consortium.coordinators.filter(pk=user.pk).exists()


def coordinated_consortia(user) -> QuerySet[Consortium]:
    if not user.is_authenticated:
        return Consortium.objects.none()
    return Consortium.objects.filter(coordinators=user)


def visible_contributions(user) -> QuerySet[ComputeContribution]:
    if not user.is_authenticated:
        return ComputeContribution.objects.none()
    if user.is_staff:
        return ComputeContribution.objects.all()
    return ComputeContribution.objects.filter(
        Q(lab__in=user_lab_ids(user)) | Q(consortium__in=visible_consortia(user).values("pk"))
    )


def visible_artifacts(user) -> QuerySet[Artifact]:
    return Artifact.objects.filter(lab__in=visible_labs(user).values("pk"))


def visible_reuses(user) -> QuerySet[ArtifactReuse]:
    """Reuse records of visible labs, and reuse of a user's own labs' artifacts by anyone."""
    if not user.is_authenticated:
        return ArtifactReuse.objects.none()
    return ArtifactReuse.objects.filter(
        Q(reusing_lab__in=visible_labs(user).values("pk")) | Q(artifact__lab__in=user_lab_ids(user))
    )


def pending_invitations(user) -> QuerySet[Membership]:
    """Open invitations to the user's labs, which the user may accept or decline."""
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.invitations().filter(lab__in=user_lab_ids(user))


def can_answer_invitation(user, spell: Membership) -> bool:
    return spell.status == Membership.Status.INVITED and spell.left_on is None and can_edit_lab(user, spell.lab)


def visible_memberships(user) -> QuerySet[Membership]:
    """Every spell (past ones included) of the consortia a user reads, and invitations to the user's labs."""
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(
        Q(consortium__in=visible_consortia(user).values("pk"))
        | Q(status=Membership.Status.INVITED, lab__in=user_lab_ids(user))
    )


def visible_scenarios(user) -> QuerySet[Scenario]:
    return Scenario.objects.filter(consortium__in=visible_consortia(user).values("pk"))


def invitable_labs(consortium: Consortium, user) -> QuerySet[Lab]:
    """Labs a coordinator of `consortium` may pick in its membership form and API.

    Labs with any spell in the consortium (current, past or invited), labs with a pending
    application to it, the user's own labs, and labs that chose to be listed in the directory;
    staff may pick any lab.
    """
    if not user.is_authenticated:
        return Lab.objects.none()
    if user.is_staff:
        return Lab.objects.all()
    return Lab.objects.filter(_invitable_terms(consortium, user)).distinct()


def _invitable_terms(consortium: Consortium, user) -> Q:
    with_spell = Membership.objects.filter(consortium=consortium).values("lab_id")
    applied = Application.objects.filter(consortium=consortium, status=Application.Status.PENDING).values("lab_id")
    return Q(pk__in=with_spell) | Q(pk__in=applied) | Q(pk__in=user_lab_ids(user)) | Q(listed_in_directory=True)
