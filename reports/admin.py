from django.contrib import admin

from .models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "consortium", "created_at", "expires_at", "revoked_at", "last_used_at"]
    list_filter = ["consortium"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "hashed_secret", "created_by", "created_at", "revoked_by", "last_used_at"]

    def has_add_permission(self, request) -> bool:
        # A key's secret is shown once on creation, which only the API does.
        return False
