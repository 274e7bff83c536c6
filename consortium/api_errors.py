"""One error format for the whole API.

Every error response has the shape
    {"error": {"status": 400, "code": "invalid", "message": "rd_share: ...", "fields": {"rd_share": ["..."]}}}
`fields` is present for validation errors only; `message` is always a readable sentence that names
the offending field when there is one.

DRF views get the shape from `exception_handler`. What fails outside them (a body refused while
Django reads it, an unhandled exception, a database that cannot be reached) reaches Django's error
handlers, which consortium/urls.py points at `bad_request`, `permission_denied`, `page_not_found`
and `server_error` below: under /api/ they answer in the same shape, elsewhere with the site's
styled pages.
"""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .api.parsers import PayloadTooLarge, too_large_message

TOO_MANY_FIELDS = "The request has more than {limit} form fields or files, the most accepted (REQUEST_MAX_FORM_FIELDS)."


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def error_response(status_code: int, code: str, message: str, **headers: str) -> JsonResponse:
    """An error in the API's shape, for answers given outside DRF's views."""
    response = JsonResponse({"error": {"status": status_code, "code": code, "message": message}}, status=status_code)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


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
    # Django's own request bounds, met while a parser reads a form or multipart body.
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(too_large_message(settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        exc = exceptions.ParseError(
            TOO_MANY_FIELDS.format(limit=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS), code="too_many_fields"
        )
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


# Django's error handlers (handler400, handler403, handler404, handler500 in consortium/urls.py).


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A request Django refused (SuspiciousOperation): a body over the limits gets 413 or 400 naming it."""
    if isinstance(exception, RequestDataTooBig):
        status_code, code = 413, "too_large"
        message = too_large_message(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    elif isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        status_code, code = 400, "too_many_fields"
        message = TOO_MANY_FIELDS.format(limit=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)
    elif is_api(request):
        return error_response(400, "bad_request", "The request could not be understood.")
    else:
        return defaults.bad_request(request, exception)
    if is_api(request):
        return error_response(status_code, code, message)
    # Rendered without the request: its body is what was refused.
    return HttpResponse(render_to_string("400.html", {"message": message}), status=status_code)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        message = str(exception) or "You do not have permission to perform this action."
        return error_response(403, "permission_denied", message)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return error_response(
            404, "not_found", f"No API endpoint at {request.path}; the operations are listed at /api/docs/."
        )
    return defaults.page_not_found(request, exception)


def database_unavailable(exception: BaseException | None) -> bool:
    """Whether `exception` says the database cannot be reached or refused the statement for now.

    Django raises OperationalError for a refused or dropped connection, a server shutting down, a
    statement cancelled or timed out; InterfaceError for a connection already closed. A retry later
    may succeed, so the answer is 503 with Retry-After rather than 500.
    """
    return isinstance(exception, OperationalError | InterfaceError)


def server_error(request: HttpRequest) -> HttpResponse:
    """An unhandled exception: 503 when the database is unreachable, else 500.

    Django calls handler500 without the exception, from inside the `except` block that caught it
    (django.core.handlers.exception.response_for_exception), so `sys.exc_info()` names it. Neither
    answer touches the database or the session: the page is rendered without the request.
    """
    if database_unavailable(sys.exc_info()[1]):
        retry_after = str(settings.DATABASE_OUTAGE_RETRY_AFTER)
        if is_api(request):
            return error_response(
                503,
                "service_unavailable",
                f"The database cannot be reached at the moment (no change is ever half-saved); try again in "
                f"{retry_after} seconds.",
                Retry_After=retry_after,
            )
        response = HttpResponse(
            render_to_string("503.html", {"retry_after": settings.DATABASE_OUTAGE_RETRY_AFTER}), status=503
        )
        response["Retry-After"] = retry_after
        return response
    if is_api(request):
        return error_response(
            500,
            "server_error",
            "Something went wrong on the server; nothing was half-saved. Try again, and if it keeps happening tell "
            "the operator the time it happened.",
        )
    return defaults.server_error(request)
