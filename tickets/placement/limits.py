"""Responsible-gambling limits per player (contract.md § Limits).

- Tickets per player per card (`max_tickets_per_player`): the `reserved` and `open` tickets
  of one `token` on one card; one more above it is refused, 400 code 130.
- Spend per player per day (`max_daily_spend`): the `price` of the player's tickets not
  `cancelled`, created on the operator's local calendar day; a ticket that would take it
  above is refused, 400 code 131.

Checked after 110 and before 111 (the checks of the write itself), reservations included.
Concurrent requests of one player never overshoot a limit together: a placement of an
operator with limits runs in a transaction that first takes an advisory lock on the player
(`pg_advisory_xact_lock` of a hash of operator and token: other players never wait, save
for a hash collision) and then reads the player's counters (`player_counters`), so they
count every ticket committed before the lock was granted; the checks are then plain
functions of those counters (`check_player_limits`), and the ticket is written before the
lock is released. An operator without limits pays nothing: its placements keep the
one-statement write.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection

from jackpot.core import clock
from jackpot.core.errors import PlayerSpendLimit, PlayerTicketLimit
from jackpot.core.sql import named_rows, sql_names
from operators.models import Operator
from tickets.models import Ticket, TicketStatus
from tickets.placement.order import TicketOrder

COUNTED_STATUSES = [TicketStatus.RESERVED, TicketStatus.OPEN]  # toward the ticket limit


@dataclass(frozen=True, kw_only=True, slots=True)
class PlayerLimits:
    """The limits that apply to one placement, and what it adds."""

    operator_id: int
    token: str
    betcard_id: int
    betcard_code: str
    price: int
    max_tickets: int | None
    max_daily_spend: int | None
    day_start: dt.datetime  # the operator's local calendar day, as UTC instants
    day_end: dt.datetime

    @classmethod
    def of(
        cls, operator: Operator, order: TicketOrder, *, betcard_id: int, now: dt.datetime
    ) -> PlayerLimits | None:
        """The limits of this placement; None when the operator sets none."""
        if operator.max_tickets_per_player is None and operator.max_daily_spend is None:
            return None
        day_start, day_end = clock.local_day(now, operator.timezone)
        return cls(
            operator_id=operator.pk,
            token=order.token,
            betcard_id=betcard_id,
            betcard_code=order.betcard_code,
            price=order.price,
            max_tickets=operator.max_tickets_per_player,
            max_daily_spend=operator.max_daily_spend,
            day_start=day_start,
            day_end=day_end,
        )

    def params(self) -> dict[str, Any]:
        return {
            "limit_operator": self.operator_id,
            "limit_token": self.token,
            "limit_card": self.betcard_id,
            "limit_statuses": COUNTED_STATUSES,
            "limit_cancelled": TicketStatus.CANCELLED,
            "limit_day_start": self.day_start,
            "limit_day_end": self.day_end,
            "limit_price": self.price,
            "limit_max_tickets": self.max_tickets,
            "limit_max_spend": self.max_daily_spend,
        }


PLAYER_TOTALS_SQL = sql_names(
    "SELECT"
    " (SELECT count(*) FROM {t} t WHERE t.{t.operator} = %(limit_operator)s"
    "  AND t.{t.token} = %(limit_token)s AND t.{t.betcard} = %(limit_card)s"
    "  AND t.{t.status} = ANY(%(limit_statuses)s)) AS tickets,"
    " (SELECT coalesce(sum(t.{t.price}), 0) FROM {t} t WHERE t.{t.operator} = %(limit_operator)s"
    "  AND t.{t.token} = %(limit_token)s AND t.{t.status} <> %(limit_cancelled)s"
    "  AND t.{t.created_at} >= %(limit_day_start)s AND t.{t.created_at} < %(limit_day_end)s)"
    " AS spent",
    t=Ticket,
)
"""The player's tickets on the card that count, and today's spend."""


@dataclass(frozen=True, slots=True)
class PlayerCounters:
    """What the player has, as the limits count it: tickets on the card, spend today."""

    tickets: int
    spent: int


def player_counters(limits: PlayerLimits) -> PlayerCounters:
    """Wait for this player's other placements to commit (the lock lasts until this
    transaction ends), then count what the limits count."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, %s))",
            [limits.token, limits.operator_id],
        )
        cursor.execute(PLAYER_TOTALS_SQL, limits.params())
        [totals] = named_rows(cursor)
    return PlayerCounters(tickets=totals.tickets, spent=totals.spent)


def check_player_limits(limits: PlayerLimits, counters: PlayerCounters) -> None:
    """130, then 131: one more ticket at the order's price would break a limit."""
    if limits.max_tickets is not None and counters.tickets >= limits.max_tickets:
        raise PlayerTicketLimit(
            token=limits.token, limit=limits.max_tickets, betcard_code=limits.betcard_code
        )
    if (
        limits.max_daily_spend is not None
        and counters.spent + limits.price > limits.max_daily_spend
    ):
        raise PlayerSpendLimit(token=limits.token, limit=limits.max_daily_spend)
