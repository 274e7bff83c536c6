"""Too many requests get 429 with Retry-After, per API key, per user and per anonymous address."""

from __future__ import annotations

import socket

import pytest
from rest_framework.settings import api_settings

pytestmark = pytest.mark.django_db

SAVINGS = "/api/v1/consortia/c/reports/savings/"


@pytest.fixture
def rates(settings):
    def set_rates(**rates):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
        assert rates == api_settings.DEFAULT_THROTTLE_RATES

    return set_rates


def test_a_key_over_its_rate_gets_429_with_retry_after(world, key_client, make_key, make_run, rates):
    rates(api_key="2/min", user="100/min", anon="100/min")
    make_run(world.scenario, [world.lab_a, world.lab_b])
    _, token = make_key(world.consortium)
    _, other_token = make_key(world.consortium, name="other")
    client = key_client(token)
    assert [client.get(SAVINGS, {"scenario": world.scenario.pk}).status_code for _ in range(2)] == [200, 200]
    refused = client.get(SAVINGS, {"scenario": world.scenario.pk})
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    error = refused.json()["error"]
    assert error["status"] == 429 and error["code"] == "throttled"
    assert error["message"].startswith("Request was throttled.")
    # Each key has its own allowance.
    assert key_client(other_token).get(SAVINGS, {"scenario": world.scenario.pk}).status_code == 200


def test_users_are_throttled_per_user(world, client_as, rates):
    rates(api_key="100/min", user="1/min", anon="100/min")
    assert client_as("coordinator").get("/api/v1/consortia/c/reports/reuse/").status_code == 200
    assert client_as("coordinator").get("/api/v1/consortia/c/reports/reuse/").status_code == 429
    assert client_as("user_a").get("/api/v1/consortia/c/reports/reuse/").status_code == 200


def test_anonymous_clients_are_throttled_by_address(rates):
    """Every API endpoint needs credentials, so anonymous requests normally stop at 401 before any
    throttle; the anonymous allowance still counts per client address."""
    from django.contrib.auth.models import AnonymousUser
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from reports.throttling import AnonRateThrottle

    rates(api_key="100/min", user="100/min", anon="1/min")

    def request(address: str) -> Request:
        wrapped = Request(APIRequestFactory().get("/", REMOTE_ADDR=address))
        wrapped.user = AnonymousUser()
        return wrapped

    assert AnonRateThrottle().allow_request(request("10.0.0.1"), None)
    throttle = AnonRateThrottle()
    assert not throttle.allow_request(request("10.0.0.1"), None)
    assert 0 < throttle.wait() <= 60
    assert AnonRateThrottle().allow_request(request("10.0.0.2"), None)


@pytest.mark.parametrize(
    ("num_proxies", "first", "second", "second_allowed"),
    [
        (0, "198.51.100.1, 203.0.113.7", "198.51.100.2, 203.0.113.8", False),  # the connecting address
        (1, "198.51.100.1, 203.0.113.7", "198.51.100.2, 203.0.113.7", False),  # what the client wrote is ignored
        (1, "203.0.113.7", "203.0.113.8", True),  # two clients behind the proxy
    ],
)
def test_x_forwarded_for_names_the_anonymous_client_only_behind_proxies(
    settings, rates, num_proxies, first, second, second_allowed
):
    """A client cannot dodge its limit by varying X-Forwarded-For; behind NUM_PROXIES proxies the
    address the nearest proxy appended is the client."""
    from django.contrib.auth.models import AnonymousUser
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from reports.throttling import AnonRateThrottle

    rates(api_key="100/min", user="100/min", anon="1/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": num_proxies}

    def request(forwarded_for: str) -> Request:
        wrapped = Request(APIRequestFactory().get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR=forwarded_for))
        wrapped.user = AnonymousUser()
        return wrapped

    assert AnonRateThrottle().allow_request(request(first), None)
    assert AnonRateThrottle().allow_request(request(second), None) is second_allowed


