"""jackpot.core.sql: ORM-compiled SQL reused with other parameter values."""

from __future__ import annotations

import pytest
from django.db import connection

from jackpot.core.sql import queryset_sql
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
