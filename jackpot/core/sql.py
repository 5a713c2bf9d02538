"""Raw SQL, written one way (docs/architecture.md § SQL).

Raw SQL is kept where a benchmark showed that it pays (placement, webhook delivery,
settlement; each place says so) and follows three rules: table and column names come from
model metadata (`sql_names`), values are parameters, and rows are read by column name
(`named_rows`). These helpers are the only code that reaches into Django's internals.

SQL compiled by the ORM once per process, for hot paths (docs/performance.md).

Building a query through the ORM (cloning the QuerySet, resolving lookups and joins,
compiling) costs far more CPU than running it: for the placement's betcard read, about 2 ms
of a ~10 ms request. A hot path that runs the same query shape on every request compiles
it once with placeholder parameters, keeps the SQL text, and executes it with the
request's own values. The ORM stays the one description of the query (columns, joins,
order), so a model change still changes the SQL.

The INSERT helpers do the same for writes: the statement text comes from the model's
fields once per process, the values from the instance exactly as `Model.save()` and
`bulk_create()` prepare them, so several rows of different tables can be written by one
statement (one round trip) without leaving the model as the description of the table.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import re
import time
from collections import namedtuple
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, Model, QuerySet


class TableNames:
    """The quoted names of a model's table and columns, for a raw SQL template:
    `str(names)` is the table, `names.<field name>` the field's column. An unknown field
    raises FieldDoesNotExist when the template is rendered, i.e. at import."""

    def __init__(self, model: type[Model]) -> None:
        self._model = model
        self._quote = connections[DEFAULT_DB_ALIAS].ops.quote_name

    def __str__(self) -> str:
        return str(self._quote(self._model._meta.db_table))

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        return str(self._quote(str(self._model._meta.get_field(name).column)))  # type: ignore[union-attr]


def sql_names(template: str, **names: type[Model] | str) -> str:
    """`template` with `{alias}` and `{alias.field}` replaced by the quoted table and column
    names of the model `names[alias]`; values stay `%(name)s` parameters.

        sql_names("SELECT t.{t.code} FROM {t} t WHERE t.{t.status} = %(open)s", t=Ticket)

    A name given a string is a fragment of SQL template (e.g. a condition kept in a
    constant): `{name}` is replaced by it before the names are filled in.
    """
    for name, fragment in names.items():
        if isinstance(fragment, str):
            template = template.replace(f"{{{name}}}", fragment)
    tables = {
        alias: TableNames(model) for alias, model in names.items() if not isinstance(model, str)
    }
    return template.format(**tables)


@functools.cache
def _row_type(columns: tuple[str, ...]) -> Any:
    return namedtuple("Row", columns)


def named_rows(cursor: Any) -> list[Any]:
    """The cursor's remaining rows as named tuples, fields named as the SELECT's columns
    (give every column a distinct name or alias)."""
    row_type = _row_type(tuple(column.name for column in cursor.description))
    return [row_type(*row) for row in cursor.fetchall()]


def queryset_sql(queryset: QuerySet[Any, Any], *, params: tuple[object, ...]) -> str:
    """The SQL text of `queryset`, whose only parameters must be `params`, in order.

    Build the queryset with recognisable placeholder values (e.g. `filter(code="")` and
    `params=("",)`) and execute the result with the real values in the same order. Raises
    ValueError when the compiled parameters differ, e.g. when the ORM folded a value into
    the SQL text or added one of its own, which would make the SQL unsafe to reuse.
    """
    sql, compiled = queryset.query.get_compiler(using=DEFAULT_DB_ALIAS).as_sql()
    if tuple(compiled) != params:
        raise ValueError(f"expected parameters {params!r}, the ORM compiled {compiled!r}")
    return str(sql)


@functools.cache
def _insert_fields(model: type[Model]) -> tuple[Field[Any, Any], ...]:
    """The columns an INSERT writes: every concrete field but a database-generated key."""
    return tuple(
        field
        for field in model._meta.concrete_fields
        if not (field.primary_key and field.db_returning)
    )


def _cast_type(field: Field[Any, Any]) -> str:
    """The column's type without modifiers (`varchar(6)` → `varchar`): an explicit cast to
    `varchar(6)` would silently cut a longer value, where the column itself rejects it."""
    db_type = field.db_type(connections[DEFAULT_DB_ALIAS])
    if db_type is None:
        raise TypeError(f"{field} has no column type")
    return _TYPE_MODIFIERS.sub("", db_type)


_TYPE_MODIFIERS = re.compile(r"\(\s*\d+(?:\s*,\s*\d+)?\s*\)")


def _insert_into(model: type[Model]) -> str:
    """`INSERT INTO "table" ("column", ...)`, from model metadata only."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in _insert_fields(model))
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns})"


@functools.cache
def insert_unnest_sql(model: type[Model]) -> str:
    """`INSERT INTO table (columns) SELECT * FROM UNNEST(%s::type[], ...)`: any number of
    rows with one array parameter per column (as `bulk_create` does on PostgreSQL); see
    `insert_column_values`."""
    arrays = ", ".join(f"(%s)::{_cast_type(field)}[]" for field in _insert_fields(model))
    return f"{_insert_into(model)} SELECT * FROM UNNEST({arrays})"  # noqa: S608 - metadata


@functools.cache
def insert_select_sql(model: type[Model]) -> str:
    """`INSERT INTO table (columns) SELECT (%s)::type, ...` for one row (see `insert_params`),
    to which the caller may append a `WHERE`: a conditional insert.

    Unlike VALUES, a SELECT list does not take its types from the target columns, hence the
    casts (see `_cast_type`)."""
    values = ", ".join(f"(%s)::{_cast_type(field)}" for field in _insert_fields(model))
    return f"{_insert_into(model)} SELECT {values}"


