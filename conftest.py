"""Test-wide set-up: settings for tests, and the rule that CI never skips a service test."""

from __future__ import annotations

import os

# Tests run with production-like settings (DEBUG off), minus the HTTPS redirect the test client
# cannot follow. These must be set before pytest-django imports the settings module.
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("DATA_DIR", os.path.join(os.path.dirname(__file__), "var", "test"))

import pytest


def require_service(name: str, reason: str) -> None:
    """Skip a test whose service is missing on a laptop; fail it when CI is set."""
    if os.environ.get("CI"):
        pytest.fail(f"{name} is required in CI but unavailable: {reason}")
    pytest.skip(f"{name} unavailable: {reason}")
