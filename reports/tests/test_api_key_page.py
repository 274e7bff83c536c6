"""The API keys page: a coordinator creates a key (shown once, never again), sees when each key was last
used, and revokes one, after which the reports API refuses it."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from reports.models import ApiKey

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("plain_static")]

TOKEN = re.compile(r'value="([0-9a-f]{12}\.[A-Za-z0-9_-]{43})"')


def page_url() -> str:
    return reverse("consortium:api_keys", args=["c"])


def create_key(client, name: str = "finance dashboard") -> tuple[ApiKey, str, str]:
    response = client.post(page_url(), {"name": name})
    assert response.status_code == 201
    html = response.content.decode()
    found = TOKEN.findall(html)
    assert len(found) == 1, "the new key appears once, in its copy field"
    return ApiKey.objects.get(name=name), found[0], html


def savings(token: str, world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {token}")
    return client.get(f"/api/v1/consortia/c/reports/savings/?scenario={world.scenario.pk}")


def test_a_new_key_is_shown_once_and_never_again(world, client, make_run):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    client.force_login(world.coordinator)
    api_key, token, html = create_key(client)
    prefix, secret = token.split(".", 1)
    assert api_key.prefix == prefix
    assert api_key.created_by == world.coordinator
    assert "shown this once and never again" in html
    assert 'data-copy="#new-key"' in html
    assert "js/copy.js" in html
    # Nothing but the hash of the secret is stored.
    assert secret not in str(ApiKey.objects.filter(pk=api_key.pk).values().get())
    assert savings(token, world).status_code == 200

    later = client.get(page_url())
    assert later.status_code == 200
    listed = later.content.decode()
    assert secret not in listed
    assert f"{prefix}…" in listed
    assert "finance dashboard" in listed
    # Neither the response that showed it nor the list may be cached by the browser.
    assert "no-store" in later["Cache-Control"]


def test_the_response_that_shows_the_key_is_not_stored_by_the_browser(world, client):
    client.force_login(world.coordinator)
    response = client.post(page_url(), {"name": "script"})
    assert "no-store" in response["Cache-Control"]


def test_a_key_without_a_name_or_with_a_long_one_is_refused_and_nothing_is_created(world, client):
    client.force_login(world.coordinator)
    for name, message in (("", "This field is required."), ("x" * 101, "at most 100 characters")):
        response = client.post(page_url(), {"name": name})
        assert response.status_code == 400
        assert message in " ".join(response.context["form"].errors["name"])
        assert not TOKEN.search(response.content.decode())
    assert not ApiKey.objects.exists()


def test_a_revoked_key_is_refused_by_the_reports_api(world, client, make_run):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    client.force_login(world.coordinator)
    api_key, token, _ = create_key(client)
    assert savings(token, world).status_code == 200

    response = client.post(reverse("consortium:api_key_revoke", args=["c", api_key.pk]), follow=True)
    assert response.status_code == 200
    assert f"Key “finance dashboard” ({api_key.prefix}…) is revoked" in response.content.decode()
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert api_key.revoked_by == world.coordinator
    refused = savings(token, world)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "This API key has been revoked."
    row = re.search(rf'<tr id="key-{api_key.pk}".*?</tr>', response.content.decode(), re.S).group(0)
    assert "Revoked" in row
    assert "api-keys/" not in row.split("Revoked", 1)[1], "a revoked key has no revoke button"


def test_revoking_twice_changes_nothing_and_says_so(world, client):
    client.force_login(world.coordinator)
    api_key, _, _ = create_key(client)
    url = reverse("consortium:api_key_revoke", args=["c", api_key.pk])
    client.post(url)
    api_key.refresh_from_db()
    first = api_key.revoked_at
    response = client.post(url, follow=True)
    assert "was already revoked" in response.content.decode()
    api_key.refresh_from_db()
    assert api_key.revoked_at == first


def test_a_coordinator_cannot_revoke_another_consortiums_key_through_their_own(world, client):
    other = ApiKey.new(consortium=world.other_consortium, name="theirs")[0]
    other.save()
    client.force_login(world.coordinator)
    assert client.post(reverse("consortium:api_key_revoke", args=["c", other.pk])).status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None
    assert "theirs" not in client.get(page_url()).content.decode()


def test_the_page_shows_when_a_key_was_last_used(world, client, make_run):
    make_run(world.scenario, [world.lab_a, world.lab_b])
    client.force_login(world.coordinator)
    api_key, token, _ = create_key(client)
    row = re.compile(rf'<tr id="key-{api_key.pk}".*?</tr>', re.S)
    assert "Never" in row.search(client.get(page_url()).content.decode()).group(0)

    before = timezone.now()
    assert savings(token, world).status_code == 200
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None and api_key.last_used_at >= before
    shown = row.search(client.get(page_url()).content.decode()).group(0)
    assert "Never" not in shown
    assert timezone.localtime(api_key.last_used_at).strftime("%H:%M") in shown

    # An hour later (beyond the one-a-minute resolution) the next request moves it on.
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=before - datetime.timedelta(hours=1))
    assert savings(token, world).status_code == 200
    api_key.refresh_from_db()
    assert api_key.last_used_at >= before


def test_creating_and_revoking_need_the_csrf_token(world):
    from django.test import Client

    api_key = ApiKey.new(consortium=world.consortium, name="dashboard")[0]
    api_key.save()
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.coordinator)
    assert client.post(page_url(), {"name": "forged"}).status_code == 403
    assert client.post(reverse("consortium:api_key_revoke", args=["c", api_key.pk])).status_code == 403
    api_key.refresh_from_db()
    assert api_key.revoked_at is None
    assert not ApiKey.objects.filter(name="forged").exists()
    page = client.get(page_url())
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    revoked = client.post(reverse("consortium:api_key_revoke", args=["c", api_key.pk]), {"csrfmiddlewaretoken": token})
    assert revoked.status_code == 302
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
