"""One UPDATE for many rows: `UPDATE t SET ... FROM unnest(arrays) AS v WHERE t.id = v.id` on
PostgreSQL (`FROM (VALUES ...)` on SQLite); one INSERT for many rows given as tuples.

Django's `bulk_update` builds a CASE WHEN per field and row, which costs more Python time than
the whole matching step; this writes the same rows with one plain statement per 500. Also the
membership test that SQL written by hand shares (`sql_in`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal
from operator import attrgetter
from typing import Any, cast

from django.db import connections, models, router
from django.db.models import Field, Model

CHUNK = 500


def _target(model: type[Model], fields: Sequence[str]) -> tuple[Any, Any, list[Field[Any, Any]]]:
    """The connection that writes `model`, its quoting function, and the named fields."""
    connection = connections[router.db_for_write(model)]
    model_fields = [cast("Field[Any, Any]", model._meta.get_field(name)) for name in fields]
    return connection, connection.ops.quote_name, model_fields


class _Preparer:
    """Rows' values as the database takes them. Django's field preparation costs more per row
    than the database's write of it, so it is skipped where it would hand the value back as it
    is (`_as_is_type`), and a value that is the very object of the row before (the `now` every
    row of a batch shares) is not prepared again."""

    def __init__(
        self, fields: list[Field[Any, Any]], connection: Any, ready: Collection[str] = ()
    ) -> None:
        self.fields = fields
        self.connection = connection
        self.as_is: list[object] = [
            _ANY_TYPE if field.name in ready else _as_is_type(field, connection) for field in fields
        ]
        self.last: list[Any] = [_NOTHING] * len(fields)
        self.last_prepared: list[Any] = [None] * len(fields)

    def row(self, values: Sequence[Any]) -> list[Any]:
        prepared = []
        for index, (field, value) in enumerate(zip(self.fields, values, strict=True)):
            as_is = self.as_is[index]
            if as_is is _ANY_TYPE or (
                type(value) is as_is and (as_is is not Decimal or value.is_finite())
            ):
                prepared.append(value)
                continue
            if value is not self.last[index]:
                self.last[index] = value
                self.last_prepared[index] = field.get_db_prep_save(value, self.connection)
            prepared.append(self.last_prepared[index])
        return prepared


_ANY_TYPE = object()  # a field whose values come prepared (JSON given as text)

# Field classes whose preparation on PostgreSQL hands a value of this type back unchanged, or
# wrapped only to tell the driver an integer's width (which COPY and array text do not need);
# a NaN or infinite Decimal still goes through its field, which refuses it. Exact classes: a
# subclass may prepare its values otherwise.
_AS_IS_ON_POSTGRESQL: dict[type[Field[Any, Any]], type] = {
    **dict.fromkeys(
        [
            models.AutoField,
            models.BigAutoField,
            models.SmallAutoField,
            models.IntegerField,
            models.BigIntegerField,
            models.SmallIntegerField,
            models.PositiveIntegerField,
            models.PositiveBigIntegerField,
            models.PositiveSmallIntegerField,
        ],
        int,
    ),
    models.CharField: str,
    models.TextField: str,
    models.BooleanField: bool,
    models.DecimalField: Decimal,
}


def _as_is_type(field: Field[Any, Any], connection: Any) -> type | None:
    """The type of the values `field` would hand to the driver unchanged, if any."""
    if connection.vendor != "postgresql":
        return None
    if type(field) in (models.ForeignKey, models.OneToOneField):
        field = cast("Field[Any, Any]", field.target_field)  # type: ignore[attr-defined]
    return _AS_IS_ON_POSTGRESQL.get(type(field))


_NOTHING = object()


def sql_in(connection: Any, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """`column <this>` for membership in `values`, with its parameters: one array parameter on
    PostgreSQL (one statement text whatever their number), a parameter each elsewhere."""
    if connection.vendor == "postgresql":
        return "= ANY(%s)", [list(values)]
    return f"IN ({', '.join(['%s'] * len(values))})", list(values)


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
    table = quote(meta.db_table)
    pk = quote(pk_field.column)
    preparer = _Preparer(model_fields, connection)
    with connection.cursor() as cursor:
        if is_postgres:
            # One statement for any number of rows: an array per column, unnested side by side
            # (no SQL text to build and parse per row).
            prepared = [(pk_value, *preparer.row(values)) for pk_value, *values in rows]
            by_column = [[row[index] for row in prepared] for index in range(len(columns))]
            types = [field.db_type(connection) for field in [pk_field, *model_fields]]
            # A value every row shares (the batch's `now`) goes once, not as an array.
            shared = [
                index > 0 and column.count(column[0]) == len(column)
                for index, column in enumerate(by_column)
            ]
            unnested = [index for index in range(len(columns)) if not shared[index]]
            names = ", ".join(quote(columns[index]) for index in unnested)
            arrays = ", ".join(f"%s::{types[index]}[]" for index in unnested)
            assignments = ", ".join(
                f"{quote(column)} = " + ("%s" if shared[index] else f"v.{quote(column)}")
                for index, column in enumerate(columns)
                if index > 0
            )
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS v({names}) "  # noqa: S608
                f"WHERE {table}.{pk} = v.{pk}",
                [by_column[index][0] for index in range(1, len(columns)) if shared[index]]
                + [_array(by_column[index]) for index in unnested],
            )
            return
        assignments = ", ".join(f"{quote(column)} = v.{quote(column)}" for column in columns[1:])
        # SQLite names a VALUES list's columns column1, column2, ...
        aliases = ", ".join(f"column{n} AS {quote(column)}" for n, column in enumerate(columns, 1))
        row = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            params: list[Any] = []
            for pk_value, *values in chunk:
                params += [pk_value, *preparer.row(values)]
            # Identifiers come from model metadata; every value is a query parameter.
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM "  # noqa: S608
                f"(SELECT {aliases} FROM (VALUES {', '.join([row] * len(chunk))})) AS v "
                f"WHERE {table}.{pk} = v.{pk}",
                params,
            )


_NUMBERS = {int, Decimal, type(None)}


def _array(values: list[Any]) -> Any:
    """An array parameter. Numbers go as the array's text, one string: the driver adapts a
    list element by element in Python, the largest cost of an auction's UPDATEs."""
    if set(map(type, values)) <= _NUMBERS:
        return "{" + ",".join(["NULL" if value is None else str(value) for value in values]) + "}"
    return values


