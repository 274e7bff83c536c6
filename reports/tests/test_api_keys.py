"""API keys: managed by coordinators, shown once, stored hashed; refused when revoked, expired,
malformed or of another consortium; never able to write."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from django.utils import timezone

from reports.models import ApiKey

pytestmark = pytest.mark.django_db


def keys_url(slug: str = "c") -> str:
    return f"/api/v1/consortia/{slug}/api-keys/"


def savings_url(slug: str = "c") -> str:
    return f"/api/v1/consortia/{slug}/reports/savings/"


def test_coordinator_creates_a_key_whose_secret_is_shown_once_and_stored_hashed(world, client_as):
    client = client_as("coordinator")
    response = client.post(keys_url(), {"name": "finance dashboard"})
    assert response.status_code == 201, response.content
    body = response.json()
    prefix, secret = body["key"].split(".", 1)
    assert body["prefix"] == prefix and body["state"] == "active" and body["created_by"] == "coordinator"
    stored = ApiKey.objects.get(pk=body["id"])
    assert stored.consortium == world.consortium
    assert stored.hashed_secret == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(stored.__dict__)
    listed = client.get(keys_url()).json()
    assert listed["count"] == 1
    assert "key" not in listed["results"][0]
    assert secret not in client.get(f"{keys_url()}{body['id']}/").content.decode()


@pytest.mark.parametrize(
    ("role", "list_status", "create_status"),
    [
        ("coordinator", 200, 201),
        ("staff", 200, 403),
        ("user_a", 403, 403),
        ("token", 403, 403),
        ("other_coordinator", 404, 404),
        ("user_d", 404, 404),
        ("anonymous", 401, 401),
    ],
)
def test_only_coordinators_manage_keys_and_staff_only_list_them(world, client_as, role, list_status, create_status):
    client = client_as(role)
    assert client.get(keys_url()).status_code == list_status
    response = client.post(keys_url(), {"name": "script"})
    assert response.status_code == create_status
    assert ("error" in response.json()) == (create_status != 201)


def test_key_expiry_must_be_in_the_future(world, client_as):
    past = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    response = client_as("coordinator").post(keys_url(), {"name": "old", "expires_at": past})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"expires_at": ["The expiry must be in the future."]}
    assert not ApiKey.objects.exists()


def test_key_name_is_required(world, client_as):
    response = client_as("coordinator").post(keys_url(), {"name": ""})
    assert response.status_code == 400
    assert "name" in response.json()["error"]["message"]


@pytest.mark.parametrize("how", ["delete", "post_revoke"])
def test_coordinator_revokes_a_key_and_it_stops_working_at_once(world, client_as, make_key, key_client, make_run, how):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    api_key, token = make_key(world.consortium)
    reader = key_client(token)
    assert reader.get(savings_url(), {"scenario": world.scenario.pk}).status_code == 200
    client = client_as("coordinator")
    if how == "delete":
        assert client.delete(f"{keys_url()}{api_key.pk}/").status_code == 204
    else:
        response = client.post(f"{keys_url()}{api_key.pk}/revoke/")
        assert response.status_code == 200
        assert response.json()["state"] == "revoked"
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None and api_key.revoked_by == world.coordinator
    response = reader.get(savings_url(), {"scenario": world.scenario.pk})
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "This API key has been revoked."


def test_revoking_twice_keeps_the_first_revocation_time(world, client_as, make_key):
    api_key, _ = make_key(world.consortium)
    client = client_as("coordinator")
    client.post(f"{keys_url()}{api_key.pk}/revoke/")
    first = ApiKey.objects.get(pk=api_key.pk).revoked_at
    assert client.post(f"{keys_url()}{api_key.pk}/revoke/").status_code == 200
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at == first


def test_coordinator_cannot_revoke_another_consortiums_key(world, client_as, make_key):
    api_key, _ = make_key(world.other_consortium)
    client = client_as("coordinator")
    assert client.delete(f"{keys_url()}{api_key.pk}/").status_code == 404
    assert client.post(f"{keys_url('c')}{api_key.pk}/revoke/").status_code == 404
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None


# Authentication with a key -------------------------------------------------------------------


def _header(token: str) -> str:
    return f"Api-Key {token}"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Api-Key", "Malformed Api-Key header: expected 'Api-Key <prefix>.<secret>'."),
        ("Api-Key a b", "Malformed Api-Key header: expected 'Api-Key <prefix>.<secret>'."),
        ("Api-Key no-dot-here", "Malformed API key: expected '<prefix>.<secret>' as shown when the key was created."),
        ("Api-Key .secret", "Malformed API key: expected '<prefix>.<secret>'."),
        ("Api-Key prefix.", "Malformed API key: expected '<prefix>.<secret>'."),
        ("Api-Key 0123456789ab.not-the-secret", "Invalid API key."),
    ],
)
def test_malformed_or_unknown_keys_are_refused_with_401(world, api_client, make_key, header, message):
    make_key(world.consortium)
    response = api_client.get(savings_url(), {"scenario": world.scenario.pk}, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["error"] == {"status": 401, "code": "authentication_failed", "message": message}
    assert response["WWW-Authenticate"] == 'Api-Key realm="api"'


def test_a_wrong_secret_for_a_real_prefix_is_refused(world, api_client, make_key):
    api_key, _ = make_key(world.consortium)
    forged = f"{api_key.prefix}.{'x' * 43}"
    response = api_client.get(savings_url(), {"scenario": world.scenario.pk}, HTTP_AUTHORIZATION=_header(forged))
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid API key."


def test_expired_key_is_refused(world, api_client, make_key, make_run):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    _, token = make_key(world.consortium, expires_at=timezone.now() - datetime.timedelta(seconds=1))
    response = api_client.get(savings_url(), {"scenario": world.scenario.pk}, HTTP_AUTHORIZATION=_header(token))
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "This API key has expired."


def test_key_before_its_expiry_works(world, api_client, make_key, make_run):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    _, token = make_key(world.consortium, expires_at=timezone.now() + datetime.timedelta(days=1))
    response = api_client.get(savings_url(), {"scenario": world.scenario.pk}, HTTP_AUTHORIZATION=_header(token))
    assert response.status_code == 200


def test_key_of_another_consortium_is_refused_with_403(world, key_client, make_key, make_run):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    _, token = make_key(world.other_consortium)
    response = key_client(token).get(savings_url("c"), {"scenario": world.scenario.pk})
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "This API key reads consortium 'd' only, not 'c'."


def test_key_cannot_read_another_consortiums_scenario_through_its_own_slug(world, key_client, make_key, make_run):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    _, token = make_key(world.other_consortium)
    response = key_client(token).get(savings_url("d"), {"scenario": world.scenario.pk})
    assert response.status_code == 404
    assert "no scenario" in response.json()["error"]["message"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("report", ["savings", "comparison", "contributions", "reuse"])
def test_key_cannot_write_to_reports(world, key_client, make_key, method, report):
    _, token = make_key(world.consortium)
    response = getattr(key_client(token), method)(f"/api/v1/consortia/c/reports/{report}/", {})
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "API keys are read-only."


@pytest.mark.parametrize("method", ["get", "post"])
def test_key_cannot_manage_keys(world, key_client, make_key, method):
    _, token = make_key(world.consortium)
    response = getattr(key_client(token), method)(keys_url(), {"name": "escalated"})
    assert response.status_code == 403
    assert response.json()["error"]["message"].startswith("API keys read reports only")
    assert ApiKey.objects.count() == 1


@pytest.mark.parametrize("url", ["/api/v1/labs/", "/api/v1/contributions/", "/api/v1/runs/1/"])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_keys_are_refused_on_endpoints_other_than_reports(world, key_client, make_key, url, method):
    _, token = make_key(world.consortium)
    response = getattr(key_client(token), method)(url, {})
    assert response.status_code == 403
    assert response.json()["error"]["message"].startswith("API keys read reports only")


def test_last_used_time_is_recorded_at_most_once_a_minute(world, key_client, make_key, make_run):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    api_key, token = make_key(world.consortium)
    assert api_key.last_used_at is None
    client = key_client(token)
    client.get(savings_url(), {"scenario": world.scenario.pk})
    first = ApiKey.objects.get(pk=api_key.pk).last_used_at
    assert first is not None
    client.get(savings_url(), {"scenario": world.scenario.pk})
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == first
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=first - datetime.timedelta(minutes=2))
    client.get(savings_url(), {"scenario": world.scenario.pk})
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at > first


@pytest.mark.parametrize(
    ("revoked", "expires_in", "state"),
    [
        (False, None, "active"),
        (False, datetime.timedelta(hours=1), "active"),
        (False, -datetime.timedelta(seconds=1), "expired"),
        (True, None, "revoked"),
        (True, -datetime.timedelta(days=1), "revoked"),
    ],
)
def test_key_state(revoked, expires_in, state):
    now = timezone.now()
    api_key, _ = ApiKey.new(name="k")
    api_key.revoked_at = now if revoked else None
    api_key.expires_at = now + expires_in if expires_in is not None else None
    assert api_key.state(now) == state


def test_keys_are_created_from_json_only(world, client_as):
    response = client_as("coordinator").post(keys_url(), {"name": "form"}, format="multipart")
    assert response.status_code == 415
    assert not ApiKey.objects.exists()
