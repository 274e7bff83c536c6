"""Settings come from the environment, have embedded defaults, and stop start-up on a bad value.

Each case imports consortium.settings in a fresh interpreter with a controlled environment, the
way a web or worker process starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "x" * 60

REPORT = """
import json
from consortium import settings as s
print(json.dumps({
    "DEBUG": s.DEBUG,
    "SECRET_KEY": s.SECRET_KEY,
    "ALLOWED_HOSTS": s.ALLOWED_HOSTS,
    "ENGINE": s.DATABASES["default"]["ENGINE"],
    "NAME": str(s.DATABASES["default"]["NAME"]),
    "HOST": s.DATABASES["default"].get("HOST", ""),
    "CONN_MAX_AGE": s.DATABASES["default"]["CONN_MAX_AGE"],
    "CONN_HEALTH_CHECKS": s.DATABASES["default"]["CONN_HEALTH_CHECKS"],
    "BROKER": s.CELERY_BROKER_URL,
    "BROKER_OPTIONS": s.CELERY_BROKER_TRANSPORT_OPTIONS,
    "SESSION_COOKIE_SECURE": s.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": s.CSRF_COOKIE_SECURE,
    "SECURE_SSL_REDIRECT": s.SECURE_SSL_REDIRECT,
    "SECURE_HSTS_SECONDS": s.SECURE_HSTS_SECONDS,
    "SECURE_PROXY_SSL_HEADER": s.SECURE_PROXY_SSL_HEADER,
    "SIMULATION_CHUNK_DRAWS": s.SIMULATION_CHUNK_DRAWS,
    "LOG_LEVEL": s.LOG_LEVEL,
    "CACHES": {name: [c["BACKEND"].rsplit(".", 1)[1], c.get("LOCATION")] for name, c in s.CACHES.items()},
    "PREPARE_THRESHOLD": s.DATABASES["default"].get("OPTIONS", {}).get("prepare_threshold"),
}))
"""


def load_settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Import the settings with only PATH, DATA_DIR and `env` set."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATA_DIR": str(tmp_path / "data")} | env
    return subprocess.run(
        [sys.executable, "-c", REPORT], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def settings_from(tmp_path: Path, **env: str) -> dict:
    result = load_settings(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG must be a boolean"),
        ({"DEBUG": "false"}, "SECRET_KEY must be set when DEBUG is off"),
        ({"DEBUG": "false", "SECRET_KEY": "change-me-to-a-long-random-string"}, "SECRET_KEY is still the .env"),
        ({"DEBUG": "true", "DATABASE_URL": "not a url"}, "DATABASE_URL is not a valid database URL"),
        ({"DEBUG": "true", "DATABASE_URL": "nosuchdb://host/name"}, "DATABASE_URL is not a valid database URL"),
        ({"DEBUG": "true", "DATABASE_URL": "postgres://"}, "DATABASE_URL names no database"),
        ({"DEBUG": "true", "REDIS_URL": "http://127.0.0.1:6379/0"}, "REDIS_URL must look like redis://"),
        ({"DEBUG": "true", "REDIS_URL": "redis://"}, "REDIS_URL must look like redis://"),
        ({"DEBUG": "true", "REDIS_URL": "redis://redis:port/0"}, "REDIS_URL must look like redis://"),
        ({"DEBUG": "true", "SECURE_HSTS_SECONDS": "-1"}, "SECURE_HSTS_SECONDS must be at least 0, got -1"),
        ({"DEBUG": "true", "SIMULATION_CHUNK_DRAWS": "0"}, "SIMULATION_CHUNK_DRAWS must be at least 1"),
        ({"DEBUG": "true", "SIMULATION_TIME_LIMIT": "ten"}, "SIMULATION_TIME_LIMIT must be an integer"),
        (
            {"DEBUG": "true", "SIMULATION_SOFT_TIME_LIMIT": "700", "SIMULATION_TIME_LIMIT": "600"},
            "SIMULATION_TIME_LIMIT must be greater than SIMULATION_SOFT_TIME_LIMIT",
        ),
        ({"DEBUG": "true", "SESSION_COOKIE_SECURE": "sometimes"}, "SESSION_COOKIE_SECURE must be a boolean"),
        ({"DEBUG": "true", "LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be"),
    ],
)
def test_bad_value_stops_start_up_with_a_message_naming_the_variable(tmp_path, env, message):
    result = load_settings(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_defaults_are_sqlite_and_the_filesystem_broker_under_data_dir(tmp_path):
    values = settings_from(tmp_path, DEBUG="true")
    data = tmp_path / "data"
    assert values["ENGINE"] == "django.db.backends.sqlite3"
    assert values["NAME"] == str(data / "db.sqlite3")
    assert values["BROKER"] == "filesystem://localhost/"
    options = values["BROKER_OPTIONS"]
    assert options["data_folder_in"] == options["data_folder_out"] == str(data / "broker" / "out")
    assert options["control_folder"] == str(data / "broker" / "control")
    assert options["processed_folder"] == str(data / "broker" / "processed")
    assert options["store_processed"] is False
    for folder in ("out", "control", "processed"):
        assert (data / "broker" / folder).is_dir()
    assert values["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "[::1]"]
    assert values["SIMULATION_CHUNK_DRAWS"] == 500
    # Rate-limit counters and report bodies in this process's memory; SQLite prepares nothing.
    assert values["CACHES"] == {"default": ["LocMemCache", "default"], "local": ["LocMemCache", "local"]}
    assert values["PREPARE_THRESHOLD"] is None


def test_debug_without_secret_key_uses_a_development_key_that_production_never_gets(tmp_path):
    development = settings_from(tmp_path, DEBUG="true")
    production = settings_from(tmp_path, DEBUG="false", SECRET_KEY=SECRET)
    assert development["SECRET_KEY"].startswith("insecure-development-key")
    assert production["SECRET_KEY"] == SECRET


def test_debug_off_is_secure_by_default(tmp_path):
    values = settings_from(tmp_path, SECRET_KEY=SECRET)
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31536000


def test_environment_overrides_every_default(tmp_path):
    values = settings_from(
        tmp_path,
        SECRET_KEY=SECRET,
        DEBUG="off",
        ALLOWED_HOSTS=" planner.example.org , api.example.org ",
        DATABASE_URL="postgres://consortium:pw@db.example.org:5432/consortium",
        REDIS_URL="redis://redis.example.org:6379/1",
        SECURE_SSL_REDIRECT="no",
        SECURE_HSTS_SECONDS="60",
        SIMULATION_CHUNK_DRAWS="250",
        LOG_LEVEL="warning",
    )
    assert values["ALLOWED_HOSTS"] == ["planner.example.org", "api.example.org"]
    assert (values["ENGINE"], values["NAME"], values["HOST"]) == (
        "django.db.backends.postgresql",
        "consortium",
        "db.example.org",
    )
    assert (values["CONN_MAX_AGE"], values["CONN_HEALTH_CHECKS"]) == (60, True)
    assert values["BROKER"] == "redis://redis.example.org:6379/1"
    # Rate-limit counters shared by every web process through Redis; report bodies kept per process.
    assert values["CACHES"] == {
        "default": ["RedisCache", "redis://redis.example.org:6379/1"],
        "local": ["LocMemCache", "local"],
    }
    assert values["PREPARE_THRESHOLD"] == 5
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 60
    assert values["SIMULATION_CHUNK_DRAWS"] == 250
    assert values["LOG_LEVEL"] == "WARNING"


def test_empty_variables_count_as_unset(tmp_path):
    """docker-compose passes `${NAME:-}` through as an empty string."""
    values = settings_from(tmp_path, DEBUG="true", DATABASE_URL="", REDIS_URL="", ALLOWED_HOSTS="")
    assert values["ENGINE"] == "django.db.backends.sqlite3"
    assert values["BROKER"] == "filesystem://localhost/"
    assert values["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "[::1]"]


@pytest.mark.parametrize(
    ("env", "header"),
    [
        ({}, None),
        ({"TRUST_X_FORWARDED_PROTO": "false"}, None),
        ({"TRUST_X_FORWARDED_PROTO": "true"}, ["HTTP_X_FORWARDED_PROTO", "https"]),
    ],
)
def test_x_forwarded_proto_is_trusted_only_when_asked(tmp_path, env, header):
    """With gunicorn published directly, a client could otherwise claim HTTPS with one header."""
    assert settings_from(tmp_path, SECRET_KEY=SECRET, **env)["SECURE_PROXY_SSL_HEADER"] == header


def test_bad_trust_x_forwarded_proto_stops_start_up(tmp_path):
    result = load_settings(tmp_path, DEBUG="true", TRUST_X_FORWARDED_PROTO="perhaps")
    assert result.returncode != 0
    assert "TRUST_X_FORWARDED_PROTO must be a boolean" in result.stderr


def test_prepared_statements_can_be_turned_off_for_connection_poolers(tmp_path):
    values = settings_from(
        tmp_path,
        DEBUG="true",
        DATABASE_URL="postgres://consortium:pw@pgbouncer:6432/consortium",
        DATABASE_PREPARED_STATEMENTS="false",
    )
    assert values["PREPARE_THRESHOLD"] is None
