"""Writes of API keys: created and revoked by a consortium's coordinators."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from consortium.models import Consortium

from .models import ApiKey


@transaction.atomic
def api_key_create(
    *, consortium: Consortium, created_by, name: str, expires_at: datetime.datetime | None = None
) -> tuple[ApiKey, str]:
    """A new key and its full token `<prefix>.<secret>`, which is never stored and never shown again."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    api_key, token = ApiKey.new(consortium=consortium, created_by=created_by, name=name.strip(), expires_at=expires_at)
    api_key.full_clean()
    api_key.save()
    return api_key, token


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, by) -> ApiKey:
    """Revoke a key at once; revoking a revoked key changes nothing."""
    locked = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.revoked_by = by
        locked.save(update_fields=["revoked_at", "revoked_by"])
    return locked
