"""What ticket placement reads from the catalogue, as frozen snapshots (contract.md § POST
/be/tickets, business checks).

Placement fetches once and decides purely: `betcard_snapshot_for_placement` gives the card
with its events, their teams and bookmaker events, and the bets of those events with their
markets. The checks in `tickets.placement` then run on these dataclasses without touching
the database.

The snapshot comes from this process's memory when it can (`LocalCache`, as the Bet Card
API's answers: dropped when the card's `offer_version` moves, which every change to what
the card shows does, betcards.offers), else from 1 query whatever the number of events. It
is as fresh as the last change notified to this process; a placement that races a change
to a card, its events or teams may see the card from just before the change, as it could
when each placement read it without a lock.

What keeps bets and markets exact is the write: `BETS_UNCHANGED_SQL` locks the chosen bets
and markets `FOR SHARE` inside the very statement that inserts the ticket, which inserts
only if they still hold the values the checks passed on (else the placement re-reads them
with `bets_for_placement` and checks again). A snapshot a notification has not yet
reached is caught there like any other read made before a change.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection

from betcards.models import Bet, Betcard, Market
from jackpot.core.change_feed import LocalCache
from jackpot.core.sql import array_literal, named_rows, queryset_sql, sql_names


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
    bets: Mapping[int, BetSnapshot]
    """Bets of the card's events by id, read without a lock: all of them in a kept snapshot,
    else those requested."""

    @property
    def required_events(self) -> int:
        """Fewest events a ticket must pick: `min_events`, or every event when it is null."""
        return len(self.events) if self.min_events is None else self.min_events

    @property
    def first_start(self) -> dt.datetime | None:
        """The first kick-off among the card's events (betcards.sales: when sales stop)."""
        return min((event.starts_at for event in self.events.values()), default=None)


@dataclass(frozen=True, slots=True)
class BetSnapshot:
    id: int
    odds: Decimal
    market_id: int
    event_id: int
    market_blocked: bool


_CARD_FIELDS = {
    "id": "id",
    "operator_id": "operator_id",
    "status": "status",
    "currency": "currency",
    "price": "price",
    "prize": "prize",
    "bonus_prizes": "bonus_prizes",
    "min_events": "min_events",
    "opens_at": "opens_at",
    "closes_at": "closes_at",
    "event_id": "card_events__event_id",
    "starts_at": "card_events__event__starts_at",
    "home_team_id": "card_events__event__home_team_id",
    "home_team_active": "card_events__event__home_team__is_active",
    "away_team_id": "card_events__event__away_team_id",
    "away_team_active": "card_events__event__away_team__is_active",
    "bookmaker_event_id": "card_events__event__bookmaker_event__id",
    "position": "card_events__position",
}
"""Column name in the read → the ORM lookup it comes from."""
_BET_COLUMNS = ("bet_id", "odds", "market_id", "bet_event_id", "market_blocked")


@functools.cache
def _card_sql(*, every_bet: bool) -> str:
    """The card, its events and their bets (every bet, or those of the ids given), compiled
    once per process (jackpot.core.sql). Parameters: the card's code, then (unless
    `every_bet`) the bet ids."""
    card = queryset_sql(
        Betcard.objects.filter(code="").order_by().values_list(*_CARD_FIELDS.values()),
        params=("",),
    )
    bets = _BETS_FROM if every_bet else _BETS_SQL
    # The ORM's select list repeats names such as "id": the read names its columns itself.
    return (
        f"SELECT card.*, chosen.* FROM ({card}) AS card({', '.join(_CARD_FIELDS)})"  # noqa: S608 - no values
        f" LEFT JOIN ({bets}) AS chosen({', '.join(_BET_COLUMNS)})"
        " ON chosen.bet_event_id = card.event_id"
        " ORDER BY card.position"
    )


_CARDS: LocalCache[str, BetcardSnapshot] = LocalCache("card")
"""Placement's snapshots by card code, with every bet of the card's events, in this
process's memory until the card's version changes (jackpot.core.change_feed)."""


def betcard_snapshot_for_placement(
    code: str, bet_ids: Collection[int] = ()
) -> BetcardSnapshot | None:
    """The betcard with this code, its events and (at least) those of `bet_ids` that are
    bets of its events, or None; no lock.

    From this process's cache (no query), else 1 query: with every bet of the card's events
    when the result can be kept, else only the bets of `bet_ids` (caches off).
    """
    card = _CARDS.get(code)
    if card is not None:
        return card
    ticket = _CARDS.ticket()
    card = _card_read(code, bet_ids if ticket is None else None)
    if card is not None:
        _CARDS.put(code, card, ticket=ticket, tag=str(card.id))
    return card


