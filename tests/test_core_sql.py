"""jackpot.core.sql: names from model metadata, rows by name, ORM-compiled SQL reused with
other parameter values, inserts as save() would write them."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from betcards.models import Team
from jackpot.core.sql import (
    array_literal,
    execute_fetchone,
    insert_column_values,
    insert_params,
    insert_select_sql,
    insert_unnest_sql,
    named_rows,
    queryset_sql,
    sql_names,
)
from operators.models import Operator
from tests.factories import OperatorFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_compiled_sql_returns_what_the_queryset_returns_for_other_values():
    # given
    wanted = OperatorFactory(name="wanted")
    OperatorFactory(name="other")
    sql = queryset_sql(Operator.objects.filter(name="").values_list("pk", "name"), params=("",))

    # when
    with connection.cursor() as cursor:
        cursor.execute(sql, ["wanted"])
        rows = cursor.fetchall()

    # then
    assert rows == [(wanted.pk, "wanted")]
    assert rows == list(Operator.objects.filter(name="wanted").values_list("pk", "name"))


def test_sql_names_fill_in_quoted_table_and_column_names_and_fragments():
    sql = sql_names(
        "SELECT t.{t.is_active} FROM {t} t WHERE {condition}",
        t=Team,
        condition="t.{t.name} = %s",
    )

    assert sql == 'SELECT t."is_active" FROM "betcards_team" t WHERE t."name" = %s'


def test_sql_names_refuse_an_unknown_field():
    from django.core.exceptions import FieldDoesNotExist

    with pytest.raises(FieldDoesNotExist):
        sql_names("SELECT t.{t.nickname} FROM {t} t", t=Team)


def test_rows_are_read_by_column_name():
    OperatorFactory(name="named")

    with connection.cursor() as cursor:
        cursor.execute("SELECT id, name AS operator_name FROM operators_operator")
        [row] = named_rows(cursor)

    assert row.operator_name == "named"
    assert row._fields == ("id", "operator_name")


def test_parameters_other_than_the_placeholders_are_refused():
    with pytest.raises(ValueError, match="expected parameters"):
        queryset_sql(Operator.objects.filter(name="a", timezone="UTC"), params=("a",))


def test_one_row_insert_writes_what_save_would_write():
    # given
    team = Team(id=501, name="Insert FC", is_active=False)

    # when
    with connection.cursor() as cursor:
        cursor.execute(insert_select_sql(Team), insert_params(team))

    # then
    assert Team.objects.filter(pk=501).values_list("name", "is_active").get() == (
        "Insert FC",
        False,
    )


def test_unnest_insert_writes_many_rows_with_one_parameter_per_column():
    # given
    columns = insert_column_values(
        Team, 3, id=[600, 601, 602], name=["Team 0", "Team 1", "Team 2"], is_active=[True] * 3
    )

    # when
    with connection.cursor() as cursor:
        cursor.execute(insert_unnest_sql(Team), columns)

    # then
    assert list(Team.objects.filter(pk__gte=600).order_by("pk").values_list("pk", "name")) == [
        (600, "Team 0"),
        (601, "Team 1"),
        (602, "Team 2"),
    ]


def test_a_database_generated_primary_key_is_left_to_the_database():
    assert '"id"' not in insert_select_sql(Operator)
    assert '"id"' in insert_select_sql(Team)


def test_one_row_insert_with_a_false_condition_writes_nothing():
    # given
    team = Team(id=502, name="Not Written FC")

    # when
    with connection.cursor() as cursor:
        cursor.execute(
            f"{insert_select_sql(Team)} WHERE %s RETURNING 1", [*insert_params(team), False]
        )
        written = cursor.fetchall()

    # then
    assert written == []
    assert not Team.objects.filter(pk=502).exists()


def test_a_value_too_long_for_its_column_fails_instead_of_being_cut():
    # given a name longer than the column's varchar(200): the casts carry no length
    team = Team(id=503, name="x" * 201)

    # when / then
    with pytest.raises(DataError), connection.cursor() as cursor:
        cursor.execute(insert_select_sql(Team), insert_params(team))


def test_column_values_fill_every_column_not_given_with_its_default():
    # given is_active left out: its default (True) fills it
    columns = insert_column_values(Team, 2, id=[700, 701], name=["Seven", "Seven-One"])

    # when
    with connection.cursor() as cursor:
        cursor.execute(insert_unnest_sql(Team), columns)

    # then
    assert list(Team.objects.filter(pk__gte=700).order_by("pk").values_list()) == [
        (700, "Seven", True),
        (701, "Seven-One", True),
    ]


@pytest.mark.parametrize(
    ("columns", "error"),
    [
        ({"id": [1]}, "Team.name has no value and no default"),
        ({"id": [1], "name": ["x"], "colour": ["red"]}, "Team has no columns ['colour']"),
        ({"id": [1, 2], "name": ["x"]}, "name: 1 values for 2 rows"),
    ],
    ids=["missing", "unknown", "short"],
)
def test_column_values_refuse_missing_unknown_or_short_columns(columns, error):
    with pytest.raises((TypeError, ValueError), match=re.escape(error)):
        insert_column_values(Team, len(columns["id"]), **columns)


@pytest.mark.parametrize(
    ("values", "array_type"),
    [
        ([1, -2, 9_007_199_254_740_993, None], "bigint[]"),
        ([Decimal("1.85"), Decimal("0.10"), Decimal("1E+3"), None], "numeric[]"),
        ([True, False, None], "boolean[]"),
        (['say "hi"', "back\\slash", "a,b", "{braces}", "NULL", "", " padded ", "é"], "text[]"),
        ([], "text[]"),
    ],
    ids=["ints", "decimals", "bools", "awkward strings", "empty"],
)
def test_an_array_literal_reads_back_as_the_values_it_was_made_of(values, array_type):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (%s)::{array_type}", [array_literal(values)])
        (read,) = cursor.fetchone()

    assert read == values


def test_an_array_of_other_values_is_left_to_psycopg():
    values = [dt.date(2026, 12, 4)]

    assert array_literal(values) is values


def test_a_statement_with_numbered_placeholders_returns_its_row_and_keeps_literal_percents():
    sql = "SELECT %s::int + %s::int, 'ab%%' LIKE 'a%%', %s::text"

    assert execute_fetchone(sql, [2, 3, "x"]) == (5, True, "x")


def test_a_numbered_statement_logged_by_django_runs_the_same_and_shows_its_values():
    # given Django logging queries (as with DEBUG): the statement runs on Django's cursor
    sql = "SELECT %s::int * 2"

    # when
    with CaptureQueriesContext(connection) as captured:
        row = execute_fetchone(sql, [21])

    # then
    assert row == (42,)
    assert captured.captured_queries[-1]["sql"] == "SELECT 21::int * 2"


def test_a_numbered_statement_fails_with_djangos_errors():
    # given
    TeamFactory(id=800)

    # when / then: the raw cursor's psycopg error reaches the caller as Django's
    with pytest.raises(IntegrityError), transaction.atomic():
        execute_fetchone(insert_select_sql(Team), insert_params(Team(id=800, name="Twice")))


def test_named_placeholders_cannot_be_numbered():
    with pytest.raises(ValueError, match="only %s placeholders"):
        execute_fetchone("SELECT %(name)s", [1])
