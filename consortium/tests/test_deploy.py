"""Deployment: `check --deploy` is clean with production variables, the compose file and Dockerfile
describe the stack the docs promise, every setting is documented, the embedded filesystem broker
carries work between separate processes, and the run command serves the demo with a worker."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import require_service

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k3Jx9Qm2vL8pR4tW7yZ1aB5cD6eF0gH3iJ8kL2mN9oP4qR7sT1uV5wX6yZ0aB3cD",
    "ALLOWED_HOSTS": "planner.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://planner.example.org",
    "DATABASE_URL": "postgres://consortium:secret@db.example.org:5432/consortium",
    "REDIS_URL": "redis://redis.example.org:6379/0",
}


def run_manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATA_DIR": str(tmp_path)} | env
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_variables(tmp_path):
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_debug_left_on(tmp_path):
    """The check above can fail: DEBUG on in production is reported."""
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION | {"DEBUG": "true"})
    assert result.returncode != 0
    assert "security.W018" in result.stderr + result.stdout


# collectstatic, then pages and their assets with DEBUG off: the manifest storage and WhiteNoise
# that production uses (the test suite itself serves static files without a manifest).
STATIC_IN_PRODUCTION = """
import json
import re

import django
from django.core.management import call_command
from django.test.utils import setup_test_environment

django.setup()
setup_test_environment()
call_command("collectstatic", "--noinput", verbosity=0)
from django.test import Client

client = Client()
pages = {path: client.get(path) for path in ("/", "/accounts/login/")}
assets = {ref for response in pages.values() for ref in re.findall(r"/static/[\\w./-]+", response.content.decode())}
print(json.dumps({
    "pages": {path: response.status_code for path, response in pages.items()},
    "assets": {asset: client.get(asset).status_code for asset in sorted(assets)},
}))
"""


def test_production_static_files_are_collected_hashed_and_served(tmp_path):
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "consortium.settings",
        "SECRET_KEY": PRODUCTION["SECRET_KEY"],
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "DATA_DIR": str(tmp_path),
        "LOG_LEVEL": "ERROR",
    }
    result = subprocess.run(
        [sys.executable, "-c", STATIC_IN_PRODUCTION],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["pages"] == {"/": 200, "/accounts/login/": 200}
    assert any(asset.endswith(".css") for asset in report["assets"])
    for asset, status in report["assets"].items():
        assert re.search(r"\.[0-9a-f]{12}\.\w+$", asset), f"{asset} is not a hashed file name"
        assert status == 200, asset


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_postgres_redis_web_and_worker_with_health_checks():
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "web", "worker"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
        assert service.get("restart") == "unless-stopped", name
    assert "gunicorn" in services["web"]["command"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "worker" in services["worker"]["command"]
    for app in ("web", "worker"):
        assert services[app]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }


def test_compose_keeps_data_in_named_volumes():
    document = compose()
    assert set(document["volumes"]) >= {"pgdata", "redisdata"}
    assert "pgdata:/var/lib/postgresql/data" in document["services"]["postgres"]["volumes"]
    assert "redisdata:/data" in document["services"]["redis"]["volumes"]


def test_compose_has_no_default_for_secrets():
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in ("SECRET_KEY", "POSTGRES_PASSWORD"):
        references = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert references, secret
        assert all(reference.startswith(":?") for reference in references), f"{secret} must be required"
    environment = compose()["services"]["web"]["environment"]
    assert environment["DEBUG"] == "false"


def test_env_example_names_every_variable_compose_interpolates():
    used = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", example, flags=re.MULTILINE))
    assert used <= documented, f"missing from .env.example: {sorted(used - documented)}"


def test_dockerfile_serves_with_gunicorn_as_an_unprivileged_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER (?!root)\w+", dockerfile, flags=re.MULTILINE)
    assert "gunicorn" in dockerfile.splitlines()[-1]
    assert "collectstatic" in dockerfile


HEALTH_PROBE = """
import json
import os
from urllib.parse import urlsplit

import django

django.setup()
from django.test import Client

