"""One UPDATE for many rows: `UPDATE t SET ... FROM (VALUES ...) WHERE t.id = v.id`; one INSERT
for many rows given as tuples.

Django's `bulk_update` builds a CASE WHEN per field and row, which costs more Python time than
the whole matching step; this writes the same rows with one plain statement per 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.db import connections, router
from django.db.models import Field, Model

CHUNK = 500


def _target(model: type[Model], fields: Sequence[str]) -> tuple[Any, Any, list[Field[Any, Any]]]:
    """The connection that writes `model`, its quoting function, and the named fields."""
    connection = connections[router.db_for_write(model)]
    model_fields = [cast("Field[Any, Any]", model._meta.get_field(name)) for name in fields]
    return connection, connection.ops.quote_name, model_fields


def _prepared(fields: list[Field[Any, Any]], values: Sequence[Any], connection: Any) -> list[Any]:
    """One row's values as the database takes them."""
    return [
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, values, strict=True)
    ]


def bulk_update_rows(objects: Sequence[Model], fields: Sequence[str]) -> None:
    if not objects:
        return
    bulk_update_values(
        type(objects[0]),
        fields,
        [(instance.pk, *(getattr(instance, name) for name in fields)) for instance in objects],
    )


def bulk_update_values(
    model: type[Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """The same, for rows given as tuples: the primary key, then `fields` in order."""
    if not rows:
        return
    meta = model._meta
    connection, quote, model_fields = _target(model, fields)
    pk_field = cast("Field[Any, Any]", meta.pk)
    columns = [pk_field.column] + [field.column for field in model_fields]
    is_postgres = connection.vendor == "postgresql"
    # PostgreSQL infers a VALUES list's column types from text; say them.
    casts = [
        f"::{field.db_type(connection)}" if is_postgres else ""
        for field in [pk_field, *model_fields]
    ]
    row = "(" + ", ".join(f"%s{cast}" for cast in casts) + ")"
    table = quote(meta.db_table)
    assignments = ", ".join(f"{quote(column)} = v.{quote(column)}" for column in columns[1:])
    if is_postgres:
        source = "(VALUES {rows}) AS v(" + ", ".join(quote(column) for column in columns) + ")"
    else:
        # SQLite names a VALUES list's columns column1, column2, ...
        names = ", ".join(f"column{n} AS {quote(column)}" for n, column in enumerate(columns, 1))
        source = f"(SELECT {names} FROM (VALUES {{rows}})) AS v"  # noqa: S608 - names from model metadata
    pk = quote(pk_field.column)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            params: list[Any] = []
            for pk_value, *values in chunk:
                params += [pk_value, *_prepared(model_fields, values, connection)]
            # Identifiers come from model metadata; every value is a query parameter.
            sql = (
                f"UPDATE {table} SET {assignments} FROM "  # noqa: S608
                + source.format(rows=", ".join([row] * len(chunk)))
                + f" WHERE {table}.{pk} = v.{pk}"
            )
            cursor.execute(sql, params)


def bulk_insert_rows(
    model: type[Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """INSERT many rows given as tuples in `fields` order, without building a model instance
    per row (the outbox writes thousands per auction). No primary keys come back; fields left
    out take their database defaults, so name every field without one."""
    if not rows:
        return
    meta = model._meta
    connection, quote, model_fields = _target(model, fields)
    columns = ", ".join(quote(field.column) for field in model_fields)
    row = "(" + ", ".join(["%s"] * len(model_fields)) + ")"
    chunk_size = max(1, connection.ops.bulk_batch_size(model_fields, rows))
    if connection.vendor == "postgresql":
        # COPY: no SQL text to build and parse per row (an auction's outbox is 27,000 rows).
        # Through the driver's own cursor, so Django's wrapper must turn its errors into
        # Django's (a lost server is then an OperationalError the API answers 503).
        with (
            connection.cursor() as cursor,
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy,
        ):
            for values in rows:
                copy.write_row(_prepared(model_fields, values, connection))
        return
    with connection.cursor() as cursor:
        for start in range(0, len(rows), chunk_size):
            chunk = rows[start : start + chunk_size]
            params = [
                param for values in chunk for param in _prepared(model_fields, values, connection)
            ]
            # Identifiers come from model metadata; every value is a query parameter.
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608
                + ", ".join([row] * len(chunk)),
                params,
            )
