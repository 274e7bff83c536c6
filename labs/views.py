"""Lab pages: profile, compute ledger (log and correct), artifacts and reuse.

Reading needs `can_view_lab`; every form needs `can_edit_lab` (the lab's own users) and answers 403
to a user who reads the lab but may not change it. A lab the user cannot see answers 404 everywhere,
exactly as a lab that does not exist. Writes go through labs.services, whose field-keyed
ValidationErrors land beside the inputs.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from consortium import access
from consortium.csv_export import csv_response
from simulations.engine import AREA_LABELS, AREAS

from . import services
from .forms import ArtifactForm, ContributionForm, CorrectionForm, LabProfileForm, ReuseForm, add_service_errors
from .models import Artifact, ArtifactReuse, ComputeContribution, Lab
from .selectors import EVIDENCE_MONTHS_DEFAULT, OPENNESS_WEIGHTS, evidence_window, lab_evidence_get, ledger_history


def _visible_lab(request, slug: str) -> Lab:
    lab = get_object_or_404(Lab, slug=slug)
    if not access.can_view_lab(request.user, lab):
        raise Http404("No such lab.")
    return lab


def _editable_lab(request, slug: str) -> Lab:
    """404 for a lab the user cannot see (as for one that does not exist), 403 for one it only reads."""
    lab = _visible_lab(request, slug)
    if not access.can_edit_lab(request.user, lab):
        raise PermissionDenied("Only this lab's own users can change it.")
    return lab


def _ledger(request, lab: Lab):
    """The lab's ledger entries the viewer may read: all for the lab's users, else those of shared consortia."""
    entries = ledger_history(lab=lab)
    if not access.can_edit_lab(request.user, lab):
        entries = entries.filter(consortium__in=access.visible_consortia(request.user))
    return entries


FORM_PAGES = {
    "edit": (
        "labs/profile_form.html",
        "Edit profile",
        "Figures here feed every scenario that includes this lab.",
        "Save profile",
    ),
    "contribution": (
        "labs/contribution_form.html",
        "Log a contribution",
        "Compute pledged and delivered to a consortium, at the agreed in-kind price.",
        "Log contribution",
    ),
    "correction": (
        "labs/correction_form.html",
        "Correct an entry",
        "The entry stays in the ledger; a reversal cancels it and the corrected values are recorded as a replacement.",
        "Record correction",
    ),
    "artifact": (
        "labs/form_page.html",
        "Add an artifact",
        "Something this lab shares that saves other labs research compute.",
        "Add artifact",
    ),
    "reuse": (
        "labs/form_page.html",
        "Log reuse of another lab's work",
        "Which artifact this lab reused and roughly how many GPU-hours it saved.",
        "Log reuse",
    ),
}
WIDE_FIELDS = (
    "description",
    "listed_in_directory",
    "evidence_note",
    "evidence_url",
    "note",
    "title",
    "reason",
    "artifact",
    "consortium",
    "saving_exceeds_reason",
)


def _form_page(request, page: str, *, lab: Lab, form, status: int = 200, **extra):
    """Render a lab form; a rejected POST answers 400 with the errors beside their fields."""
    template, title, lead, submit = FORM_PAGES[page]
    context = {"lab": lab, "form": form, "title": title, "lead": lead, "submit": submit, "wide": WIDE_FIELDS}
    return render(request, template, context | extra, status=status)


def _reuse(request, lab: Lab):
    """Reuse by this lab and of its work, limited to labs the viewer may see unless it is the viewer's lab."""
    reuse_by = ArtifactReuse.objects.filter(reusing_lab=lab).select_related("artifact__lab", "reusing_lab")
    reuse_of = ArtifactReuse.objects.filter(artifact__lab=lab).select_related("artifact__lab", "reusing_lab")
    if not access.can_edit_lab(request.user, lab):
        visible = access.visible_labs(request.user)
        reuse_by = reuse_by.filter(artifact__lab__in=visible)
        reuse_of = reuse_of.filter(reusing_lab__in=visible)
    return reuse_by, reuse_of


