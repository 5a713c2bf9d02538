"""What ticket placement reads from the catalogue, as frozen snapshots (contract.md § POST
/be/tickets, business checks).

Placement fetches once and decides purely: `betcard_snapshot_for_placement` loads the card
with its events, their teams and bookmaker events in 1 query; `bets_for_placement` loads
the chosen bets with their markets in 1 query, whatever the number of events. The checks in
`tickets.placement` then run on these dataclasses without touching the database.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from betcards.models import Bet, Betcard, Market
from jackpot.core.sql import queryset_sql


@dataclass(frozen=True, slots=True)
class EventSnapshot:
    id: int
    starts_at: dt.datetime
    home_team_id: int
    home_team_active: bool
    away_team_id: int
    away_team_active: bool
    has_bookmaker_event: bool

    @property
    def disabled_team_id(self) -> int | None:
        """The first of home/away that is disabled (code 105), else None."""
        if not self.home_team_active:
            return self.home_team_id
        if not self.away_team_active:
            return self.away_team_id
        return None


@dataclass(frozen=True, slots=True)
class BetcardSnapshot:
    id: int
    code: str
    operator_id: int | None
    status: str
    currency: str
    price: int
    prize: int
    bonus_prizes: tuple[int, ...]
    min_events: int | None
    opens_at: dt.datetime
    closes_at: dt.datetime | None
    events: Mapping[int, EventSnapshot]
    """The card's events by id, in card order."""

    @property
    def required_events(self) -> int:
        """Fewest events a ticket must pick: `min_events`, or every event when it is null."""
        return len(self.events) if self.min_events is None else self.min_events


@dataclass(frozen=True, slots=True)
class BetSnapshot:
    id: int
    odds: Decimal
    market_id: int
    event_id: int
    market_blocked: bool


_CARD_FIELDS = (
    "id",
    "operator_id",
    "status",
    "currency",
    "price",
    "prize",
    "bonus_prizes",
    "min_events",
    "opens_at",
    "closes_at",
)
_EVENT_FIELDS = (
    "card_events__event_id",
    "card_events__event__starts_at",
    "card_events__event__home_team_id",
    "card_events__event__home_team__is_active",
    "card_events__event__away_team_id",
    "card_events__event__away_team__is_active",
    "card_events__event__bookmaker_event__id",
)


@functools.cache
def _card_sql() -> str:
    """The card-and-events query below, compiled once per process (jackpot.core.sql)."""
    return queryset_sql(
        Betcard.objects.filter(code="")
        .order_by("card_events__position")
        .values_list(*_CARD_FIELDS, *_EVENT_FIELDS),
        params=("",),
    )


def betcard_snapshot_for_placement(code: str) -> BetcardSnapshot | None:
    """The betcard with this code and its events, or None (1 query).

    One row per card event (LEFT JOINs: a card without events gives one row of nulls),
    each carrying the card's own columns.
    """
    with connection.cursor() as cursor:
        cursor.execute(_card_sql(), [code])
        rows = cursor.fetchall()
    if not rows:
        return None
    card = rows[0]
    events = {
        row[10]: EventSnapshot(
            id=row[10],
            starts_at=row[11],
            home_team_id=row[12],
            home_team_active=row[13],
            away_team_id=row[14],
            away_team_active=row[15],
            has_bookmaker_event=row[16] is not None,
        )
        for row in rows
        if row[10] is not None
    }
    return BetcardSnapshot(
        id=card[0],
        code=code,
        operator_id=card[1],
        status=card[2],
        currency=card[3],
        price=card[4],
        prize=card[5],
        bonus_prizes=tuple(card[6]),
        min_events=card[7],
        opens_at=card[8],
        closes_at=card[9],
        events=events,
    )


# Django has no FOR SHARE (only FOR [NO KEY] UPDATE, which would make concurrent placements
# on one card queue behind each other), hence raw SQL for the locking read.
_BETS_SQL = (
    f"SELECT b.id, b.odds, m.id, m.event_id, m.is_blocked "  # noqa: S608 - table names only
    f"FROM {Bet._meta.db_table} b JOIN {Market._meta.db_table} m ON m.id = b.market_id "
    f"WHERE b.id = ANY(%s::bigint[])"
)


def bets_for_placement(bet_ids: Collection[int], *, lock: bool) -> dict[int, BetSnapshot]:
    """The bets with these ids and their markets (1 query); unknown ids are absent.

    With `lock=True` (only inside a transaction) the bet and market rows are read
    `FOR SHARE`: placements share the lock, while blocking a market or changing odds (an
    UPDATE, which needs the row lock) waits for the placement to commit, and a placement
    that starts after such an UPDATE waits for it and then sees the new values. So no ticket
    can pass the 109/110 checks on values that a concurrent change already replaced.
    """
    sql = _BETS_SQL + (" FOR SHARE OF b, m" if lock else "")
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(bet_ids)])
        rows = cursor.fetchall()
    return {
        row[0]: BetSnapshot(
            id=row[0], odds=row[1], market_id=row[2], event_id=row[3], market_blocked=row[4]
        )
        for row in rows
    }