def _card_read(code: str, bet_ids: Collection[int] | None) -> BetcardSnapshot | None:
    """The card with every bet of its events (`bet_ids` None), or only these bets.

    One row per card event and bet of it (LEFT JOINs: a card without events gives one row
    of nulls), each carrying the card's own columns.
    """
    with connection.cursor() as cursor:
        if bet_ids is None:
            cursor.execute(_card_sql(every_bet=True), [code])
        else:
            cursor.execute(_card_sql(every_bet=False), [code, list(bet_ids)])
        rows = named_rows(cursor)
    if not rows:
        return None
    card = rows[0]
    return BetcardSnapshot(
        id=card.id,
        code=code,
        operator_id=card.operator_id,
        status=card.status,
        currency=card.currency,
        price=card.price,
        prize=card.prize,
        bonus_prizes=tuple(card.bonus_prizes),
        min_events=card.min_events,
        opens_at=card.opens_at,
        closes_at=card.closes_at,
        events={row.event_id: _event(row) for row in rows if row.event_id is not None},
        bets={row.bet_id: _bet(row) for row in rows if row.bet_id is not None},
    )


def _event(row: Any) -> EventSnapshot:
    return EventSnapshot(
        id=row.event_id,
        starts_at=row.starts_at,
        home_team_id=row.home_team_id,
        home_team_active=row.home_team_active,
        away_team_id=row.away_team_id,
        away_team_active=row.away_team_active,
        has_bookmaker_event=row.bookmaker_event_id is not None,
    )


def _bet(row: Any) -> BetSnapshot:
    return BetSnapshot(
        id=row.bet_id,
        odds=row.odds,
        market_id=row.market_id,
        event_id=row.bet_event_id,
        market_blocked=row.market_blocked,
    )


# Django has no FOR SHARE (only FOR [NO KEY] UPDATE, which would make concurrent placements
# on one card queue behind each other), hence raw SQL for the locking read.
_BETS_FROM = sql_names(
    "SELECT b.{b.id} AS bet_id, b.{b.odds} AS odds, m.{m.id} AS market_id,"
    " m.{m.event} AS event_id, m.{m.is_blocked} AS market_blocked"
    " FROM {b} b JOIN {m} m ON m.{m.id} = b.{b.market}",
    b=Bet,
    m=Market,
)
_BETS_SQL = sql_names("{bets} WHERE b.{b.id} = ANY(%s::bigint[])", bets=_BETS_FROM, b=Bet)
_BETS_LOCKED_SQL = _BETS_SQL + " FOR SHARE OF b, m"


def bets_for_placement(bet_ids: Collection[int]) -> dict[int, BetSnapshot]:
    """The bets with these ids and their markets, locked (1 query, inside a transaction);
    unknown ids are absent.

    The bet and market rows are read `FOR SHARE`: placements share the lock, while
    blocking a market or changing odds (an UPDATE, which needs the row lock) waits for the
    placement to commit, and a placement that starts after such an UPDATE waits for it and
    then sees the new values. So no ticket can pass the 109/110 checks on values that a
    concurrent change already replaced.
    """
    with connection.cursor() as cursor:
        cursor.execute(_BETS_LOCKED_SQL, [list(bet_ids)])
        rows = named_rows(cursor)
    return {
        row.bet_id: BetSnapshot(
            id=row.bet_id,
            odds=row.odds,
            market_id=row.market_id,
            event_id=row.event_id,
            market_blocked=row.market_blocked,
        )
        for row in rows
    }


# The check-and-lock half of a placement's single write statement (tickets.placement).
BETS_UNCHANGED_SQL = sql_names(
    "bets_locked(id, odds, market_id, event_id, market_blocked) AS ({bets_locked}),"
    " bets_unchanged AS ("
    "SELECT count(*) = %s AS yes FROM bets_locked AS locked"
    " JOIN UNNEST(%s::bigint[], %s::numeric[], %s::bigint[]) AS seen(id, odds, event_id)"
    " ON (locked.id, locked.odds, locked.event_id) = (seen.id, seen.odds, seen.event_id)"
    " AND NOT locked.market_blocked)",
    bets_locked=_BETS_LOCKED_SQL,
)
"""Two CTEs for a statement that must write only while the given bets are as they were read
(for placement: each still exists with the same odds and event, its market not blocked):
`bets_locked` takes the same `FOR SHARE` locks as `bets_for_placement` and so
sees the latest committed values, even after waiting for a concurrent change; the one row
of `bets_unchanged` says whether every bet matched (`WHERE (SELECT yes FROM
bets_unchanged)`). The locks last until that statement's transaction ends, so nothing can
change the bets between the check and the commit. Parameters: `bets_unchanged_params`."""


def bets_unchanged_params(bets: Collection[BetSnapshot]) -> list[Any]:
    """The parameters of BETS_UNCHANGED_SQL for these bets (distinct, each as read)."""
    ids = array_literal([bet.id for bet in bets])
    return [
        ids,
        len(bets),
        ids,
        array_literal([bet.odds for bet in bets]),
        array_literal([bet.event_id for bet in bets]),
    ]