@login_required
def lab_detail(request, slug: str):
    lab = _visible_lab(request, slug)
    can_edit = access.can_edit_lab(request.user, lab)
    entries = list(_ledger(request, lab).select_related("consortium", "recorded_by"))
    # Hiding a corrected entry hides its reversal too: the two cancel, so the totals stay the same.
    hide_corrected = request.GET.get("corrected") == "hide"
    shown = (
        [entry for entry in entries if not entry.is_corrected and entry.entry_type != entry.EntryType.REVERSAL]
        if hide_corrected
        else entries
    )
    totals = {
        "pledged": sum(entry.gpu_hours_pledged for entry in entries),
        "delivered": sum(entry.gpu_hours_delivered for entry in entries),
        "delivered_value": sum(entry.delivered_value for entry in entries),
        "delivered_h100": sum(entry.h100_gpu_hours_delivered or 0.0 for entry in entries),
    }
    artifacts = lab.artifacts.all()
    reuse_by, reuse_of = _reuse(request, lab)
    # Over the window scenarios read by default; a reader who is not the lab's sees the reuse it may see.
    start, end = evidence_window(EVIDENCE_MONTHS_DEFAULT)
    evidence = lab_evidence_get(
        labs=[lab], start=start, end=end, reusing_labs=None if can_edit else access.visible_labs(request.user)
    )[lab.pk]
    return render(
        request,
        "labs/detail.html",
        {
            "lab": lab,
            "can_edit": can_edit,
            "entries": shown,
            "ledger_size": len(entries),
            "corrections": sum(1 for entry in entries if entry.entry_type == entry.EntryType.REVERSAL),
            "hide_corrected": hide_corrected,
            "totals": totals,
            "artifacts": artifacts,
            "reuse_by": reuse_by,
            "reuse_of": reuse_of,
            "evidence": evidence,
            "evidence_months": EVIDENCE_MONTHS_DEFAULT,
            "openness_weights": [(label, OPENNESS_WEIGHTS[value]) for value, label in Artifact.Openness.choices],
            # Only consortia the viewer may see: a lab's other memberships are not the viewer's business.
            "consortia": lab.consortium_memberships.current()
            .filter(consortium__in=access.visible_consortia(request.user))
            .select_related("consortium"),
            # In the engine's area order; a JSON column may hand the keys back in any order.
            "weights": [(AREA_LABELS[area], lab.area_weights.get(area, 0)) for area in AREAS],
            "members": lab.memberships.select_related("user"),
            "applications": (
                lab.consortium_applications.select_related("consortium", "membership")[:20] if can_edit else []
            ),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def lab_edit(request, slug: str):
    lab = _editable_lab(request, slug)
    form = LabProfileForm(request.POST or None, instance=lab)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, "Profile saved.")
            return redirect(lab)
        return _form_page(request, "edit", lab=lab, form=form, status=400)
    return _form_page(request, "edit", lab=lab, form=form)


@login_required
@require_http_methods(["GET", "POST"])
def contribution_new(request, slug: str):
    lab = _editable_lab(request, slug)
    form = ContributionForm(request.POST or None, lab=lab)
    if request.method == "POST":
        if form.is_valid():
            try:
                entry = services.contribution_record(lab=lab, recorded_by=request.user, **form.service_values())
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, f"Entry #{entry.pk} logged in the ledger.")
                return redirect(f"{lab.get_absolute_url()}#ledger")
        return _form_page(request, "contribution", lab=lab, form=form, status=400)
    return _form_page(request, "contribution", lab=lab, form=form)


