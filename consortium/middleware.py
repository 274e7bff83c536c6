"""Requests refused before any view or query runs: NUL bytes (400) and API bodies over the size limit (413).

PostgreSQL text cannot hold a NUL byte: a NUL in a query parameter, a cookie or a credential
would reach a lookup and fail there as a server error. Forms and serializers already refuse NULs
in bodies (Django's ProhibitNullCharactersValidator); the URL and headers are checked here, once,
for every view. API paths answer in the API's error format.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.template.loader import render_to_string

from .api_errors import error_response, too_large_message

MESSAGE = "The request contains a NUL character (0x00) in its {where}; remove it and try again."


def nul_byte_in(request: HttpRequest) -> str | None:
    """Where the request carries a NUL byte (raw or %-encoded), or None."""
    if "\x00" in request.path_info:
        return "path"
    query = request.META.get("QUERY_STRING", "")
    if "\x00" in query or "%00" in query:
        return "query string"
    for name, value in request.META.items():
        if name.startswith("HTTP_") and isinstance(value, str) and "\x00" in value:
            return f"{name[5:].replace('_', '-').title()} header"
    # A quoted cookie value may spell a NUL as the escape \000, which parsing turns into one.
    if "\\" in request.META.get("HTTP_COOKIE", "") and any("\x00" in value for value in request.COOKIES.values()):
        return "Cookie header"
    return None


class RejectNulBytesMiddleware:
    def __init__(self, get_response) -> None:  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = nul_byte_in(request)
        if where is None:
            return self.get_response(request)
        message = MESSAGE.format(where=where)
        if request.path_info.startswith("/api/"):
            return JsonResponse({"error": {"status": 400, "code": "invalid", "message": message}}, status=400)
        # Rendered without the request: the user and the session are not looked up.
        return HttpResponseBadRequest(render_to_string("400.html", {"message": message}))


class RequestSizeLimitMiddleware:
    """API requests announcing a body over DATA_UPLOAD_MAX_MEMORY_SIZE answer 413 before any query.

    Django checks that limit only when it reads a form body itself; DRF's JSON parser reads the
    stream directly, after authentication has already queried the database. The announced
    Content-Length is checked here first; consortium.api.parsers also stops reading at the limit,
    for a body without one. Pages need no check of their own: Django's form parsing raises
    RequestDataTooBig, which consortium.api_errors.bad_request turns into a 413 page.
    """

    def __init__(self, get_response) -> None:  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if length > limit:
                return error_response(413, "too_large", too_large_message(limit))
        return self.get_response(request)
