"""OpenAPI description of the `Api-Key` scheme (drf-spectacular finds it when reports.apps loads it)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "reports.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <prefix>.<secret>`: read-only, one consortium's reports only.",
        }

    def get_security_requirement(self, auto_schema):  # type: ignore[no-untyped-def]
        # Only report endpoints accept keys; elsewhere the scheme is not offered.
        if not getattr(auto_schema.view, "api_key_access", False):
            return []
        return {self.name: []}
