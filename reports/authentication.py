"""`Authorization: Api-Key <prefix>.<secret>`: read-only access to one consortium's reports.

A key authenticates as an `ApiKeyPrincipal`, not as a user: it belongs to a consortium, not to a
person, and it can read reports only. Every other API endpoint refuses it with 403 before looking
the key up, so endpoints written for users never meet a principal without labs or permissions.
"""

from __future__ import annotations

import datetime
import re

from django.utils import timezone
from rest_framework import authentication, exceptions

from consortium.models import Consortium

from .models import ApiKey
from .rows import RowQuery, Selection

KEYWORD = "Api-Key"
# Prefixes are lowercase hex (ApiKey.generate), at most the column's length.
PREFIX_PATTERN = re.compile(rf"[0-9a-f]{{1,{ApiKey._meta.get_field('prefix').max_length}}}")
# last_used_at is a hint for coordinators, not an audit log: one write a minute per key at most.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)

# The key and its consortium in one fixed statement (reports/rows.py says why not the ORM). It is
# read from the database on every request, never from a cache: a revoked key fails at once.
KEY_AND_CONSORTIUM = RowQuery(
    [Selection(ApiKey, "k"), Selection(Consortium, "c")],
    'FROM {key} "k" INNER JOIN {consortium} "c" ON "c".{consortium_pk} = "k".{key_consortium} WHERE "k".{prefix} = %s',
    {
        "key": ApiKey._meta.db_table,
        "consortium": Consortium._meta.db_table,
        "consortium_pk": Consortium._meta.pk.column,
        "key_consortium": ApiKey._meta.get_field("consortium").column,
        "prefix": ApiKey._meta.get_field("prefix").column,
    },
)


def api_key_get(prefix: str) -> ApiKey | None:
    """The key with this prefix, its consortium loaded, or None."""
    found = KEY_AND_CONSORTIUM.fetch([prefix])
    if found is None:
        return None
    return api_key_with_consortium(*found)  # type: ignore[arg-type]


def api_key_with_consortium(api_key: ApiKey, consortium: Consortium) -> ApiKey:
    ApiKey._meta.get_field("consortium").set_cached_value(api_key, consortium)
    return api_key


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
        if not PREFIX_PATTERN.fullmatch(prefix):
            # No key has such a prefix, and the database need not see it (a NUL byte is not text there).
            raise exceptions.AuthenticationFailed("Invalid API key.")
        # A view may look the key up together with what it reads next, in one query; the key is
        # checked below all the same.
        lookup = getattr(view, "api_key_lookup", None)
        api_key = lookup(prefix) if lookup is not None else api_key_get(prefix)
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
