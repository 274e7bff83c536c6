"""The API's JSON parser: bounded in size and depth before the body is decoded.

DRF's JSONParser hands the body to `json.load`, which recurses once per nesting level: a body of
100,000 `[` (200 kB) ended in a RecursionError, a 500. Whatever it decodes is then walked again,
recursively, by the serializers and by `json.dumps` when it is stored. This parser reads at most
DATA_UPLOAD_MAX_MEMORY_SIZE bytes (413 beyond), then measures the nesting with two regular
expressions and one pass over the brackets in C (`itertools.accumulate`), and refuses more than
API_JSON_MAX_DEPTH levels with a 400 before decoding.

Measured on a 1 MiB body (on the shared 2-core development machine): a million brackets about
100 ms; ordinary nested data 30 ms (decoding it: 12-35 ms); the 200,000-element lab list 1.5 ms;
the worst strings (a million escapes) about 150 ms. Walking the decoded value instead costs more
for bodies of many small containers (about 400 ms for 350,000 empty arrays).
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

# A JSON string: its escapes may hide quotes and brackets. The closing quote is optional so that a
# match never fails: an unterminated string runs to the end (the decoder refuses it later), where a
# failing match would be retried from every later quote, quadratic in the body's length.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "The request body is too large."


def too_large_message(limit: int) -> str:
    return (
        f"The request body is larger than {limit} bytes ({limit / 1048576:.2g} MiB), the most accepted "
        "(REQUEST_BODY_MAX_BYTES)."
    )


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in `text` (0 for a bare number or string).

    Exact for well-formed JSON; for malformed text it is an estimate, which the decoder then
    refuses anyway.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


class BoundedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(too_large_message(limit))
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"JSON parse error - the body is not valid {encoding}: {exc}") from None
        depth = json_depth(text)
        most = settings.API_JSON_MAX_DEPTH
        if depth > most:
            raise ParseError(
                f"The JSON body nests arrays and objects {depth} levels deep; at most {most} are accepted "
                "(API_JSON_MAX_DEPTH).",
                code="too_deep",
            )
        try:
            return json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
