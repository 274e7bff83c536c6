"""Bounded work per request: body size, JSON depth and list lengths are refused fast, before the
work they would cost, with the limit named in the API's error shape."""

from __future__ import annotations

import io
import json
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from consortium.api.parsers import BoundedJSONParser, PayloadTooLarge, json_depth
from consortium.models import Scenario
from tests import factories as f


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == status
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('"text"', 0),
        ("[]", 1),
        ("{}", 1),
        ('{"a": [1, {"b": 2}]}', 3),
        ("[[], [], []]", 2),
        ('["[[[", "{{{"]', 1),
        (r'["a \" [[[ \\", "]]"]', 1),
        ('{"a": "}}}}", "b": [[1]]}', 3),
        ("[" * 500 + "]" * 500, 500),
    ],
)
def test_json_depth_counts_nesting_and_ignores_brackets_inside_strings(text: str, depth: int) -> None:
    assert json_depth(text) == depth
    if depth < 100:
        assert json_depth(text) == _reference_depth(json.loads(text))


def _reference_depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_reference_depth(v) for v in value), default=0)
    return 0


def test_json_nested_100000_deep_is_a_400_naming_the_limit_not_a_recursion_error(client_as) -> None:
    body = "[" * 100_000 + "]" * 100_000
    started = time.perf_counter()
    response = client_as("coordinator").post("/api/v1/scenarios/", body, content_type="application/json")
    elapsed = time.perf_counter() - started
    error = _error(response, 400, "too_deep")
    assert "100000 levels deep" in error["message"]
    assert "API_JSON_MAX_DEPTH" in error["message"]
    assert elapsed < 1.0


def test_json_within_the_depth_limit_is_parsed(settings) -> None:
    settings.API_JSON_MAX_DEPTH = 4
    assert BoundedJSONParser().parse(io.BytesIO(b'{"a": [[{"b": 1}]]}')) == {"a": [[{"b": 1}]]}
    with pytest.raises(Exception, match="5 levels deep; at most 4"):
        BoundedJSONParser().parse(io.BytesIO(b'{"a": [[{"b": [1]}]]}'))


def test_the_parser_stops_reading_at_the_size_limit(settings) -> None:
    """A body without Content-Length (chunked) is still read only up to the limit."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    class Endless(io.RawIOBase):
        read_sizes: list[int] = []

        def read(self, size: int = -1) -> bytes:
            self.read_sizes.append(size)
            return b" " * size

    stream = Endless()
    with pytest.raises(PayloadTooLarge, match="larger than 1024 bytes"):
        BoundedJSONParser().parse(stream)
    assert stream.read_sizes == [1025]


def test_a_body_over_the_limit_is_a_413_in_the_api_shape_before_any_query(world, client_as, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    body = json.dumps({"name": "x" * 3000, "slug": "big"})
    client = client_as("token")
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/consortia/", body, content_type="application/json")
    error = _error(response, 413, "too_large")
    assert "larger than 2048 bytes" in error["message"]
    assert "REQUEST_BODY_MAX_BYTES" in error["message"]
    assert len(queries) == 0


def test_a_body_at_the_limit_is_accepted(world, client_as, settings) -> None:
    body = json.dumps({"name": "Fits", "slug": "fits", "charter": ""})
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body.encode())
    response = client_as("token").post("/api/v1/consortia/", body, content_type="application/json")
    assert response.status_code == 201, response.content


def test_a_form_body_over_the_limit_on_a_page_is_a_413_page(world, client, settings, plain_static) -> None:
    """Django refuses the form while reading it; the page says why, with the site's 400 page."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = client.post("/accounts/login/", {"username": "x" * 2000, "password": "y"})
    assert response.status_code == 413
    assert "text/html" in response["Content-Type"]
    assert "larger than 1024 bytes" in response.content.decode()


def test_too_many_form_fields_on_the_api_is_a_400_naming_the_limit(world, client_as, settings) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    body = "&".join(f"f{i}=1" for i in range(50))
    response = client_as("coordinator").post(
        f"/api/v1/scenarios/{world.scenario.pk}/runs/", body, content_type="application/x-www-form-urlencoded"
    )
    error = _error(response, 400, "too_many_fields")
    assert "more than 10 form fields" in error["message"]
    assert "REQUEST_MAX_FORM_FIELDS" in error["message"]


def _scenario_body(world, labs: list[int], **extra) -> str:
    return json.dumps({"consortium": world.consortium.pk, "name": "Big", "labs": labs, **extra})


def test_200000_labs_are_refused_within_a_second_naming_the_limit(world, client_as) -> None:
    """The issue's 0.6 MB request (one query per element, 61 s and a worker timeout) now answers at once."""
    # The body, `[1] * 200000` (0.6 MB): a fixed small id, so the body's size does not grow
    # with the database's id sequence (ids past 9,999 would take it over REQUEST_BODY_MAX_BYTES).
    body = _scenario_body(world, [1] * 200_000)
    client = client_as("coordinator")
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/scenarios/", body, content_type="application/json")
    elapsed = time.perf_counter() - started
    error = _error(response, 400, "invalid")
    assert error["fields"]["labs"] == ["A scenario has at most 100 labs (SCENARIO_MAX_LABS); 200000 were given."]
    assert elapsed < 1.0
    assert not any('"labs_lab"' in q["sql"] for q in queries.captured_queries)
    assert not Scenario.objects.filter(name="Big").exists()