@login_required
@require_http_methods(["GET", "POST"])
def contribution_correct(request, slug: str, pk: int):
    lab = _editable_lab(request, slug)
    original = get_object_or_404(ComputeContribution.objects.select_related("consortium", "lab"), pk=pk, lab=lab)
    if original.entry_type == ComputeContribution.EntryType.REVERSAL or original.is_corrected:
        messages.error(request, f"Entry #{original.pk} cannot be corrected: it is a reversal or already corrected.")
        return redirect(f"{lab.get_absolute_url()}#ledger")
    form = CorrectionForm(request.POST or None, original=original)
    if request.method == "POST":
        if form.is_valid():
            try:
                reversal, replacement = services.contribution_correct(
                    original=original,
                    recorded_by=request.user,
                    reason=form.cleaned_data["reason"],
                    **form.new_values(),
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                done = f"replaced by #{replacement.pk}" if replacement else "reversed"
                messages.success(request, f"Entry #{original.pk} {done} (reversal #{reversal.pk}).")
                return redirect(f"{lab.get_absolute_url()}#ledger")
        return _form_page(request, "correction", lab=lab, form=form, status=400, original=original)
    return _form_page(request, "correction", lab=lab, form=form, original=original)


@login_required
@require_http_methods(["GET", "POST"])
def artifact_new(request, slug: str):
    lab = _editable_lab(request, slug)
    form = ArtifactForm(request.POST or None, lab=lab)
    if request.method == "POST":
        if form.is_valid():
            try:
                artifact = services.artifact_create(
                    lab=lab, created_by=request.user, **{name: form.cleaned_data[name] for name in form.Meta.fields}
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, f"Artifact “{artifact.title}” added.")
                return redirect(f"{lab.get_absolute_url()}#artifacts")
        return _form_page(request, "artifact", lab=lab, form=form, status=400)
    return _form_page(request, "artifact", lab=lab, form=form)


@login_required
@require_http_methods(["GET", "POST"])
def reuse_new(request, slug: str):
    lab = _editable_lab(request, slug)
    artifacts = Artifact.objects.filter(lab__in=access.visible_labs(request.user))
    form = ReuseForm(request.POST or None, lab=lab, artifacts=artifacts)
    if request.method == "POST":
        if form.is_valid():
            try:
                reuse = services.reuse_record(
                    reusing_lab=lab,
                    recorded_by=request.user,
                    **{name: form.cleaned_data[name] for name in form.Meta.fields},
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, f"Reuse of “{reuse.artifact.title}” logged.")
                return redirect(f"{lab.get_absolute_url()}#reuse")
        return _form_page(request, "reuse", lab=lab, form=form, status=400)
    return _form_page(request, "reuse", lab=lab, form=form)


LEDGER_COLUMNS = [
    "entry_id",
    "recorded_at",
    "lab",
    "consortium",
    "entry_type",
    "period_start",
    "period_end",
    "gpu_type",
    "gpu_hours_pledged",
    "gpu_hours_delivered",
    "price_per_gpu_hour_usd",
    "delivered_value_usd",
    "cash_usd",
    "reverses_entry",
    "replaces_entry",
    "reason",
    "over_pledge_confirmed",
    "evidence_url",
    "recorded_by",
]


@login_required
def ledger_csv(request, slug: str):
    lab = _visible_lab(request, slug)
    entries = _ledger(request, lab).select_related("consortium", "recorded_by")
    rows = (
        [
            entry.pk,
            entry.recorded_at.isoformat(),
            lab.name,
            entry.consortium.name,
            entry.entry_type,
            entry.period_start.isoformat(),
            entry.period_end.isoformat(),
            entry.gpu_type,
            entry.gpu_hours_pledged,
            entry.gpu_hours_delivered,
            entry.price_per_gpu_hour,
            entry.delivered_value,
            entry.cash,
            entry.reverses_id or "",
            entry.replaces_id or "",
            entry.reason,
            "true" if entry.over_pledge_confirmed else "false",
            entry.evidence_url,
            entry.recorded_by.get_username(),
        ]
        for entry in entries
    )
    return csv_response(f"{lab.slug}-ledger.csv", LEDGER_COLUMNS, rows)


@login_required
def artifacts_csv(request, slug: str):
    lab = _visible_lab(request, slug)
    return csv_response(
        f"{lab.slug}-artifacts.csv",
        ["title", "kind", "research_area", "openness", "licence", "reproduction_gpu_hours", "release_date", "url"],
        (
            [
                a.title,
                a.kind,
                a.research_area,
                a.openness,
                a.licence,
                a.reproduction_gpu_hours,
                a.release_date.isoformat(),
                a.url,
            ]
            for a in lab.artifacts.all()
        ),
    )


@login_required
def reuse_csv(request, slug: str):
    """Reuse by this lab and of its work, one row each, with the direction in its own column."""
    lab = _visible_lab(request, slug)
    reuse_by, reuse_of = _reuse(request, lab)
    rows = [("by_this_lab", reuse) for reuse in reuse_by] + [("of_this_labs_work", reuse) for reuse in reuse_of]
    return csv_response(
        f"{lab.slug}-reuse.csv",
        [
            "direction",
            "reused_on",
            "reusing_lab",
            "source_lab",
            "artifact",
            "gpu_hours_saved",
            "saving_exceeds_reason",
            "note",
        ],
        (
            [
                direction,
                reuse.reused_on.isoformat(),
                reuse.reusing_lab.name,
                reuse.artifact.lab.name,
                reuse.artifact.title,
                reuse.gpu_hours_saved,
                reuse.saving_exceeds_reason,
                reuse.note,
            ]
            for direction, reuse in rows
        ),
    )


@login_required
def lab_list(request):
    labs = access.visible_labs(request.user).order_by("name")
    mine = access.user_lab_ids(request.user)
    return render(request, "labs/list.html", {"labs": labs, "mine": mine})