def insert_params(instance: Model) -> list[Any]:
    """The row's values as `save(force_insert=True)` sends them (`pre_save`, then
    `get_db_prep_save`), in the order of `insert_select_sql`."""
    connection = connections[DEFAULT_DB_ALIAS]
    return [
        field.get_db_prep_save(field.pre_save(instance, True), connection)
        for field in _insert_fields(type(instance))
    ]


def insert_column_values(
    model: type[Model], rows: int, **columns: Sequence[Any]
) -> list[str | list[Any]]:
    """Parameters for `insert_unnest_sql(model)` from column values, without a model
    instance per row (for hot paths writing many small rows): one sequence of `rows` values
    per given field (by attname, values already as the database takes them: ints, strings,
    Decimals), and the field's default for every column not given. A column that is neither
    given nor has a default raises TypeError, like a missing argument. Each column's
    values are passed as one array literal (`array_literal`)."""
    connection = connections[DEFAULT_DB_ALIAS]
    fields = _insert_fields(model)
    unknown = columns.keys() - {field.attname for field in fields}
    if unknown:
        raise TypeError(f"{model.__name__} has no columns {sorted(unknown)}")
    params = []
    for field in fields:
        if field.attname in columns:
            values = list(columns[field.attname])
            if len(values) != rows:
                raise ValueError(f"{field.attname}: {len(values)} values for {rows} rows")
        elif field.has_default() or field.null:
            values = [field.get_db_prep_save(field.get_default(), connection)] * rows
        else:
            raise TypeError(f"{model.__name__}.{field.attname} has no value and no default")
        params.append(array_literal(values))
    return params


def array_literal(values: list[Any]) -> str | list[Any]:
    """`values` as the text of a PostgreSQL array (`{1,2.50,"open",t,NULL}`) for a
    parameter the SQL casts to an array type (`(%s)::bigint[]`); a list holding anything but
    ints, Decimals, strings, bools and None is returned as it is, for psycopg to adapt.

    Why: psycopg adapts a list in Python, element by element (finding the element type,
    then one dumper call per value); a literal is one string for it to send
    (benchmarks/write_params.py)."""
    items = []
    for value in values:
        if value is None:
            items.append("NULL")
        elif isinstance(value, str):  # also str enums: their value
            items.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
        elif isinstance(value, bool):
            items.append("t" if value else "f")
        elif isinstance(value, int | Decimal):
            items.append(str(value))
        else:
            return values
    return "{" + ",".join(items) + "}"


def execute_fetchone(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """Run one statement written with `%s` placeholders; its first row, or None.

    For hot statements with many parameters. psycopg rewrites `%s` into PostgreSQL's `$1`
    on every execute and keeps the result only for statements under 50 parameters and
    4 KB; the placement's write has 76 parameters and 3.3 KB. With `array_literal`, what
    psycopg spends on the write went from ~300 to ~30 µs of CPU
    (benchmarks/write_params.py). Here the rewrite is done once per SQL text
    and the statement runs on psycopg's RawCursor, which takes `$1` as it is, inside
    Django's cursor wrapper (execute wrappers, database errors as Django's).

    While Django logs queries (DEBUG, tests capturing them) the statement runs on Django's
    own cursor instead: the log renders `%s` SQL with its parameters."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.queries_logged:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row: tuple[Any, ...] | None = cursor.fetchone()
            return row
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with CursorWrapper(psycopg.RawCursor(connection.connection), connection) as cursor:
        cursor.execute(_numbered(sql), params)
        row = cursor.fetchone()
        return row


@functools.cache
def _numbered(sql: str) -> str:
    """`sql` with its `%s` placeholders numbered `$1, $2, ...` and `%%` as `%`."""
    numbers = itertools.count(1)

    def number(placeholder: re.Match[str]) -> str:
        if placeholder[0] == "%%":
            return "%"
        if placeholder[0] != "%s":
            raise ValueError(f"only %s placeholders can be numbered, not {placeholder[0]!r}")
        return f"${next(numbers)}"

    return _PLACEHOLDER.sub(number, sql)


_PLACEHOLDER = re.compile(r"%.?")


def transaction_lock(name: str) -> None:
    """Wait until no other transaction holds the lock called `name`, then hold it until the
    current transaction ends (`pg_advisory_xact_lock`): for jobs that must not overlap,
    such as two catalogue imports reading the same rows before either writes them."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [name])


@contextlib.contextmanager
def session_lock(name: str, *, wait_seconds: float) -> Iterator[bool]:
    """Try for up to `wait_seconds` to take the lock called `name` for this database session
    (`pg_try_advisory_lock`); yield whether it was taken, and release it on exit.

    For work that spans many transactions and must not run twice at once (settling a card).
    A session that ends, e.g. its process was killed, releases its locks; the short wait
    lets such a session finish dying before a rerun gives up."""
    connection = connections[DEFAULT_DB_ALIAS]
    deadline = time.monotonic() + wait_seconds
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [name])
            (taken,) = cursor.fetchone()
        if taken or time.monotonic() >= deadline:
            break
        time.sleep(_LOCK_POLL_SECONDS)
    try:
        yield bool(taken)
    finally:
        if taken:
            # A session broken meanwhile has lost the lock already: nothing to release.
            with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [name])


_LOCK_POLL_SECONDS = 0.2
