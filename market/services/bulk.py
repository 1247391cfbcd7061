"""One UPDATE for many rows: `UPDATE t SET ... FROM (VALUES ...) WHERE t.id = v.id`.

Django's `bulk_update` builds a CASE WHEN per field and row, which costs more Python time than
the whole matching step; this writes the same rows with one plain statement per 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.db import connections, router
from django.db.models import Field, Model

CHUNK = 500


def bulk_update_rows(objects: Sequence[Model], fields: Sequence[str]) -> None:
    if not objects:
        return
    model = type(objects[0])
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    model_fields = [cast("Field[Any, Any]", meta.get_field(name)) for name in fields]
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
        for start in range(0, len(objects), CHUNK):
            chunk = objects[start : start + CHUNK]
            params: list[Any] = []
            for instance in chunk:
                params.append(instance.pk)
                for field in model_fields:
                    value = getattr(instance, field.attname)
                    params.append(field.get_db_prep_save(value, connection))
            # Identifiers come from model metadata; every value is a query parameter.
            sql = (
                f"UPDATE {table} SET {assignments} FROM "  # noqa: S608
                + source.format(rows=", ".join([row] * len(chunk)))
                + f" WHERE {table}.{pk} = v.{pk}"
            )
            cursor.execute(sql, params)
