"""The one CSV writer for every download (pages and API reports).

Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` (and some with a leading tab or
carriage return) as a formula: a lab named `=HYPERLINK("http://evil", "click")` would become a
live link in a coordinator's spreadsheet. Text that users typed is therefore written with a leading
`'`, which spreadsheets show as plain text; numbers are written as they are, so `-12.5` stays a
number.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value as a spreadsheet should read it: text that would start a formula gets a `'` first."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_write(out: Any, header: Sequence[str], rows: Iterable[Sequence[Any]], **writer_options: Any) -> None:
    writer = csv.writer(out, **writer_options)
    writer.writerow(header)
    writer.writerows([safe_cell(value) for value in row] for row in rows)


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    csv_write(response, header, rows)
    return response
