"""/healthz reports database and broker reachability: 200 when both answer, 503 naming what is down.

The unreachable cases start a fresh interpreter whose settings point at a closed port, so the
real driver and transport fail the way they would in production.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_service

ROOT = Path(__file__).resolve().parents[2]

HEALTHZ_IN_FRESH_PROCESS = """
import json
import django
from django.test.utils import setup_test_environment
django.setup()
setup_test_environment()
from django.test import Client
response = Client().get("/healthz")
print(json.dumps({"status": response.status_code, "body": response.json()}))
"""


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthz_in_fresh_process(tmp_path: Path, **env: str) -> tuple[int, dict]:
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "consortium.settings",
        "SECRET_KEY": "health-test-secret-key",
        "SECURE_SSL_REDIRECT": "false",
        "DATA_DIR": str(tmp_path),
        "LOG_LEVEL": "CRITICAL",
    } | env
    result = subprocess.run(
        [sys.executable, "-c", HEALTHZ_IN_FRESH_PROCESS],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    return answer["status"], answer["body"]


@pytest.mark.django_db
def test_healthz_is_200_when_database_and_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_healthz_is_public_and_read_only(client):
    assert client.get("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_healthz_is_503_naming_the_broker_when_redis_is_unreachable(tmp_path):
    status, body = healthz_in_fresh_process(tmp_path, REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["message"] == "Unreachable: broker."
    assert body["broker"]["ok"] is False
    assert body["broker"]["detail"]
    assert body["database"]["ok"] is True


def test_healthz_is_503_naming_the_database_when_postgres_is_unreachable(tmp_path):
    status, body = healthz_in_fresh_process(
        tmp_path, DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed_port()}/consortium"
    )
    assert status == 503
    assert body["message"] == "Unreachable: database."
    assert body["database"] == {"ok": False, "detail": "OperationalError"}
    assert body["broker"]["ok"] is True


def test_healthz_is_503_when_the_filesystem_broker_folder_is_gone(tmp_path, settings, client):
    options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    if "data_folder_out" not in options:
        pytest.skip("the tests run against Redis, not the filesystem broker")
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options | {"data_folder_out": str(tmp_path / "missing")}
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == {"ok": False, "detail": "BrokerFolderNotWritable"}


@pytest.mark.services
def test_healthz_is_200_against_a_running_redis(tmp_path):
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    with socket.socket() as sock:
        sock.settimeout(1)
        host, port = redis_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
        if sock.connect_ex((host, int(port))) != 0:
            require_service("redis", f"nothing listens at {redis_url}")
    status, body = healthz_in_fresh_process(tmp_path, REDIS_URL=redis_url)
    assert status == 200, body
    assert body["broker"] == {"ok": True, "detail": "redis"}
