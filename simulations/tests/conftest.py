"""Fixtures for the run tests: a private Redis server, real Celery worker processes, run helpers.

The integration tests never touch the machine's shared Redis: each session starts its own
`redis-server` on a free port, which tests may stop and restart. Workers are real `celery worker`
processes that share the test's PostgreSQL database, so those tests use committed transactions.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import require_service

REPO = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")


def wait_for(condition: Callable[[], object], *, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll until `condition()` is truthy and return its value; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A throw-away redis-server (no persistence) that a test may stop and start again on the same port."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.ping, timeout=10, what=f"redis-server on port {self.port}")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        require_service("redis-server", "the redis-server binary is not installed")
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_db(transactional_db):
    """The test database, committed for real so worker processes see the rows (PostgreSQL only)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        require_service("PostgreSQL", "set DATABASE_URL=postgres://... to run the worker integration tests")
    return connection


@pytest.fixture
def broker(redis_server):
    """Point this process's Celery app at the private Redis for the test, then restore it."""
    from consortium.celery import app

    if not redis_server.ping():
        # A failed broker-outage test may have left the shared server stopped.
        redis_server.start()
    saved = (app.conf.broker_url, app.conf.broker_transport_options)
    app.close()
    app.amqp._producer_pool = None
    app.conf.broker_url = redis_server.url
    app.conf.broker_transport_options = {"visibility_timeout": 3600, "socket_connect_timeout": 2}
    try:
        # Restored even when set-up fails, so one broken test cannot point later tests at a dead broker.
        with socket.create_connection(("127.0.0.1", redis_server.port)) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(16)
        # A broker the watchdog has seen before: an empty one would make the first worker's first
        # pass send every run and chunk again (harmless duplicates that blur what a test measures).
        from simulations.dispatch import broker_came_back_empty

        broker_came_back_empty()
        yield redis_server
    finally:
        app.close()
        app.amqp._producer_pool = None
        app.conf.broker_url, app.conf.broker_transport_options = saved


class Worker:
    """A real `celery worker` process on the simulations queue."""

    def __init__(self, *, env: dict[str, str], concurrency: int, queues: str = "simulations,celery") -> None:
        self.name = f"test-{uuid.uuid4().hex[:8]}@%h"
        self.log = Path(tempfile.mkstemp(prefix="worker-", suffix=".log")[1])
        self.process = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "consortium",
                "worker",
                "-Q",
                queues,
                "-c",
                str(concurrency),
                "--pool",
                "prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                self.name,
                "--loglevel",
                "INFO",
            ],
            cwd=REPO,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"Worker exited with {self.process.returncode}:\n{self.output()[-4000:]}")
            return " ready." in self.output()

        wait_for(ready, timeout=timeout, interval=0.1, what="the Celery worker to be ready")

    def children(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            # Cold shutdown: the test is over, nothing running needs to finish.
            os.killpg(self.process.pid, signal.SIGQUIT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self.log.unlink(missing_ok=True)


@pytest.fixture
def start_worker(postgres_db, broker) -> Iterator[Callable[..., Worker]]:
    """`start_worker(concurrency=1, queues=..., **env)` starts a worker sharing this test's database and Redis."""
    settings_dict = postgres_db.settings_dict
    database_url = (
        f"postgres://{settings_dict['USER']}:{settings_dict.get('PASSWORD') or ''}@{settings_dict['HOST']}:"
        f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
    )
    workers: list[Worker] = []

    def start(concurrency: int = 1, queues: str = "simulations,celery", **extra: str) -> Worker:
        env = (
            os.environ
            | {
                "DATABASE_URL": database_url,
                "REDIS_URL": broker.url,
                "SIMULATION_DISPATCH_INTERVAL": "1",
                "PYTHONUNBUFFERED": "1",
            }
            | {key: str(value) for key, value in extra.items()}
        )
        worker = Worker(env=env, concurrency=concurrency, queues=queues)
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()
    # Rows written by the workers go with the test; their connections must not block the flush.
    postgres_db.close()


class FakeBroker:
    """Stands in for the broker in unit tests: records what would be published, or refuses like a dead Redis."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple]] = []
        self.down = False
        self.came_back_empty = False

    def publish(self, task, *args) -> bool:
        if self.down:
            return False
        self.sent.append((task.name.rsplit(".", 1)[-1], args))
        return True


@pytest.fixture
def fake_broker(monkeypatch) -> FakeBroker:
    from simulations import dispatch

    fake = FakeBroker()
    monkeypatch.setattr(dispatch, "_publish", fake.publish)
    monkeypatch.setattr(dispatch, "broker_came_back_empty", lambda: fake.came_back_empty)
    return fake


def execute_in_process(run) -> None:
    """Do what the workers do, in this process and in chunk order."""
    from simulations import services

    for index in services.run_claim(run_id=run.pk):
        if services.chunk_execute(run_id=run.pk, index=index):
            services.run_finalize(run_id=run.pk)
    run.refresh_from_db()
