"""One-row lookups with fixed SQL, for the per-request hot path of report endpoints.

Every report request looks up its API key and its run. Through the ORM, building and compiling
those small queries took longer than the database took to answer them (about 0.45 ms of a 0.65 ms
lookup on PostgreSQL), so the two lookups are written once as SQL, with table and column names
taken from the models, and their rows become model instances as the ORM would make them: the
backend's value converters apply (SQLite returns datetimes as text) and fields that are not
selected are deferred, loaded on first access.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections, models

Converter = Callable[[Any, Any, Any], Any]


class Selection:
    """Some concrete fields of a model, selected from a table alias."""

    def __init__(self, model: type[models.Model], alias: str, names: Sequence[str] | None = None) -> None:
        self.model = model
        self.alias = alias
        fields = model._meta.concrete_fields
        if names is not None:
            fields = [model._meta.get_field(name) for name in names]  # type: ignore[misc]
        self.fields = list(fields)
        self.attnames = [field.attname for field in self.fields]
        self._converters: dict[str, list[tuple[list[Converter], Any]]] = {}

    def columns_sql(self, connection) -> str:  # type: ignore[no-untyped-def]
        quote = connection.ops.quote_name
        return ", ".join(f"{quote(self.alias)}.{quote(field.column)}" for field in self.fields)

    def converters(self, connection) -> list[tuple[list[Converter], Any]]:  # type: ignore[no-untyped-def]
        # As the ORM's compiler does: the backend's converters first, then the field's own.
        found = self._converters.get(connection.alias)
        if found is None:
            found = []
            for field in self.fields:
                column = field.get_col(self.alias)
                found.append((connection.ops.get_db_converters(column) + column.get_db_converters(connection), column))
            self._converters[connection.alias] = found
        return found

    def instance(self, connection, values: Sequence[Any]) -> models.Model:  # type: ignore[no-untyped-def]
        converted = []
        for value, (converters, column) in zip(values, self.converters(connection), strict=True):
            for convert in converters:
                value = convert(value, column, connection)
            converted.append(value)
        return self.model.from_db(connection.alias, self.attnames, converted)


class RowQuery:
    """`SELECT <selections' columns> <tail>` fetching at most one row as one instance per selection
    (None for a selection whose columns are all NULL, from an outer join without a match).

    `tail` is the rest of the statement (FROM, joins, WHERE, ORDER BY, LIMIT) with `{name}`
    placeholders for quoted table and column names, e.g. `{run}` -> `"simulations_simulationrun"`.
    """

    def __init__(self, selections: Sequence[Selection], tail: str, names: dict[str, str]) -> None:
        self.selections = list(selections)
        self.tail = tail
        self.names = names
        self._sql: dict[str, str] = {}

    def sql(self, connection) -> str:  # type: ignore[no-untyped-def]
        sql = self._sql.get(connection.alias)
        if sql is None:
            quote = connection.ops.quote_name
            columns = ", ".join(selection.columns_sql(connection) for selection in self.selections)
            tail = self.tail.format(**{key: quote(value) for key, value in self.names.items()})
            sql = self._sql[connection.alias] = f"SELECT {columns} {tail}"
        return sql

    def fetch(self, params: Sequence[Any], using: str = "default") -> list[models.Model | None] | None:
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(self.sql(connection), params)
            row = cursor.fetchone()
        if row is None:
            return None
        instances = []
        start = 0
        for selection in self.selections:
            end = start + len(selection.fields)
            values = row[start:end]
            # All NULL: the selection's table was outer-joined and had no row.
            found = any(value is not None for value in values)
            instances.append(selection.instance(connection, values) if found else None)
            start = end
        return instances
