"""The OpenAPI schema is valid OpenAPI 3 and documents every response code of the ledger resources;
the interactive docs render from local files only (drf-spectacular's sidecar), with no network."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from openapi_spec_validator import validate

# The ledger resources' own routes (other apps may nest theirs under the same prefixes).
LEDGER_PATH = re.compile(
    r"^/api/v1/(labs|contributions|artifacts|reuses|consortia|memberships|scenarios)/"
    r"(\{id\}/((correct|change|end|archive|unarchive|duplicate)/)?|totals/)?$"
)
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def schema(world, client) -> dict:
    client.force_login(world.user_a)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def _ledger_operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        if LEDGER_PATH.match(path)
        for method, operation in item.items()
        if method in METHODS
    ]


def test_schema_validates_as_openapi_3(schema) -> None:
    """The whole schema (every team's endpoints) passes openapi-spec-validator."""
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_schema_needs_a_login(api_client, db) -> None:
    """Only the landing page and the health check are public."""
    assert api_client.get("/api/schema/").status_code == 401


def test_every_ledger_operation_documents_authentication_and_its_errors(schema) -> None:
    """Each operation lists 401; each one on a single object lists 404; each write lists 400 or 405."""
    operations = _ledger_operations(schema)
    assert len(operations) >= 40
    for path, method, operation in operations:
        codes = set(operation["responses"])
        where = f"{method.upper()} {path}"
        assert "401" in codes, where
        if "{id}" in path:
            assert "404" in codes, where
        if method != "get":
            assert codes & {"400", "405", "403"}, where
        for code, response in operation["responses"].items():
            if code.startswith(("4", "5")):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ApiError"), where


def test_all_response_codes_appear_in_the_schema(schema) -> None:
    """200, 201, 204, 400, 401, 403, 404 and 405 are all documented for the ledger resources."""
    codes = {code for _, _, operation in _ledger_operations(schema) for code in operation["responses"]}
    assert {"200", "201", "204", "400", "401", "403", "404", "405"} <= codes


@pytest.mark.parametrize(
    ("path", "method", "codes"),
    [
        ("/api/v1/contributions/{id}/", "put", {"401", "404", "405", "503"}),
        ("/api/v1/contributions/{id}/", "patch", {"401", "404", "405", "503"}),
        ("/api/v1/contributions/{id}/", "delete", {"401", "404", "405", "503"}),
        ("/api/v1/contributions/{id}/correct/", "post", {"201", "400", "401", "403", "404", "413", "415", "503"}),
        ("/api/v1/contributions/", "post", {"201", "400", "401", "403", "413", "415", "503"}),
        ("/api/v1/memberships/{id}/", "delete", {"401", "404", "405", "503"}),
        ("/api/v1/scenarios/{id}/", "delete", {"204", "401", "403", "404", "503"}),
        ("/api/v1/scenarios/", "post", {"201", "400", "401", "403", "413", "415", "503"}),
        ("/api/v1/scenarios/{id}/runs/", "post", {"202", "400", "401", "403", "404", "409", "413", "429", "503"}),
    ],
)
def test_ledger_immutability_and_corrections_are_documented(schema, path, method, codes) -> None:
    """The schema states exactly which answers the ledger's special operations give (404 for an
    unknown id is listed on 405 operations too: a malformed id never reaches the view; 413 on every
    operation with a body, 503 on all of them; 429 where a run starts)."""
    assert set(schema["paths"][path][method]["responses"]) == codes


def _local_references(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_docs_reference_only_local_static_files_and_all_are_served(page, world, client, settings, tmp_path) -> None:
    """With the production static pipeline (collectstatic, hashed names, WhiteNoise), the docs page
    links only /static/ files, the schema and its own start-up script, every one of them is served, and
    nothing points off-site."""
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    client.force_login(world.user_a)
    response = client.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html), "the page loads something from the network"
    assert "fonts.googleapis.com" not in html
    references = _local_references(html)
    assert any("drf_spectacular_sidecar" in url for url in references)
    for url in references:
        # Swagger UI's start-up script is its own page with ?script (no inline script for the CSP).
        assert url.startswith(("/static/", f"{page}?script")), url
        served = client.get(url)
        assert served.status_code == 200, url
        assert b"".join(served.streaming_content if served.streaming else [served.content])


def test_schema_states_every_parameter_with_default_and_range(schema) -> None:
    """Scenario parameters appear in the schema with their unit, default and allowed range."""
    from simulations.engine.params import PARAMETER_SPECS

    properties = schema["components"]["schemas"]["Scenario"]["properties"]["parameters"]["properties"]
    assert set(properties) == set(PARAMETER_SPECS)
    growth = properties["growth"]
    spec = PARAMETER_SPECS["growth"]
    assert (growth["minimum"], growth["maximum"], growth["default"]) == (spec.low, spec.high, spec.default)
    assert spec.unit in growth["description"]
