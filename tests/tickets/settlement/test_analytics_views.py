"""Analyst views in Postgres: sales and excise, payouts and WHT, tickets per source."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from tests.factories import BetcardFactory, OperatorFactory, TicketFactory
from tests.tickets.settlement.conftest import AWAY, card_event_ids, picks, results_enter
from tickets.models import TicketStatus
from tickets.settlement.rounds import betcard_settle

pytestmark = pytest.mark.django_db

VIEWS = (
    "analytics_sales_per_operator_day",
    "analytics_payouts_per_betcard",
    "analytics_tickets_per_source",
)


def rows(sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return list(cursor.fetchall())


@pytest.mark.parametrize("view", VIEWS)
def test_the_view_and_every_column_carry_a_comment(view):
    (view_comment,) = rows("SELECT obj_description(%s::regclass, 'pg_class')", [view])[0]
    columns = rows(
        "SELECT a.attname, col_description(a.attrelid, a.attnum) FROM pg_attribute a "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 ORDER BY a.attnum",
        [view],
    )

    assert view_comment
    assert len(columns) >= 9
    assert [name for name, comment in columns if not comment] == []


def test_sales_are_counted_on_the_operator_s_local_day_without_cancelled_tickets():
    # given: 22:30 UTC on 1 January is 01:30 on 2 January in Nairobi (UTC+3)
    nairobi = OperatorFactory(name="nairobi", timezone="Africa/Nairobi")
    card = BetcardFactory(events=1, price=500)
    late = dt.datetime(2026, 1, 1, 22, 30, tzinfo=dt.UTC)
    TicketFactory.create_batch(2, operator=nairobi, betcard=card, created_at=late)
    TicketFactory(operator=nairobi, betcard=card, created_at=late, status=TicketStatus.CANCELLED)

    # when
    sales = rows(
        "SELECT sales_day, currency, tickets_sold, tickets_cancelled, sales_amount, "
        "stake_amount, excise_amount FROM analytics_sales_per_operator_day "
        "WHERE operator_name = 'nairobi'"
    )

    # then: price 500 = stake 444 + excise 56 per ticket
    assert sales == [(dt.date(2026, 1, 2), "USD", 2, 1, 1_000, 888, 112)]


def test_payouts_and_wht_per_betcard_after_settlement():
    card = BetcardFactory(events=2, code="VIEW01", prize=10_000, bonus_prizes=[2_000])
    first, second = card_event_ids(card)
    results_enter(card)
    operator = OperatorFactory(wht_percent=Decimal(10))
    TicketFactory.create_batch(3, operator=operator, betcard=card)
    TicketFactory(operator=operator, betcard=card, picks=picks(card, {first: AWAY, second: AWAY}))
    betcard_settle(betcard=card)

    (payouts,) = rows(
        "SELECT betcard_code, betcard_status, settlement_round, tickets_graded, tickets_won, "
        "prize_pool, gross_payout, wht_amount, net_payout, refunds, unpaid_remainder "
        "FROM analytics_payouts_per_betcard WHERE betcard_code = 'VIEW01'"
    )

    # 3 × 3333 = 9999 paid (remainder 1); nobody in the 2000 tier; WHT (3333−444)×10 % = 289
    assert payouts == ("VIEW01", "settled", 1, 4, 3, 12_000, 9_999, 867, 9_132, 0, 2_001)


def test_tickets_per_source_and_operator():
    operator = OperatorFactory(name="src-op")
    card = BetcardFactory(events=1)
    TicketFactory.create_batch(2, operator=operator, betcard=card, source="ussd")
    TicketFactory(operator=operator, betcard=card, source="mobile", status=TicketStatus.CANCELLED)

    per_source = rows(
        "SELECT source, tickets, tickets_open, tickets_cancelled, sales_amount "
        "FROM analytics_tickets_per_source WHERE operator_name = 'src-op' ORDER BY source"
    )

    assert per_source == [("mobile", 1, 0, 1, 0), ("ussd", 2, 2, 0, 1_000)]