def test_the_allowance_comes_back_in_the_next_window(world, key_client, make_key, make_run, rates, monkeypatch):
    import reports.throttling

    rates(api_key="1/min", user="100/min", anon="100/min")
    make_run(world.scenario, [world.lab_a, world.lab_b])
    _, token = make_key(world.consortium)
    client = key_client(token)
    clock = {"now": 1_800_000_030.0}  # 30 s into a minute
    monkeypatch.setattr(reports.throttling.time, "time", lambda: clock["now"])
    assert client.get(SAVINGS, {"scenario": world.scenario.pk}).status_code == 200
    refused = client.get(SAVINGS, {"scenario": world.scenario.pk})
    assert refused.status_code == 429 and refused["Retry-After"] == "30"
    clock["now"] += 30
    assert client.get(SAVINGS, {"scenario": world.scenario.pk}).status_code == 200


@pytest.mark.parametrize(
    ("rate", "parsed"), [("600/min", (600, 60)), ("5/s", (5, 1)), ("10/hour", (10, 3600)), ("1/day", (1, 86400))]
)
def test_rates(rate, parsed):
    from reports.throttling import parse_rate

    assert parse_rate(rate) == parsed


def redis_cache_settings(url: str, prefix: str) -> dict:
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": prefix,
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }


@pytest.fixture
def redis_counters(settings, monkeypatch):
    """The default cache in a real Redis (TEST_REDIS_URL), as with REDIS_URL in production."""
    import os
    import uuid

    import redis

    import reports.throttling
    from conftest import require_service

    monkeypatch.setattr(reports.throttling, "_shared_down_until", 0.0)

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        require_service("redis", f"{url}: {exc}")
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {**settings.CACHES, "default": redis_cache_settings(url, prefix)}
    yield client, prefix
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_with_redis_every_web_process_counts_against_one_limit(
    world, key_client, make_key, make_run, rates, redis_counters
):
    redis, prefix = redis_counters
    rates(api_key="3/min", user="100/min", anon="100/min")
    make_run(world.scenario, [world.lab_a, world.lab_b])
    api_key, token = make_key(world.consortium)
    client = key_client(token)
    assert [client.get(SAVINGS, {"scenario": world.scenario.pk}).status_code for _ in range(2)] == [200, 200]
    [counter] = list(redis.scan_iter(f"{prefix}:*throttle:api_key:{api_key.pk}:*"))
    assert int(redis.get(counter)) == 2
    assert 0 < redis.ttl(counter) <= 61
    # Another web process spends the last request of the allowance: this one refuses the next.
    redis.incr(counter)
    refused = client.get(SAVINGS, {"scenario": world.scenario.pk})
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60


def test_an_unreachable_counter_cache_falls_back_to_counting_per_process(
    world, key_client, make_key, make_run, rates, settings, caplog, monkeypatch
):
    import reports.throttling

    monkeypatch.setattr(reports.throttling, "_shared_down_until", 0.0)
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now
    settings.CACHES = {**settings.CACHES, "default": redis_cache_settings(f"redis://127.0.0.1:{port}/0", "down")}
    rates(api_key="2/min", user="100/min", anon="100/min")
    make_run(world.scenario, [world.lab_a, world.lab_b])
    _, token = make_key(world.consortium)
    client = key_client(token)
    with caplog.at_level("WARNING", logger="reports.throttling"):
        statuses = [client.get(SAVINGS, {"scenario": world.scenario.pk}).status_code for _ in range(3)]
    # Answered, and still limited (in this process's memory); one warning, not one per request.
    assert statuses == [200, 200, 429]
    assert caplog.text.count("throttle cache is unreachable") == 1
    # After the pause the shared cache is tried again.
    monkeypatch.setattr(reports.throttling, "_shared_down_until", 0.0)
    with caplog.at_level("WARNING", logger="reports.throttling"):
        client.get(SAVINGS, {"scenario": world.scenario.pk})
    assert caplog.text.count("throttle cache is unreachable") == 2
