"""`Authorization: Api-Key <prefix>.<secret>`: read-only access to one consortium's reports.

A key authenticates as an `ApiKeyPrincipal`, not as a user: it belongs to a consortium, not to a
person, and it can read reports only. Every other API endpoint refuses it with 403 before looking
the key up, so endpoints written for users never meet a principal without labs or permissions.
"""

from __future__ import annotations

import datetime

from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiKey

KEYWORD = "Api-Key"
# last_used_at is a hint for coordinators, not an audit log: one write a minute per key at most.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


class ApiKeyPrincipal:
    """What `request.user` is for a request made with an API key."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.username = f"api-key:{api_key.prefix}"

    def __str__(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):  # type: ignore[no-untyped-def]
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None
        view = (getattr(request, "parser_context", None) or {}).get("view")
        if not getattr(view, "api_key_access", False):
            raise exceptions.PermissionDenied(
                "API keys read reports only (/api/v1/consortia/{slug}/reports/...); "
                "use a session or a token for this endpoint."
            )
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Api-Key header: expected 'Api-Key <prefix>.<secret>'.")
        try:
            prefix, secret = header[1].decode().split(".", 1)
        except (UnicodeDecodeError, ValueError):
            raise exceptions.AuthenticationFailed(
                "Malformed API key: expected '<prefix>.<secret>' as shown when the key was created."
            ) from None
        if not prefix or not secret:
            raise exceptions.AuthenticationFailed("Malformed API key: expected '<prefix>.<secret>'.")
        try:
            api_key = ApiKey.objects.select_related("consortium").get(prefix=prefix)
        except ApiKey.DoesNotExist:
            api_key = None
        if api_key is None or not api_key.secret_matches(secret):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        now = timezone.now()
        state = api_key.state(now)
        if state == ApiKey.State.REVOKED:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if state == ApiKey.State.EXPIRED:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
            api_key.last_used_at = now
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request) -> str:  # type: ignore[no-untyped-def]
        return f'{KEYWORD} realm="api"'


def request_api_key(request) -> ApiKey | None:  # type: ignore[no-untyped-def]
    return request.auth if isinstance(request.auth, ApiKey) else None
