from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from reports.api.views import unknown_endpoint

from . import health, views

api_v1 = [
    # Reports first: API clients poll them, and Django tries patterns in order until one matches.
    path("", include("reports.api.urls")),
    path("", include("labs.api.urls")),
    path("", include("consortium.api.urls")),
    path("", include("simulations.api.urls")),
    # Last of all /api/v1/ routes: an unknown API URL answers in the API's error format instead of
    # the site's HTML 404 page.
    re_path(r"^[\s\S]*$", unknown_endpoint, name="api-unknown"),
]

urlpatterns = [
    path("", views.landing, name="landing"),
    path("healthz", health.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("accounts.urls")),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("labs/", include("labs.urls")),
    path("consortia/", include("consortium.consortium_urls")),
    path("simulations/", include("simulations.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI's start-up script comes from the same URL (?script), not inline.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # Redoc's bundle writes its styles into <style> elements at run time, parses the schema in a
    # worker started from a blob: URL and shows Redocly's logo from its CDN (hard-coded, no option
    # turns it off); only this page allows any of the three.
    path(
        "api/redoc/",
        csp_update({"style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"], "img-src": ["https://cdn.redoc.ly"]})(
            SpectacularRedocView.as_view(url_name="schema")
        ),
        name="api-redoc",
    ),
]

# Under /api/ errors answer in the API's JSON shape; elsewhere the styled pages in templates/.
handler400 = "consortium.api_errors.bad_request"
handler403 = "consortium.api_errors.permission_denied"
handler404 = "consortium.api_errors.page_not_found"
handler500 = "consortium.api_errors.server_error"
