"""One error format for the whole API.

Every error response has the shape
    {"error": {"status": 400, "code": "invalid", "message": "rd_share: ...", "fields": {"rd_share": ["..."]}}}
`fields` is present for validation errors only; `message` is always a readable sentence that names
the offending field when there is one.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [message for value in detail.values() for message in _flatten(value)]
    if isinstance(detail, list):
        return [message for value in detail for message in _flatten(value)]
    return [str(detail)]


def _summary(fields: dict[str, Any]) -> str:
    parts = []
    for name, value in fields.items():
        messages = "; ".join(_flatten(value))
        parts.append(messages if name == "non_field_errors" else f"{name}: {messages}")
    return " ".join(parts) or "Invalid input."


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            # Django keys errors of the whole object "__all__"; the API calls them non_field_errors.
            fields = {
                ("non_field_errors" if name == NON_FIELD_ERRORS else name): v for name, v in exc.message_dict.items()
            }
        else:
            fields = {"non_field_errors": exc.messages}
        exc = serializers.ValidationError(fields)
    # DRF turns these into NotFound/PermissionDenied only inside its own handler; convert them here so
    # the body below gets their code and message rather than a repr of the response data.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    error: dict[str, Any] = {"status": response.status_code}
    if isinstance(exc, exceptions.ValidationError):
        fields = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        error.update(code="invalid", message=_summary(fields), fields=fields)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        error.update(code=codes if isinstance(codes, str) else "error", message=str(exc.detail))
    else:
        error.update(code="error", message=str(response.data))
    response.data = {"error": error}
    return response
