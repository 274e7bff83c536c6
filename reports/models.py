"""API keys: read-only credentials for scripts and dashboards, scoped to one consortium.

A key is shown once, as `<prefix>.<secret>`. Only the SHA-256 of the secret is stored: the secret
is 32 random bytes, so a fast hash is enough (there is nothing to brute-force), and the public
prefix finds the row with an indexed lookup before the hashes are compared in constant time.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

PREFIX_BYTES = 6
SECRET_BYTES = 32


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    consortium = models.ForeignKey("consortium.Consortium", on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="Who or what uses the key, e.g. 'finance dashboard'.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    hashed_secret = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) for {self.consortium_id}"

    @classmethod
    def new(cls, **fields) -> tuple[ApiKey, str]:
        """An unsaved key and the full token `<prefix>.<secret>` to show once."""
        prefix = secrets.token_hex(PREFIX_BYTES)
        secret = secrets.token_urlsafe(SECRET_BYTES)
        return cls(prefix=prefix, hashed_secret=hash_secret(secret), **fields), f"{prefix}.{secret}"

    def secret_matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.hashed_secret, hash_secret(secret))

    def state(self, now: datetime.datetime | None = None) -> str:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return self.State.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return self.State.EXPIRED
        return self.State.ACTIVE