url = urlsplit(os.environ["PROBE_URL"])
client = Client()
probe = client.get(url.path, HTTP_HOST=url.netloc)
page = client.get("/", HTTP_HOST=url.netloc)
print(json.dumps({"probe": probe.status_code, "page": page.status_code, "location": page.get("Location", "")}))
"""


def test_compose_web_health_check_passes_with_production_settings(tmp_path):
    """The probe reaches gunicorn as http://127.0.0.1: neither the HTTPS redirect nor ALLOWED_HOSTS may stop it."""
    web = compose()["services"]["web"]
    probe_url = re.search(r"'(http://[^']+)'", " ".join(web["healthcheck"]["test"])).group(1)
    allowed_hosts = web["environment"]["ALLOWED_HOSTS"].replace("${ALLOWED_HOSTS:-localhost}", "planner.example.org")
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "consortium.settings",
        "SECRET_KEY": PRODUCTION["SECRET_KEY"],
        "DEBUG": "false",
        "ALLOWED_HOSTS": allowed_hosts,
        "DATA_DIR": str(tmp_path),
        "LOG_LEVEL": "CRITICAL",
        "PROBE_URL": probe_url,
    }
    result = subprocess.run(
        [sys.executable, "-c", HEALTH_PROBE], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["probe"] == 200
    assert report["page"] == 301, "every other page still redirects to HTTPS"
    assert report["location"].startswith("https://")


@pytest.mark.services
def test_docker_compose_accepts_the_compose_file(tmp_path):
    if shutil.which("docker-compose") is None:
        require_service("docker-compose", "the docker-compose binary is not installed")
    result = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "SECRET_KEY": "x", "POSTGRES_PASSWORD": "x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_readme_documents_every_environment_variable_the_settings_read():
    settings_source = (ROOT / "consortium" / "settings.py").read_text()
    variables = set(re.findall(r"env_\w+\(\s*\"([A-Z_]+)\"", settings_source))
    variables |= set(re.findall(r"os\.environ\.get\(\s*\"([A-Z_]+)\"", settings_source))
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= variables
    readme = (ROOT / "README.md").read_text()
    undocumented = sorted(name for name in variables if f"`{name}`" not in readme)
    assert not undocumented, f"README's configuration table misses {undocumented}"


# A Celery app configured from the project's settings, with one probe task that leaves a file.
PROBE_APP = textwrap.dedent(
    """
    import os
    from pathlib import Path

    from celery import Celery

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "consortium.settings")
    app = Celery("probe")
    app.config_from_object("django.conf:settings", namespace="CELERY")


    @app.task(name="probe.touch")
    def touch(path, text):
        Path(path).write_text(text + " from pid " + str(os.getpid()))
    """
)


@pytest.mark.services
def test_filesystem_broker_carries_a_task_from_one_process_to_a_worker_process(tmp_path):
    """The embedded default (no Redis): `make run`'s web process and worker share var/broker."""
    (tmp_path / "probe_app.py").write_text(PROBE_APP)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)]),
        "DEBUG": "true",
        "DATA_DIR": str(tmp_path / "data"),
    }
    done = tmp_path / "done.txt"
    worker = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "probe_app", "worker"),
            *("--pool=solo", "--queues=celery", "--without-mingle", "--without-gossip", "--loglevel=INFO"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        sender = subprocess.run(
            [sys.executable, "-c", f"from probe_app import touch; touch.delay({str(done)!r}, 'hello')"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sender.returncode == 0, sender.stderr
        assert list((tmp_path / "data" / "broker" / "out").iterdir()) or done.exists()
        deadline = time.monotonic() + 60
        while not done.exists() and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.2)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert done.exists(), f"the worker never ran the task:\n{output}"
    assert done.read_text() == f"hello from pid {worker.pid}"
    assert not list((tmp_path / "data" / "broker" / "out").iterdir()), "the message stayed in the queue"
    assert not list((tmp_path / "data" / "broker" / "processed").iterdir()), "store_processed is off"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.services
def test_the_run_command_serves_the_demo_and_its_worker_completes_the_demo_runs(tmp_path):
    """`make run` minus the install: embedded defaults, demo loaded, a worker computing the queued runs."""
    port = free_port()
    log = tmp_path / "run.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "VENV": str(Path(sys.executable).parent.parent),
        "DATA_DIR": str(tmp_path / "data"),
        "PORT": str(port),
        "WORKER_CONCURRENCY": "2",
    }
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(ROOT / "scripts" / "run")],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while "Serving http://" not in log.read_text() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.5)
        text = log.read_text()
        assert f"Serving http://127.0.0.1:{port}" in text, text[-3000:]
        assert "open-commons-demo" in text
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        assert get(f"http://127.0.0.1:{port}/")[0] == 200
        token = re.search(r"api-client .* token (\w+)", text).group(1)
        status, body = get(f"http://127.0.0.1:{port}/api/v1/labs/", Authorization=f"Token {token}")
        assert status == 200 and b"Alderbrook Models" in body

        # The demo queued one run per scenario before the worker started; the first to finish
        # proves the filesystem broker carried it from one process to the worker.
        database = sqlite3.connect(tmp_path / "data" / "db.sqlite3", timeout=30)
        statuses: list[str] = []
        while time.monotonic() < deadline + 300:
            statuses = [row[0] for row in database.execute("SELECT status FROM simulations_simulationrun")]
            if "succeeded" in statuses or "failed" in statuses:
                break
            time.sleep(1)
        database.close()
        assert len(statuses) == 3
        assert "succeeded" in statuses and "failed" not in statuses, log.read_text()[-5000:]
    finally:
        # A warm shutdown lets the worker finish the chunks in hand, which can take a while on a
        # loaded machine; the test is about serving, so it stops waiting after two minutes.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
