"""SQL compiled by the ORM once per process, for hot paths (docs/performance.md).

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

import functools
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, Model, QuerySet


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


def _insert_into(model: type[Model]) -> str:
    """`INSERT INTO "table" ("column", ...)`, from model metadata only."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in _insert_fields(model))
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns})"


@functools.cache
def insert_values_sql(model: type[Model]) -> str:
    """`INSERT INTO table (columns) VALUES (%s, ...)` for one row; see `insert_params`."""
    placeholders = ", ".join(["%s"] * len(_insert_fields(model)))
    return f"{_insert_into(model)} VALUES ({placeholders})"


@functools.cache
def insert_unnest_sql(model: type[Model]) -> str:
    """`INSERT INTO table (columns) SELECT * FROM UNNEST(%s::type[], ...)`: any number of
    rows with one array parameter per column (as `bulk_create` does on PostgreSQL); see
    `insert_column_params`."""
    connection = connections[DEFAULT_DB_ALIAS]
    arrays = ", ".join(
        f"(%s)::{field.db_type(connection).split('(')[0]}[]"  # type: ignore[union-attr]
        for field in _insert_fields(model)
    )
    return f"{_insert_into(model)} SELECT * FROM UNNEST({arrays})"  # noqa: S608 - metadata


def insert_params(instance: Model) -> list[Any]:
    """The row's values as `save(force_insert=True)` sends them (`pre_save`, then
    `get_db_prep_save`), in the order of `insert_values_sql`."""
    connection = connections[DEFAULT_DB_ALIAS]
    return [
        field.get_db_prep_save(field.pre_save(instance, True), connection)
        for field in _insert_fields(type(instance))
    ]


def insert_column_params(model: type[Model], instances: Sequence[Model]) -> list[list[Any]]:
    """One list of values per column for `insert_unnest_sql(model)`."""
    rows = [insert_params(instance) for instance in instances]
    return (
        [list(column) for column in zip(*rows, strict=True)]
        if rows
        else [[] for _ in _insert_fields(model)]
    )


def mark_inserted(instance: Model) -> None:
    """Tell the ORM an instance written by one of these statements is now a saved row."""
    instance._state.adding = False
    instance._state.db = DEFAULT_DB_ALIAS