def test_repeated_labs_count_once_and_are_looked_up_in_one_query(world, client_as) -> None:
    client = client_as("coordinator")
    few = _scenario_body(world, [world.lab_a.pk, world.lab_b.pk])
    with CaptureQueriesContext(connection) as baseline:
        assert client.post("/api/v1/scenarios/", few, content_type="application/json").status_code == 201
    many = _scenario_body(world, [world.lab_a.pk, world.lab_b.pk] * 50, name="Repeated")
    with CaptureQueriesContext(connection) as repeated:
        response = client.post("/api/v1/scenarios/", many, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["labs"] == [world.lab_a.pk, world.lab_b.pk]
    assert len(repeated) == len(baseline)
    lookups = [q for q in repeated.captured_queries if 'FROM "labs_lab" WHERE "labs_lab"."id" IN' in q["sql"]]
    assert len(lookups) == 1


def test_the_labs_limit_is_a_setting(world, client_as, settings) -> None:
    settings.SCENARIO_MAX_LABS = 2
    third = f.LabFactory(name="Lab E", slug="lab-e")
    body = _scenario_body(world, [world.lab_a.pk, world.lab_b.pk, third.pk])
    error = _error(
        client_as("coordinator").post("/api/v1/scenarios/", body, content_type="application/json"), 400, "invalid"
    )
    assert error["fields"]["labs"] == ["A scenario has at most 2 labs (SCENARIO_MAX_LABS); 3 were given."]


def test_an_unknown_lab_is_named_by_id(world, client_as) -> None:
    body = _scenario_body(world, [world.lab_a.pk, 999_999])
    error = _error(
        client_as("coordinator").post("/api/v1/scenarios/", body, content_type="application/json"), 400, "invalid"
    )
    assert error["fields"]["labs"] == ['Invalid pk "999999" - object does not exist.']


def test_more_weights_than_labs_allowed_are_refused_before_any_lookup(world, client_as, settings) -> None:
    settings.SCENARIO_MAX_LABS = 3
    weights = {str(i): 1 for i in range(1, 5)}
    body = _scenario_body(
        world, [world.lab_a.pk, world.lab_b.pk], rules=["weighted"], weight_basis="shares", weight_values=weights
    )
    error = _error(
        client_as("coordinator").post("/api/v1/scenarios/", body, content_type="application/json"), 400, "invalid"
    )
    assert "at most 3 weights" in error["fields"]["weight_values"][0]
    assert "SCENARIO_MAX_LABS" in error["fields"]["weight_values"][0]


def test_the_schema_bounds_the_labs_list(world, client) -> None:
    client.force_login(world.coordinator)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    labs = schema["components"]["schemas"]["ScenarioRequest"]["properties"]["labs"]
    assert labs["maxItems"] == 100
    assert labs["items"]["type"] == "integer"


@pytest.mark.parametrize(
    "text",
    ['"' + '\\"' * 300_000, '"' * 600_000, '"' + "\\" * 600_000, '["' + "a\\" * 300_000],
    ids=["escaped-quotes", "quotes", "backslashes", "unterminated"],
)
def test_measuring_the_depth_of_malformed_strings_takes_linear_time(text: str) -> None:
    """An unterminated string full of escapes once made the scan quadratic (minutes for 600 kB)."""
    started = time.perf_counter()
    json_depth(text)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("labs", "message"),
    [
        ("1,2", 'Expected a list of items but got type "str".'),
        ({"a": 1}, 'Expected a list of items but got type "dict".'),
        (["x"], "Item 0: A valid integer is required."),
        ([1, 2.5], "Item 1: A valid integer is required."),
        ([0], 'Invalid pk "0" - object does not exist.'),
        ([2**70], f'Invalid pk "{2**70}" - object does not exist.'),
    ],
)
def test_a_bad_labs_list_is_one_sentence_in_the_error_shape(world, client_as, labs, message) -> None:
    body = _scenario_body(world, labs)
    error = _error(
        client_as("coordinator").post("/api/v1/scenarios/", body, content_type="application/json"), 400, "invalid"
    )
    assert error["fields"]["labs"] == [message]


def test_the_scenario_service_enforces_the_labs_limit_for_the_pages_too(world, settings) -> None:
    """The scenario form and run starts go through scenario_labs_check, which names the limit."""
    from django.core.exceptions import ValidationError

    from consortium.services import scenario_labs_check

    settings.SCENARIO_MAX_LABS = 2
    third = f.LabFactory(name="Lab E", slug="lab-e")
    f.MembershipFactory(consortium=world.consortium, lab=third)
    with pytest.raises(ValidationError) as raised:
        scenario_labs_check(consortium=world.consortium, labs=[world.lab_a, world.lab_b, third])
    assert raised.value.message_dict == {"labs": ["A scenario has at most 2 labs (SCENARIO_MAX_LABS), not 3."]}
    assert scenario_labs_check(consortium=world.consortium, labs=[world.lab_a, third]) == [world.lab_a, third]


def test_a_body_over_the_default_limit_is_refused_fast(world, client_as) -> None:
    """With the documented default (1 MiB), a 1.5 MiB scenario post is a 413 without a query."""
    body = _scenario_body(world, [], description="x" * 1_572_864)
    client = client_as("token")
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/scenarios/", body, content_type="application/json")
    assert time.perf_counter() - started < 1.0
    error = _error(response, 413, "too_large")
    assert error["message"] == (
        "The request body is larger than 1048576 bytes (1 MiB), the most accepted (REQUEST_BODY_MAX_BYTES)."
    )
    assert len(queries) == 0
