"""Schemathesis over every operation of the published OpenAPI schema, with all its checks.

The schema is generated exactly as /api/schema/ serves it. Requests go through the WSGI app as a
consortium coordinator with a token, inside the test's database transaction, with the path slug
fixed to that consortium so the generated requests reach real data rather than 404s. Examples per
operation are bounded (SCHEMATHESIS_MAX_EXAMPLES, default 25) so the run takes a few minutes.

Exclusions, each with its reason, are in CONFIG below; nothing else is relaxed.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.serializers.json import DjangoJSONEncoder
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))

# Cross-parameter and clock-relative rules OpenAPI 3.0 cannot state: requests the schema allows
# but the API rightly refuses with 400 and a message naming the field.
CROSS_FIELD_400 = {
    # start must not be after end, and a window keyword excludes start/end dates.
    "/api/v1/consortia/{slug}/reports/contributions/": "start <= end; window excludes start/end",
    "/api/v1/consortia/{slug}/reports/reuse/": "start <= end; window excludes start/end",
    # Exactly one of scenarios and runs (ids of either kind).
    "/api/v1/consortia/{slug}/reports/comparison/": "scenarios or runs, exactly one",
    # expires_at must lie in the future.
    "/api/v1/consortia/{slug}/api-keys/": "expires_at must be in the future",
}

# Ledger resources (labs, consortia app): rules that depend on the data, not on the request's shape.
# A body may name ids that do not exist or cannot be seen, repeat a unique name, or act on a spell
# or entry whose state forbids it (ended, already corrected), and lab weights must sum to 1: the
# API answers 400 naming the field. DRF also reads JSON numbers as decimal strings and scalars as
# text, which schemathesis counts as accepting schema-violating data.
LEDGER_WRITES = {
    ("POST", "/api/v1/labs/"),
    ("PUT", "/api/v1/labs/{id}/"),
    ("PATCH", "/api/v1/labs/{id}/"),
    ("POST", "/api/v1/contributions/"),
    ("POST", "/api/v1/contributions/{id}/correct/"),
    ("GET", "/api/v1/contributions/totals/"),
    ("POST", "/api/v1/artifacts/"),
    ("PUT", "/api/v1/artifacts/{id}/"),
    ("PATCH", "/api/v1/artifacts/{id}/"),
    ("POST", "/api/v1/reuses/"),
    ("PUT", "/api/v1/reuses/{id}/"),
    ("PATCH", "/api/v1/reuses/{id}/"),
    ("POST", "/api/v1/consortia/"),
    ("PUT", "/api/v1/consortia/{id}/"),
    ("PATCH", "/api/v1/consortia/{id}/"),
    ("POST", "/api/v1/memberships/"),
    ("POST", "/api/v1/memberships/{id}/change/"),
    ("POST", "/api/v1/memberships/{id}/end/"),
    # An application names a listed consortium and one of the user's labs, once while pending; an
    # answer needs a pending one. An invitation names a lab the user administers and an address not
    # yet invited; a token must be one the site signed, for the signed-in user's address.
    ("POST", "/api/v1/applications/"),
    ("POST", "/api/v1/applications/{id}/accept/"),
    ("POST", "/api/v1/applications/{id}/decline/"),
    ("POST", "/api/v1/lab-invitations/"),
    ("POST", "/api/v1/lab-invitations/{id}/revoke/"),
    ("POST", "/api/v1/lab-invitations/accept/"),
    ("POST", "/api/v1/scenarios/"),
    ("PUT", "/api/v1/scenarios/{id}/"),
    ("PATCH", "/api/v1/scenarios/{id}/"),
    # A custom game's table must name every coalition once with a cost that is a number.
    ("POST", "/api/v1/games/"),
    ("PUT", "/api/v1/games/{id}/"),
}
# Operations whose documented answer is 405 for everyone (ledger entries and membership spells
# are history; labs and consortia are deleted by staff in the admin).
LEDGER_405 = {
    ("PUT", "/api/v1/contributions/{id}/"),
    ("PATCH", "/api/v1/contributions/{id}/"),
    ("DELETE", "/api/v1/contributions/{id}/"),
    ("PUT", "/api/v1/memberships/{id}/"),
    ("PATCH", "/api/v1/memberships/{id}/"),
    ("DELETE", "/api/v1/memberships/{id}/"),
    ("DELETE", "/api/v1/labs/{id}/"),
    ("DELETE", "/api/v1/consortia/{id}/"),
}

CONFIG = schemathesis.Config.from_dict(
    {
        "parameters": {"path.slug": "c"},
        # No NUL characters: RejectNulBytesMiddleware answers any NUL in a URL or header with 400
        # (PostgreSQL text cannot hold one), which OpenAPI 3.0 cannot state short of a pattern on
        # every string. consortium/tests/test_nul_bytes.py tests NULs in URLs, headers and bodies.
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "allow-x00": False},
        "operations": [
            *(
                {
                    "include-path": path,
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]
                        }
                    },
                }
                for path in CROSS_FIELD_400
            ),
            *(
                {
                    "include-name": f"{method} {path}",
                    "checks": {
                        "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "403", "404"]},
                        "negative_data_rejection": {"enabled": method == "GET"},
                    },
                }
                for method, path in sorted(LEDGER_WRITES)
            ),
            *(
                {
                    "include-name": f"{method} {path}",
                    "checks": {"positive_data_acceptance": {"expected-statuses": ["401", "404", "405"]}},
                }
                for method, path in sorted(LEDGER_405)
            ),
        ],
    }
)


def published_schema() -> dict:
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(json.dumps(generated, cls=DjangoJSONEncoder))


schema = schemathesis.openapi.from_dict(published_schema(), config=CONFIG)
schema.app = WSGIHandler()


@pytest.fixture
def coordinator_token(world):
    from rest_framework.authtoken.models import Token

    return Token.objects.create(user=world.coordinator).key


@pytest.fixture
def connection_kept_across_requests():
    """Requests reach the WSGI app directly, not through Django's test client, so switch off what
    the client switches off: closing the connection (and the test's transaction) after a request."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def succeeded_run(world, make_run):
    """Stored results, so report operations reach a 200; made once per operation, not per example
    (an earlier example may delete the scenario)."""
    return make_run(world.scenario, [world.lab_a, world.lab_b])


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, connection_kept_across_requests, coordinator_token, succeeded_run):
    case.call_and_validate(headers={"Authorization": f"Token {coordinator_token}"})
