"""Paging for tables with millions of rows: no COUNT(*) over the whole table per page load.

Unfiltered, the count is PostgreSQL's own estimate (`pg_class.reltuples`, kept fresh by
autovacuum); filtered, rows are counted only up to a cap, so a broad filter costs at most a
cap's worth of index reads. Small tables are counted exactly. The pagination template says
"about N" or "more than N" when the count is not exact.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet

COUNT_CAP = 10_000

if TYPE_CHECKING:
    PaginatorBase = Paginator[Any]
else:
    PaginatorBase = Paginator


class EstimatedCountPaginator(PaginatorBase):
    count_cap = COUNT_CAP
    count_is_estimate = False
    count_is_capped = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        if not queryset.query.where:
            estimate = table_row_estimate(queryset.model._meta.db_table)
            if estimate > self.count_cap:
                self.count_is_estimate = True
                return estimate
        capped = queryset.order_by()[: self.count_cap + 1].count()
        if capped > self.count_cap:
            self.count_is_capped = True
            return self.count_cap
        return capped


def table_row_estimate(table: str) -> int:
    """PostgreSQL's row estimate for `table`; -1 before the table was ever analysed."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [table]
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else -1
