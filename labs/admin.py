"""Admin of labs and their ledger. Ledger entries are added through the service and never changed
or deleted here either: the admin shows them read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from . import services
from .models import Artifact, ArtifactReuse, ComputeContribution, Lab, LabInvitation, LabMember


class LabMemberInline(admin.TabularInline):
    model = LabMember
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Lab)
class LabAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "country", "gpu_type", "final_run_gpu_hours", "rd_share", "openness")
    list_filter = ("kind", "gpu_type")
    search_fields = ("name", "slug", "country")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (LabMemberInline,)


@admin.register(LabMember)
class LabMemberAdmin(admin.ModelAdmin):
    list_display = ("user", "lab", "role")
    list_filter = ("role",)
    search_fields = ("user__username", "lab__name")
    list_select_related = ("user", "lab")
    autocomplete_fields = ("user", "lab")


class ContributionAddForm(forms.ModelForm):
    class Meta:
        model = ComputeContribution
        fields = ("lab", "consortium", *services.AMENDABLE_FIELDS)

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        if data.get("lab") and data.get("consortium"):
            try:
                services.contribution_check_participant(lab=data["lab"], consortium=data["consortium"])
            except ValidationError as exc:
                self.add_error(None, exc)
        return data


@admin.register(ComputeContribution)
class ComputeContributionAdmin(admin.ModelAdmin):
    form = ContributionAddForm
    list_display = (
        "id",
        "lab",
        "consortium",
        "entry_type",
        "period_start",
        "period_end",
        "gpu_hours_pledged",
        "gpu_hours_delivered",
        "price_per_gpu_hour",
        "recorded_by",
        "recorded_at",
    )
    list_filter = ("entry_type", "gpu_type", "consortium")
    search_fields = ("lab__name", "consortium__name", "reason", "evidence_note")
    list_select_related = ("lab", "consortium", "recorded_by")
    date_hierarchy = "period_start"

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def save_model(self, request, obj, form, change) -> None:  # type: ignore[no-untyped-def]
        entry = services.contribution_record(recorded_by=request.user, **form.cleaned_data)
        # The admin logs and redirects using `obj`; point it at the entry the service wrote.
        obj.pk = entry.pk
        obj._state.adding = False


@admin.register(Artifact)
class ArtifactAdmin(admin.ModelAdmin):
    list_display = ("title", "lab", "kind", "openness", "research_area", "reproduction_gpu_hours", "release_date")
    list_filter = ("kind", "openness", "research_area")
    search_fields = ("title", "lab__name")
    list_select_related = ("lab",)


@admin.register(ArtifactReuse)
class ArtifactReuseAdmin(admin.ModelAdmin):
    list_display = ("artifact", "reusing_lab", "reused_on", "gpu_hours_saved")
    search_fields = ("artifact__title", "reusing_lab__name")
    list_select_related = ("artifact", "reusing_lab")


@admin.register(LabInvitation)
class LabInvitationAdmin(admin.ModelAdmin):
    """Invitations are written by labs.team (the link is signed from the row's id); staff read and withdraw them."""

    list_display = ("email", "lab", "role", "state", "created_at", "expires_at")
    list_filter = ("role",)
    search_fields = ("email", "lab__name")
    list_select_related = ("lab",)
    readonly_fields = ("lab", "email", "role", "invited_by", "created_at", "accepted_at", "accepted_by")

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False
