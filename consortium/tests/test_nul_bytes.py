"""A NUL byte anywhere in the URL or the headers gets a 400 with a message, never a server error
(PostgreSQL text cannot hold one, so it used to fail deep inside a lookup)."""

from __future__ import annotations

import pytest

# The pages link static files; tests have no collectstatic manifest.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("plain_static")]


@pytest.mark.parametrize(
    ("path", "headers", "where"),
    [
        ("/api/v1/labs/", {"HTTP_AUTHORIZATION": "Token ab\x00cd"}, "Authorization header"),
        ("/api/v1/labs/?search=a%00b", {}, "query string"),
        ("/api/v1/consortia/c/reports/savings/", {"HTTP_AUTHORIZATION": "Api-Key ab\x00.x"}, "Authorization"),
        ("/api/v1/labs/a\x00b/", {}, "path"),
        ("/labs/?q=a%00b", {}, "query string"),
        ("/dashboard/", {"HTTP_COOKIE": "sessionid=ab\x00cd"}, "Cookie header"),
        ("/dashboard/", {"HTTP_COOKIE": 'sessionid="abcdefgh\\000x"'}, "Cookie header"),
        ("/api/v1/labs/", {"HTTP_COOKIE": 'sessionid="abcdefgh\\000x"'}, "Cookie header"),
        ("/accounts/login/?next=/a%00b", {}, "query string"),
    ],
)
def test_nul_bytes_get_400_with_a_message(world, client, path, headers, where):
    client.login(username="coordinator", password=world.password)
    response = client.get(path, **headers)
    assert response.status_code == 400
    if path.startswith("/api/"):
        error = response.json()["error"]
        assert (error["status"], error["code"]) == (400, "invalid")
        assert where in error["message"] and "NUL" in error["message"]
    else:
        assert "Bad request" in response.content.decode()
        assert where in response.content.decode()


def test_a_form_post_with_a_nul_byte_is_a_form_error(world, client):
    response = client.post("/accounts/login/", {"username": "coord\x00inator", "password": world.password})
    assert response.status_code == 200
    assert "Null characters are not allowed" in response.content.decode()


def test_ordinary_requests_pass(world, client):
    client.login(username="coordinator", password=world.password)
    assert client.get("/labs/?q=a%2500b").status_code == 200  # an encoded "%00" text is not a NUL


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/labs/", {"name": "Lab\x00X", "slug": "lab-x", "kind": "open_weight"}, "name"),
        ("/api/v1/scenarios/", {"consortium": "CONSORTIUM", "name": "S\x00", "labs": []}, "name"),
        ("/api/v1/scenarios/", {"consortium": "CONSORTIUM", "name": "S", "rules": ["shapley\x00"]}, "rules"),
        ("/api/v1/scenarios/", {"consortium": "CONSORTIUM", "name": "S", "parameters": {"\x00": 1}}, "parameters"),
    ],
)
def test_nul_bytes_in_json_bodies_are_field_errors(world, path, body, field):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=world.coordinator).key}")
    body = {key: (world.consortium.pk if value == "CONSORTIUM" else value) for key, value in body.items()}
    response = client.post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