def bulk_insert_rows(
    model: type[Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    json_text: Collection[str] = (),
) -> None:
    """INSERT many rows given as tuples in `fields` order, without building a model instance
    per row (the outbox writes thousands per auction). No primary keys come back; fields left
    out take their database defaults, so name every field without one. The JSON fields named
    in `json_text` come encoded already (one `json.dumps` a row costs less than the field's
    adaptation)."""
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
            preparer = _Preparer(model_fields, connection, json_text)
            for values in rows:
                copy.write_row(preparer.row(values))
        return
    with connection.cursor() as cursor:
        for start in range(0, len(rows), chunk_size):
            chunk = rows[start : start + chunk_size]
            preparer = _Preparer(model_fields, connection, json_text)
            params = [param for values in chunk for param in preparer.row(values)]
            # Identifiers come from model metadata; every value is a query parameter.
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608
                + ", ".join([row] * len(chunk)),
                params,
            )


# Below this many rows an INSERT ... RETURNING is one statement against two (ids, then COPY).
COPY_OBJECTS_FROM = 100


def bulk_create_objects(objects: Sequence[Model]) -> None:
    """`bulk_create(objects)` (their primary keys set; no signals, as there): on PostgreSQL, from
    COPY_OBJECTS_FROM rows, the ids come from the table's sequence in one statement and the
    rows go in with COPY (an auction's thousands of trades and notifications)."""
    if not objects:
        return
    model = type(objects[0])
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql" or len(objects) < COPY_OBJECTS_FROM:
        model._default_manager.bulk_create(objects)
        return
    meta = model._meta
    ids = next_ids(model, len(objects))
    fields = [cast("Field[Any, Any]", field) for field in meta.concrete_fields]
    # What bulk_create does per field: `pre_save`, which stamps auto_now_add fields and is
    # otherwise the attribute (a foreign key's id), read for all fields at once.
    stamped = [field for field in fields if type(field).pre_save is not Field.pre_save]
    values = attrgetter(*[field.attname for field in fields])
    rows = []
    for instance, id_ in zip(objects, ids, strict=True):
        # As bulk_create (Django's own method; the stubs lack it): a related object saved after
        # its assignment lends its id now, and an unsaved one is refused.
        instance._prepare_related_fields_for_save(operation_name="bulk_create")  # type: ignore[attr-defined]
        instance.pk = id_
        for field in stamped:
            field.pre_save(instance, True)
        rows.append(values(instance))
        instance._state.adding = False
        instance._state.db = connection.alias
    bulk_insert_rows(model, [field.name for field in fields], rows)


def next_ids(model: type[Model], count: int) -> list[int]:
    """`count` new primary keys for `model`, increasing, in one statement, for rows the caller
    inserts later with these ids. PostgreSQL: from the table's sequence (an id taken is never
    handed out again, used or not). SQLite: after the largest ever handed out; its writer holds
    the database from BEGIN (transaction_mode IMMEDIATE), so nobody else takes them meanwhile."""
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    pk_field = cast("Field[Any, Any]", meta.pk)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, pk_field.column, count],
            )
            return sorted(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [meta.db_table])
        row = cursor.fetchone()
        last = row[0] if row else 0
        return list(range(last + 1, last + 1 + count))
