"""One-row lookups with fixed SQL, for the per-request hot path of report endpoints.

Every report request looks up its API key and its run. Through the ORM, building and compiling
those small queries took longer than the database took to answer them (about 0.45 ms of a 0.65 ms
lookup on PostgreSQL), so the two lookups are written once as SQL, with table and column names
taken from the models, and their rows become model instances as the ORM would make them: the
backend's value converters apply (SQLite returns datetimes as text) and fields that are not
selected are deferred, loaded on first access.

On PostgreSQL they are also prepared statements (unless DATABASE_PREPARED_STATEMENTS is off):
planning the key-and-run lookup took longer than running it (0.76 ms against 0.34 ms). A prepared
statement is parsed once per connection, and after its first five runs PostgreSQL keeps one
generic plan (2,995 of 3,000 runs in a measurement): the lookup fell from 0.7 ms to 0.25 ms. Only
these statements are prepared; the ORM's queries keep Django's client-side binding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import NotSupportedError, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.base import ServerBindingCursor  # psycopg is a pinned dependency
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper

Converter = Callable[[Any, Any, Any], Any]
# PostgreSQL's feature_not_supported, raised for a prepared statement whose result columns changed.
STALE_PREPARED_STATEMENT = "0A000"


class PreparingCursor(ServerBindingCursor):
    """Server-side binding, each statement prepared on its first execution on a connection."""

    def execute(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("prepare", True)
        return super().execute(query, params, **kwargs)


class LoggedPreparedCursor(CursorDebugWrapper):
    """Django's query log for a prepared statement. Django reads the SQL it logs back from a
    client-side cursor, which a prepared statement has not got: it logs the statement as given."""

    def execute(self, sql, params=None):  # type: ignore[no-untyped-def]
        with self.debug_sql(sql, params):
            return CursorWrapper.execute(self, sql, params)


def prepares(connection: BaseDatabaseWrapper) -> bool:
    """Whether fixed statements run prepared on this connection (PostgreSQL, prepared statements on)."""
    return (
        connection.vendor == "postgresql"
        and connection.settings_dict.get("OPTIONS", {}).get("prepare_threshold") is not None
    )


def row_cursor(connection: BaseDatabaseWrapper) -> CursorWrapper:
    """A cursor for a fixed statement: Django's own, or on PostgreSQL a preparing one, opened the way
    `connection.cursor()` opens Django's (health check, connection, thread check, errors wrapped,
    queries logged when Django logs them, so tests count them)."""
    if not prepares(connection):
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        cursor = PreparingCursor(connection.connection)
    return LoggedPreparedCursor(cursor, connection) if connection.queries_logged else connection.make_cursor(cursor)


class Selection:
    """Some concrete fields of a model, selected from a table alias."""

    def __init__(self, model: type[models.Model], alias: str, names: Sequence[str] | None = None) -> None:
        self.model = model
        self.alias = alias
        fields = model._meta.concrete_fields
        if names is not None:
            # Model.from_db takes a subset of the fields in the model's own order, whatever order they are named in.
            chosen = {model._meta.get_field(name) for name in names}
            fields = [field for field in fields if field in chosen]  # type: ignore[misc]
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

    def _row(self, connection, params: Sequence[Any]) -> tuple[Any, ...] | None:  # type: ignore[no-untyped-def]
        with row_cursor(connection) as cursor:
            cursor.execute(self.sql(connection), params)
            return cursor.fetchone()

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
        try:
            row = self._row(connection, params)
        except NotSupportedError as exc:
            # A migration run by another process changed a selected column: PostgreSQL refuses a
            # statement prepared before it ("cached plan must not change result type", SQLSTATE
            # 0A000) for as long as this connection lives. Outside a transaction, start again on
            # a new connection, which prepares the statement afresh.
            if getattr(exc.__cause__, "sqlstate", None) != STALE_PREPARED_STATEMENT or connection.in_atomic_block:
                raise
            connection.close()
            row = self._row(connection, params)
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
