"""CSV for reports: one header row whose column names carry the units, then one row per line."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from rest_framework.renderers import BaseRenderer

from consortium.csv_export import csv_write


@dataclass
class CsvTable:
    columns: list[str]
    rows: list[dict[str, Any]]
    filename: str


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if not isinstance(data, CsvTable):
            raise TypeError("CSVRenderer renders a CsvTable; errors are rendered as JSON by the report views.")
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Disposition"] = f'attachment; filename="{data.filename}"'
        out = io.StringIO()
        rows = ([row.get(column) for column in data.columns] for row in data.rows)
        csv_write(out, data.columns, rows, lineterminator="\n")
        return out.getvalue().encode(self.charset)
