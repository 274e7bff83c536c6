"""Admin of consortia, membership history and scenarios (staff's way to change anything).

Membership spells are history, as in the ledger admin (labs/admin.py): the admin shows them
read-only, and a new spell is added through consortium.services, which closes the lab's current
spell the same way the API and the consortium page do.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction

from . import services
from .models import Application, Consortium, Membership, Scenario


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("lab", "status", "joined_on", "left_on")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Consortium)
class ConsortiumAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "currency", "listed", "created_at")
    list_filter = ("listed",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("coordinators",)
    inlines = (MembershipInline,)


class _DryRun(Exception):
    """Rolls back the service call the form makes only to validate."""


class MembershipAddForm(forms.ModelForm):
    # Set by MembershipAdmin.get_form: who adds the spell decides whether it is an invitation.
    user = None

    class Meta:
        model = Membership
        fields = ("consortium", "lab", "status", "joined_on")

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        if self.errors:
            return data
        # The service holds every rule (dates against the current spell, no repeated status);
        # run it and roll back, so the form shows its errors instead of a 500 on save.
        try:
            with transaction.atomic():
                services.membership_change(
                    consortium=data["consortium"],
                    lab=data["lab"],
                    status=data["status"],
                    on_date=data["joined_on"],
                    by=self.user,
                )
                raise _DryRun
        except _DryRun:
            pass
        except ValidationError as exc:
            self.add_error(None, exc.messages)
        return data


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipAddForm
    list_display = ("lab", "consortium", "status", "joined_on", "left_on")
    list_filter = ("status", "consortium")
    search_fields = ("lab__name", "consortium__name")
    list_select_related = ("lab", "consortium")
    autocomplete_fields = ("lab",)

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):  # type: ignore[no-untyped-def]
        form = super().get_form(request, obj, change=change, **kwargs)
        form.user = request.user
        return form

    def save_model(self, request, obj, form, change) -> None:  # type: ignore[no-untyped-def]
        data = form.cleaned_data
        spell = services.membership_change(
            consortium=data["consortium"],
            lab=data["lab"],
            status=data["status"],
            on_date=data["joined_on"],
            by=request.user,
        )
        # The admin logs and redirects using `obj`; point it at the spell the service wrote.
        obj.pk = spell.pk
        obj._state.adding = False


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ("name", "consortium", "draws", "seed", "archived_at", "updated_at")
    list_filter = ("consortium", ("archived_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "consortium__name")
    filter_horizontal = ("labs",)


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    """Applications are answered by coordinators (consortium.applications); the admin shows them read-only."""

    list_display = ("lab", "consortium", "status", "created_at", "decided_at")
    list_filter = ("status", "consortium")
    search_fields = ("lab__name", "consortium__name", "note")
    list_select_related = ("lab", "consortium")

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
