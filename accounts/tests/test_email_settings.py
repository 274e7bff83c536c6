"""Email settings come from the environment: the console backend by default, SMTP when configured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REPORT = """
import json
from consortium import settings as s
print(json.dumps({name: getattr(s, name) for name in (
    "EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS",
    "DEFAULT_FROM_EMAIL", "LAB_INVITATION_DAYS", "PASSWORD_RESET_TIMEOUT",
)}))
"""


def load(**env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("EMAIL_", "DEFAULT_FROM", "LAB_INV", "PASSWORD_"))
    }
    return subprocess.run(
        [sys.executable, "-c", REPORT],
        cwd=ROOT,
        env=clean | {"SECRET_KEY": "x" * 60, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_email_defaults_to_the_console_backend():
    result = json.loads(load().stdout)
    assert result["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert result["LAB_INVITATION_DAYS"] == 7
    assert result["PASSWORD_RESET_TIMEOUT"] == 3 * 24 * 3600


def test_smtp_settings_come_from_the_environment():
    expected = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "smtp.example.org",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "planner",
        "EMAIL_HOST_PASSWORD": "s3cret",
        "EMAIL_USE_TLS": True,
        "DEFAULT_FROM_EMAIL": "Planner <planner@example.org>",
        "LAB_INVITATION_DAYS": 14,
    }
    result = json.loads(
        load(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="smtp.example.org",
            EMAIL_PORT="587",
            EMAIL_HOST_USER="planner",
            EMAIL_HOST_PASSWORD="s3cret",
            EMAIL_USE_TLS="true",
            DEFAULT_FROM_EMAIL="Planner <planner@example.org>",
            LAB_INVITATION_DAYS="14",
        ).stdout
    )
    assert {name: result[name] for name in expected} == expected


@pytest.mark.parametrize(
    ("name", "value"), [("EMAIL_PORT", "smtp"), ("EMAIL_USE_TLS", "maybe"), ("LAB_INVITATION_DAYS", "0")]
)
def test_a_malformed_email_setting_stops_start_up(name, value):
    result = load(**{name: value})
    assert result.returncode != 0
    assert name in result.stderr
