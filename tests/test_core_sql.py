"""jackpot.core.sql: ORM-compiled SQL reused with other parameter values."""

from __future__ import annotations

import pytest
from django.db import connection

from betcards.models import Team
from jackpot.core.sql import (
    insert_column_params,
    insert_params,
    insert_unnest_sql,
    insert_values_sql,
    mark_inserted,
    queryset_sql,
)
from operators.models import Operator
from tests.factories import OperatorFactory

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


def test_parameters_other_than_the_placeholders_are_refused():
    with pytest.raises(ValueError, match="expected parameters"):
        queryset_sql(Operator.objects.filter(name="a", timezone="UTC"), params=("a",))


def test_one_row_insert_writes_what_save_would_write():
    # given
    team = Team(id=501, name="Insert FC", is_active=False)

    # when
    with connection.cursor() as cursor:
        cursor.execute(insert_values_sql(Team), insert_params(team))
    mark_inserted(team)

    # then
    assert Team.objects.filter(pk=501).values_list("name", "is_active").get() == (
        "Insert FC",
        False,
    )
    assert team._state.adding is False


def test_unnest_insert_writes_many_rows_with_one_parameter_per_column():
    # given
    teams = [Team(id=600 + n, name=f"Team {n}") for n in range(3)]

    # when
    with connection.cursor() as cursor:
        cursor.execute(insert_unnest_sql(Team), insert_column_params(Team, teams))

    # then
    assert list(Team.objects.filter(pk__gte=600).order_by("pk").values_list("pk", "name")) == [
        (600, "Team 0"),
        (601, "Team 1"),
        (602, "Team 2"),
    ]


def test_a_database_generated_primary_key_is_left_to_the_database():
    assert '"id"' not in insert_values_sql(Operator)
    assert '"id"' in insert_values_sql(Team)
