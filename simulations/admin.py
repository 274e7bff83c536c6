from django.contrib import admin

from .models import LeverStudy, MemberResult, SimulationChunk, SimulationRun, StabilityResult


class ChunkInline(admin.TabularInline):
    model = SimulationChunk
    fields = ["index", "start", "stop", "attempts", "lost", "started_at", "heartbeat_at", "finished_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False


class StabilityInline(admin.TabularInline):
    model = StabilityResult
    fields = ["rule", "in_core", "individually_rational", "blocking_coalition", "max_excess", "least_core_epsilon"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(SimulationRun)
class SimulationRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "scenario",
        "status",
        "chunks_done",
        "chunks_total",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status"]
    search_fields = ["scenario__name", "scenario__consortium__name"]
    # Runs are records of what was computed: inputs and results are never edited by hand.
    readonly_fields = [field.name for field in SimulationRun._meta.fields]
    inlines = [StabilityInline, ChunkInline]


@admin.register(MemberResult)
class MemberResultAdmin(admin.ModelAdmin):
    list_display = ["run", "rule", "lab_name", "standalone_cost", "allocated_cost", "savings_pct", "prob_saving"]
    list_filter = ["rule"]
    search_fields = ["lab_name"]
    readonly_fields = [field.name for field in MemberResult._meta.fields]


@admin.register(LeverStudy)
class LeverStudyAdmin(admin.ModelAdmin):
    list_display = ["id", "scenario", "status", "rule", "target", "progress", "created_by", "created_at", "finished_at"]
    list_filter = ["status"]
    search_fields = ["scenario__name", "scenario__consortium__name"]
    readonly_fields = [field.name for field in LeverStudy._meta.fields]
