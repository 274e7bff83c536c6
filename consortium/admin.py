"""Admin of consortia, membership history and scenarios (staff's way to change anything)."""

from __future__ import annotations

from django.contrib import admin

from .models import Consortium, Membership, Scenario


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("lab",)


@admin.register(Consortium)
class ConsortiumAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "currency", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("coordinators",)
    inlines = (MembershipInline,)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("lab", "consortium", "status", "joined_on", "left_on")
    list_filter = ("status", "consortium")
    search_fields = ("lab__name", "consortium__name")
    list_select_related = ("lab", "consortium")


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ("name", "consortium", "draws", "seed", "updated_at")
    list_filter = ("consortium",)
    search_fields = ("name", "consortium__name")
    filter_horizontal = ("labs",)
