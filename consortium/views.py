"""Landing page, the signed-in dashboard, and the consortium page with its CSV downloads."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Sum
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from consortium.csv_export import csv_response
from labs.forms import add_service_errors
from labs.models import Artifact, ArtifactReuse
from labs.selectors import contribution_totals
from simulations.advisor_views import advisor_card_context
from simulations.selectors import latest_runs_get, member_savings_get, visible_runs

from . import access, services
from .application_views import pending_applications
from .forms import LEAVE, MembershipForm
from .models import Application, Consortium, Membership


def landing(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "landing.html")


# Finished runs the dashboard lists for someone whose labs are in none of them.
DASHBOARD_RESULTS = 8


@login_required
def dashboard(request):
    user = request.user
    savings = member_savings_get(user=user)
    latest_results = []
    if not savings:
        # Someone without a lab in a run (a coordinator, staff) still has results to open.
        scenarios = list(access.visible_scenarios(user).select_related("consortium"))
        latest = latest_runs_get(scenarios=scenarios)
        latest_results = sorted(
            ((scenario, latest[scenario.pk]) for scenario in scenarios if scenario.pk in latest),
            key=lambda pair: (pair[1].finished_at, pair[1].pk),
            reverse=True,
        )[:DASHBOARD_RESULTS]
    # The badge beside each consortium says how the user takes part: coordinator, their lab's status, or staff.
    spells = Membership.objects.current().filter(lab__in=access.user_lab_ids(user))
    rank = {Membership.Status.MEMBER: 0, Membership.Status.CANDIDATE: 1, Membership.Status.OBSERVER: 2}
    lab_status = {}
    for spell in sorted(spells.filter(status__in=list(rank)), key=lambda spell: rank[spell.status], reverse=True):
        lab_status[spell.consortium_id] = spell.get_status_display()
    consortia = list(access.visible_consortia(user).order_by("name"))
    for consortium in consortia:
        consortium.my_lab_status = lab_status.get(consortium.pk)
    return render(
        request,
        "dashboard.html",
        {
            "labs": user.labs.order_by("name"),
            "consortia": consortia,
            "coordinated": set(access.coordinated_consortia(user).values_list("pk", flat=True)),
            "savings": savings,
            "latest_results": latest_results,
            "recent_runs": visible_runs(user=user).order_by("-created_at", "-id")[:6],
            "invitations": access.pending_invitations(user)
            .select_related("consortium", "lab")
            .prefetch_related("consortium__coordinators")
            .order_by("joined_on"),
            "applications": Application.objects.filter(lab__in=access.user_lab_ids(user)).select_related(
                "consortium", "lab", "membership"
            )[:10],
        },
    )


@login_required
@require_http_methods(["POST"])
def invitation_answer(request, pk: int, accept: bool):
    """A lab's user accepts or declines the lab's invitation to a consortium (from the dashboard)."""
    spell = get_object_or_404(access.visible_memberships(request.user), pk=pk)
    if not access.can_edit_lab(request.user, spell.lab):
        raise PermissionDenied("Only the invited lab's users answer its invitation.")
    try:
        if accept:
            services.membership_accept(spell=spell, by=request.user)
        else:
            services.membership_decline(spell=spell, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if accept:
            messages.success(request, f"{spell.lab.name} is now a candidate of {spell.consortium.name}.")
        else:
            messages.success(request, f"{spell.lab.name} declined the invitation to {spell.consortium.name}.")
    return redirect("dashboard")


def _visible_consortium(request, slug: str) -> Consortium:
    consortium = get_object_or_404(Consortium, slug=slug)
    if not access.can_view_consortium(request.user, consortium):
        raise Http404("No such consortium.")
    return consortium


def _reuse_between_members(consortium: Consortium):
    """Reuse where both the reusing lab and the artifact's lab are current participants."""
    lab_ids = Membership.objects.current().filter(consortium=consortium).values("lab_id")
    return ArtifactReuse.objects.filter(reusing_lab__in=lab_ids, artifact__lab__in=lab_ids)


def _reuse_flows(consortium: Consortium) -> list[dict]:
    """Who saved how much from whose work: GPU-hours saved per (reusing lab, source lab)."""
    rows = (
        _reuse_between_members(consortium)
        .values("reusing_lab__name", "artifact__lab__name")
        .annotate(gpu_hours_saved=Sum("gpu_hours_saved"))
        .order_by("-gpu_hours_saved", "reusing_lab__name")
    )
    return [{"reusing_lab": row["reusing_lab__name"], "source_lab": row["artifact__lab__name"], **row} for row in rows]


