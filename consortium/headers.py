"""Headers every response carries: Permissions-Policy, and Cache-Control on private responses.

A small middleware rather than django-permissions-policy: the policy is one fixed header built
once from settings.PERMISSIONS_POLICY, and the caching rule below is the project's own.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


def permissions_policy_header(policy: dict[str, list[str]]) -> str:
    """`{"camera": [], "fullscreen": ["self"]}` -> `camera=(), fullscreen=(self)` (the structured-header form)."""
    return ", ".join(f"{feature}=({' '.join(origins)})" for feature, origins in policy.items())


class PrivacyHeadersMiddleware:
    """Permissions-Policy on every response; `Cache-Control: private, no-store` on those for a signed-in user.

    A response for a user (a session, a token or an API key authenticated it) must not be kept by
    a shared cache, nor by the browser's disk cache after log-out. `no-store` forbids storing the
    body, but validators stay: the reports' ETag and Last-Modified still answer a client's
    If-None-Match with 304.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.permissions_policy = permissions_policy_header(settings.PERMISSIONS_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.permissions_policy)
        if _is_private(request, response):
            patch_cache_control(response, private=True, no_store=True)
        return response


def _is_private(request: HttpRequest, response: HttpResponse) -> bool:
    # DRF authenticates token and API-key requests itself, inside the view: the header says a
    # credential was sent, and the answer is meant for its holder only. Checked first, so such
    # requests never load a session.
    if "HTTP_AUTHORIZATION" in request.META:
        return True
    user = getattr(request, "user", None)
    return user is not None and user.is_authenticated
