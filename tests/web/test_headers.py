"""Security headers: a strict CSP and a Permissions-Policy on every response, no caching of private ones."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.usefixtures("plain_static")


def _directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def _cache_control(response) -> set[str]:
    return {value.strip() for value in response.get("Cache-Control", "").split(",") if value.strip()}


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/healthz", "/api/v1/labs/", "/no/such/page/"])
def test_every_response_carries_the_policies_even_to_anonymous_visitors(db, client, path) -> None:
    response = client.get(path)
    directives = _directives(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]


def test_signed_in_pages_are_private_and_never_stored(world, client) -> None:
    client.force_login(world.user_a)
    for url in (reverse("dashboard"), world.lab_a.get_absolute_url(), world.consortium.get_absolute_url()):
        response = client.get(url)
        assert response.status_code == 200
        assert {"private", "no-store"} <= _cache_control(response), url


def test_api_answers_to_a_token_are_private_and_never_stored(world, client_as) -> None:
    response = client_as("token").get(f"/api/v1/labs/{world.lab_a.pk}/")
    assert response.status_code == 200
    assert {"private", "no-store"} <= _cache_control(response)


def test_public_pages_are_left_cacheable(db, client) -> None:
    assert "no-store" not in _cache_control(client.get("/"))


def test_only_the_redoc_page_widens_the_policy(world, client) -> None:
    client.force_login(world.user_a)
    redoc = _directives(client.get("/api/redoc/"))
    assert "'unsafe-inline'" in redoc["style-src"]
    assert redoc["script-src"] == ["'self'"]
    swagger = client.get("/api/docs/")
    assert "'unsafe-inline'" not in swagger["Content-Security-Policy"]
    assert "<script>" not in swagger.content.decode()
    assert "<style>" not in swagger.content.decode()
    assert client.get("/api/docs/?script=").status_code == 200


def test_templates_have_no_inline_scripts_styles_or_handlers() -> None:
    """What the policy would refuse in a browser, refused already in the source."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    pattern = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:|hx-on", re.I)
    comments = re.compile(r"{% comment %}.*?{% endcomment %}|{#.*?#}", re.S)
    offenders = [
        f"{path.relative_to(root)}: {match.group(0)}"
        for path in root.rglob("*.html")
        for match in pattern.finditer(comments.sub("", path.read_text()))
    ]
    assert offenders == []
