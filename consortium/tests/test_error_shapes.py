"""Every error under /api/ is JSON in the documented shape; pages get the site's styled error pages,
including 503 with Retry-After while the database cannot be reached."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError, connection

from consortium.api import views as api_views


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) <= {"status", "code", "message", "fields"}
    assert body["error"]["status"] == status
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def _unreachable_database():
    """Inside the block every query fails as it does when PostgreSQL refuses connections."""
    refused = OperationalError('connection to server at "db" (10.0.0.5), port 5432 failed: Connection refused')
    return mock.patch.object(connection, "cursor", side_effect=refused)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ('{"name": ', "application/json", 400, "parse_error"),
        ("[1, 2,]", "application/json", 400, "parse_error"),
        ('{"name": NaN}', "application/json", 400, "parse_error"),
        (b'{"name": "\xff"}', "application/json", 400, "parse_error"),
        ("name=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("<xml/>", "text/xml", 415, "unsupported_media_type"),
    ],
)
def test_bad_bodies_are_errors_in_the_api_shape(client_as, body, content_type, status, code) -> None:
    response = client_as("coordinator").post("/api/v1/consortia/", body, content_type=content_type)
    _error(response, status, code)


def test_a_method_an_endpoint_does_not_take_is_a_405_in_the_api_shape(client_as) -> None:
    response = client_as("coordinator").delete("/api/v1/consortia/")
    _error(response, 405, "method_not_allowed")


@pytest.mark.parametrize("path", ["/api/v1/nothing-here/", "/api/nothing-here/", "/api/"])
def test_unknown_api_urls_are_a_404_in_the_api_shape(client_as, path) -> None:
    error = _error(client_as("coordinator").get(path), 404, "not_found")
    assert path in error["message"]


def test_an_unknown_page_keeps_the_styled_404_page(world, client, plain_static) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "text/html" in response["Content-Type"]
    assert 'class="site-header"' in response.content.decode()


def test_an_unhandled_exception_in_the_api_is_a_500_in_the_api_shape(world, client_as, monkeypatch) -> None:
    def broken(self, request, *args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(api_views.ConsortiumViewSet, "list", broken)
    client = client_as("coordinator")
    client.raise_request_exception = False
    error = _error(client.get("/api/v1/consortia/"), 500, "server_error")
    assert "a bug" not in error["message"]


def test_an_unhandled_exception_on_a_page_keeps_the_styled_500_page(world, client, monkeypatch, plain_static) -> None:
    from consortium import views

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "member_savings_get", broken)
    client.force_login(world.coordinator)
    client.raise_request_exception = False
    response = client.get("/dashboard/")
    assert response.status_code == 500
    assert "text/html" in response["Content-Type"]
    page = response.content.decode()
    assert "Something went wrong on our side" in page
    assert "a bug" not in page


@pytest.mark.parametrize("role", ["token", "coordinator"])
def test_a_database_outage_is_a_503_in_the_api_shape_with_retry_after(world, client_as, role) -> None:
    """With the database refusing connections, token and session requests alike get 503 JSON."""
    client = client_as(role)
    client.raise_request_exception = False
    with _unreachable_database():
        response = client.get("/api/v1/scenarios/")
    error = _error(response, 503, "service_unavailable")
    assert response["Retry-After"] == "30"
    assert "database cannot be reached" in error["message"]
    assert "10.0.0.5" not in error["message"]


def test_a_database_outage_during_a_write_is_a_503_in_the_api_shape(world, client_as, settings) -> None:
    settings.DATABASE_OUTAGE_RETRY_AFTER = 12
    client = client_as("token")
    client.raise_request_exception = False
    with _unreachable_database():
        response = client.post("/api/v1/consortia/", {"name": "New", "slug": "new"}, format="json")
    _error(response, 503, "service_unavailable")
    assert response["Retry-After"] == "12"


def test_a_database_outage_on_a_page_is_the_styled_503_page_with_retry_after(world, client, plain_static) -> None:
    client.force_login(world.coordinator)
    client.raise_request_exception = False
    with _unreachable_database():
        response = client.get("/dashboard/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    page = response.content.decode()
    assert "text/html" in response["Content-Type"]
    assert "The planner is briefly unavailable" in page
    assert "try again in 30 seconds" in page
    assert 'href="/static/css/app.css"' in page
    assert "10.0.0.5" not in page