@login_required
def consortium_detail(request, slug: str):
    consortium = _visible_consortium(request, slug)
    user = request.user
    memberships = list(consortium.memberships.current().select_related("lab").order_by("status", "lab__name"))
    by_quarter = contribution_totals(consortium=consortium, group_by=("quarter",))
    by_lab = contribution_totals(consortium=consortium, group_by=("lab",))
    for row in by_quarter:
        row["label"] = _quarter_label(row["quarter"])
    chart = {
        "labels": [row["label"] for row in by_quarter],
        "pledged": [float(row["gpu_hours_pledged"]) for row in by_quarter],
        "delivered": [float(row["gpu_hours_delivered"]) for row in by_quarter],
    }
    scenario_list = list(consortium.scenarios.active().prefetch_related("labs"))
    latest = latest_runs_get(scenarios=scenario_list, succeeded=False)
    scenarios = [{"scenario": scenario, "latest": latest.get(scenario.pk)} for scenario in scenario_list]
    archived = consortium.scenarios.archived().order_by("-archived_at", "name")
    lab_ids = [membership.lab_id for membership in memberships]
    is_coordinator = access.is_coordinator(user, consortium)
    # The membership advisor's card is for coordinators; ?advisor=<scenario id> picks its scenario.
    advisor = advisor_card_context(consortium=consortium, chosen=request.GET.get("advisor")) if is_coordinator else {}
    return render(
        request,
        "consortium/detail.html",
        {
            "consortium": consortium,
            "is_coordinator": is_coordinator,
            "applications": list(pending_applications(consortium)) if is_coordinator else [],
            "members": [m for m in memberships if m.status == Membership.Status.MEMBER],
            "others": [m for m in memberships if m.status != Membership.Status.MEMBER],
            "my_lab_ids": access.user_lab_ids(user),
            "by_quarter": by_quarter,
            "by_lab": by_lab,
            "chart": chart,
            "artifacts": Artifact.objects.filter(lab__in=lab_ids).select_related("lab"),
            "flows": _reuse_flows(consortium),
            "reuses": _reuse_between_members(consortium).select_related("artifact__lab", "reusing_lab"),
            "scenarios": scenarios,
            "archived_scenarios": archived,
            **advisor,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def membership_change(request, slug: str):
    """Coordinators add a lab as member, candidate or observer, change its status, or record that it left."""
    # 404 before 403: a consortium the user cannot see must look like one that does not exist.
    consortium = _visible_consortium(request, slug)
    if not access.is_coordinator(request.user, consortium):
        raise PermissionDenied("Only the consortium's coordinators change its membership.")
    initial = {"lab": request.GET.get("lab")} if request.GET.get("lab") else None
    form = MembershipForm(request.POST or None, initial=initial, consortium=consortium, user=request.user)
    status, limited = 200, False
    if request.method == "POST":
        if form.is_valid():
            lab, new_status, on_date = (form.cleaned_data[name] for name in ("lab", "status", "on_date"))
            try:
                if new_status == LEAVE:
                    services.membership_end(consortium=consortium, lab=lab, on_date=on_date, by=request.user)
                else:
                    spell = services.membership_change(
                        consortium=consortium, lab=lab, status=new_status, on_date=on_date, by=request.user
                    )
                    new_status = spell.status
            except services.InvitationLimitReached as error:
                add_service_errors(form, error)
                limited = True
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                if new_status == Membership.Status.INVITED:
                    done = "is invited: it joins as a candidate once one of its users accepts on their dashboard."
                elif new_status == LEAVE:
                    done = f"has left from {on_date:%d %b %Y}."
                else:
                    done = f"is now a {new_status} from {on_date:%d %b %Y}."
                messages.success(request, f"{lab.name} {done}")
                return redirect(consortium)
        status = 429 if limited else 400
    history = consortium.memberships.select_related("lab").order_by("lab__name", "-joined_on")
    return render(
        request,
        "consortium/membership_form.html",
        {"consortium": consortium, "form": form, "history": history},
        status=status,
    )


def _quarter_label(quarter) -> str:
    if not quarter:
        return ""
    return f"{quarter.year} Q{(quarter.month - 1) // 3 + 1}"


@login_required
def contributions_csv(request, slug: str):
    """Pledged versus delivered per quarter and lab, the table behind the consortium's chart."""
    consortium = _visible_consortium(request, slug)
    rows = contribution_totals(consortium=consortium, group_by=("quarter", "lab"))
    return csv_response(
        f"{consortium.slug}-contributions.csv",
        [
            "quarter",
            "lab",
            "entries",
            "gpu_hours_pledged",
            "gpu_hours_delivered",
            "pledged_value_usd",
            "delivered_value_usd",
            "cash_usd",
        ],
        (
            [
                _quarter_label(row["quarter"]),
                row["lab_name"],
                row["entries"],
                row["gpu_hours_pledged"],
                row["gpu_hours_delivered"],
                row["pledged_value"],
                row["delivered_value"],
                row["cash"],
            ]
            for row in rows
        ),
    )


@login_required
def reuse_csv(request, slug: str):
    consortium = _visible_consortium(request, slug)
    reuses = _reuse_between_members(consortium).select_related("artifact__lab", "reusing_lab")
    return csv_response(
        f"{consortium.slug}-reuse.csv",
        ["reused_on", "reusing_lab", "source_lab", "artifact", "artifact_kind", "gpu_hours_saved", "note"],
        (
            [
                reuse.reused_on.isoformat(),
                reuse.reusing_lab.name,
                reuse.artifact.lab.name,
                reuse.artifact.title,
                reuse.artifact.kind,
                reuse.gpu_hours_saved,
                reuse.note,
            ]
            for reuse in reuses
        ),
    )


@login_required
def artifacts_csv(request, slug: str):
    consortium = _visible_consortium(request, slug)
    lab_ids = Membership.objects.current().filter(consortium=consortium).values("lab_id")
    artifacts = Artifact.objects.filter(lab__in=lab_ids).select_related("lab")
    counts = defaultdict(int)
    for reuse in _reuse_between_members(consortium).values_list("artifact_id", flat=True):
        counts[reuse] += 1
    return csv_response(
        f"{consortium.slug}-artifacts.csv",
        [
            "title",
            "lab",
            "kind",
            "research_area",
            "openness",
            "licence",
            "reproduction_gpu_hours",
            "release_date",
            "reuses_in_consortium",
            "url",
        ],
        (
            [
                artifact.title,
                artifact.lab.name,
                artifact.kind,
                artifact.research_area,
                artifact.openness,
                artifact.licence,
                artifact.reproduction_gpu_hours,
                artifact.release_date.isoformat(),
                counts[artifact.pk],
                artifact.url,
            ]
            for artifact in artifacts
        ),
    )
