"""OpenAPI post-processing: the error answers every operation can give, documented once.

A body over REQUEST_BODY_MAX_BYTES answers 413 and a database outage 503 on any endpoint, before
its view runs; listing them in each view's `extend_schema` would repeat them in every app.
"""

from __future__ import annotations

from typing import Any

from .common import ERROR_DESCRIPTIONS

METHODS = ("get", "post", "put", "patch", "delete")


def _error(code: int) -> dict[str, Any]:
    return {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}},
        "description": ERROR_DESCRIPTIONS[code],
    }


def document_server_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular hook: 413 on operations that take a body, 503 on all of them."""
    if "ApiError" not in result.get("components", {}).get("schemas", {}):
        return result
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                responses.setdefault("413", _error(413))
            responses.setdefault("503", _error(503))
    return result
