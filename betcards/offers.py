"""What the Bet Card API shows of a card, served from a snapshot refreshed on change.

Implements contract.md § Bet Card API: "Operators poll these pages, so they are served from
a snapshot that is refreshed on change, not rebuilt per request", with an ETag that changes
whenever anything in the answer changes.

- Every change to what a card shows (odds, a blocked market, its status, a result, a team's
  name, its events...) gives the card a new `offer_version` (from a sequence) in the
  transaction that makes it
  (`offers_invalidate`): explicitly where a service writes with `update()` or in bulk, and
  through model signals for every `save()` and `delete()` (the admin's forms), so no path
  that changes a row can forget it.
- A card's answer is built once per version and operator time zone (the `operator_time_*`
  fields differ) and kept in `betcards_cardoffer` with its ETag (a hash of the body).
- A request reads the card and its kept answer in one query; the answer is rebuilt only
  when its version is not the card's. Each web process also keeps the answers it served in
  memory until a trigger's notification says the card's version changed
  (`jackpot.core.change_feed`): most polls read nothing from the database.
- The version is read before the rows an answer is built from, so an answer built while a
  change commits is stored under the old version and rebuilt by the next request: never
  served for the new one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from django.db import connection
from django.db.models import F, Min, Model, Prefetch, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.signals import post_delete, post_save

from betcards.models import (
    Bet,
    Betcard,
    BetcardEvent,
    BetcardStatus,
    BookmakerEvent,
    CardOffer,
    Event,
    Market,
    Team,
)
from betcards.sales import (
    CardSale,
    offered_to,
    on_sale_now,
    sales_close,
    sales_close_expression,
)
from jackpot.core import clock
from jackpot.core.change_feed import LocalCache
from jackpot.core.sql import named_rows, sql_names


@dataclass(frozen=True, slots=True)
class Offer:
    """A card's answer: the exact JSON body and its ETag."""

    code: str
    etag: str
    body: bytes


# ----------------------------------------------------------------------------- reading
# Raw SQL: one round trip for the card, its restriction and its kept answer, on the path
# operators poll (docs/performance.md § Bet Card API).
_OFFER_SQL = sql_names(
    "SELECT c.{c.id} AS card_id, c.{c.operator} AS operator_id,"
    " c.{c.offer_version} AS current, o.{o.version} AS version, o.{o.etag} AS etag,"
    " o.{o.body} AS body"
    " FROM {c} c LEFT JOIN {o} o ON o.{o.betcard} = c.{c.id} AND o.{o.timezone} = %(zone)s"
    " WHERE c.{c.code} = %(code)s AND c.{c.status} <> %(draft)s",
    c=Betcard,
    o=CardOffer,
)


@dataclass(frozen=True, slots=True)
class _Kept:
    offer: Offer
    operator_id: int | None  # the operator the card is restricted to
    card_id: int


_OFFERS: LocalCache[tuple[str, str], _Kept] = LocalCache("card")
"""Answers by (code, time zone) in this process's memory, dropped when the card's version
changes (a trigger's notification, jackpot.core.change_feed): a poll answered from here
reads nothing from the database."""


def offer_get(*, code: str, operator_id: int, zone: str) -> Offer | None:
    """The card's answer for an operator in `zone`; None when the card is unknown, a draft
    (not published yet) or not offered to the operator (the API answers all alike)."""
    kept = _OFFERS.get((code, zone))
    if kept is None:
        ticket = _OFFERS.ticket()
        kept = _offer_read(code, zone)
        if kept is None:
            return None
        _OFFERS.put((code, zone), kept, ticket=ticket, tag=str(kept.card_id))
    return kept.offer if kept.operator_id in (None, operator_id) else None


def _offer_read(code: str, zone: str) -> _Kept | None:
    """From the database: the kept answer if current, else a new one built and kept."""
    with connection.cursor() as cursor:
        cursor.execute(_OFFER_SQL, {"code": code, "zone": zone, "draft": BetcardStatus.DRAFT})
        rows = named_rows(cursor)
    if not rows:
        return None
    row = rows[0]
    if row.version == row.current:
        offer = Offer(code=code, etag=row.etag, body=row.body.encode())
    else:
        offer = _offer_build(row.card_id, code, version=row.current, zone=zone)
    return _Kept(offer=offer, operator_id=row.operator_id, card_id=row.card_id)


def offers_list(
    *, operator_id: int, zone: str, statuses: Sequence[str] = (), now: dt.datetime
) -> list[Offer]:
    """The cards offered to the operator, earliest first event first, then by code: those
    on sale now, or with `statuses` those in any of these statuses."""
    cards = Betcard.objects.filter(offered_to(operator_id)).annotate(
        sales_close=sales_close_expression(), first_start=Min("card_events__event__starts_at")
    )
    cards = cards.filter(status__in=statuses) if statuses else cards.filter(on_sale_now(now))
    rows = list(
        cards.order_by(F("first_start").asc(nulls_last=True), "code").values_list(
            "id", "code", "offer_version"
        )
    )
    kept = {
        offer.betcard_id: offer
        for offer in CardOffer.objects.filter(
            betcard_id__in=[card_id for card_id, _code, _version in rows], timezone=zone
        )
    }
    offers = []
    for card_id, code, version in rows:
        offer = kept.get(card_id)
        if offer is not None and offer.version == version:
            offers.append(Offer(code=code, etag=offer.etag, body=offer.body.encode()))
        else:
            offers.append(_offer_build(card_id, code, version=version, zone=zone))
    return offers


def list_etag(offers: Iterable[Offer]) -> str:
    """The ETag of a list of answers: changes when any of them, or the list, changes."""
    digest = hashlib.sha256()
    for offer in offers:
        digest.update(offer.etag.encode())
    return f'"{digest.hexdigest()[:32]}"'


# ----------------------------------------------------------------------------- building
_STORE_SQL = sql_names(
    "INSERT INTO {o} ({o.betcard}, {o.timezone}, {o.version}, {o.etag}, {o.body}, {o.built_at})"
    " VALUES (%(card)s, %(zone)s, %(version)s, %(etag)s, %(body)s, %(now)s)"
    " ON CONFLICT ({o.betcard}, {o.timezone}) DO UPDATE SET {o.version} = EXCLUDED.{o.version},"
    " {o.etag} = EXCLUDED.{o.etag}, {o.body} = EXCLUDED.{o.body},"
    " {o.built_at} = EXCLUDED.{o.built_at}"
    " WHERE {o}.{o.version} < EXCLUDED.{o.version}",
    o=CardOffer,
)


def _offer_build(card_id: int, code: str, *, version: int, zone: str) -> Offer:
    """Build the answer of `version` (read before its rows), keep it unless a newer one is
    kept already, and return it."""
    body = orjson.dumps(card_document(card_id, zone=zone))
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    with connection.cursor() as cursor:
        cursor.execute(
            _STORE_SQL,
            {
                "card": card_id,
                "zone": zone,
                "version": version,
                "etag": etag,
                "body": body.decode(),
                "now": clock.now(),
            },
        )
    return Offer(code=code, etag=etag, body=body)


def card_document(card_id: int, *, zone: str) -> dict[str, Any]:
    """The card as contract.md § Bet Card API lists it (4 queries): its fields, then its
    events in card order with their teams, markets by id with their result and their bets
    by id with the current odds; times in UTC and in `zone`."""
    card = Betcard.objects.get(pk=card_id)
    entries = list(
        BetcardEvent.objects.filter(betcard_id=card_id)
        .select_related("event__home_team", "event__away_team")
        .prefetch_related(
            Prefetch(
                "event__markets",
                queryset=Market.objects.order_by("id").prefetch_related(
                    Prefetch("bets", queryset=Bet.objects.order_by("id"))
                ),
            )
        )
        .order_by("position")
    )
    events = [entry.event for entry in entries]
    closes = sales_close(CardSale.of(card, (event.starts_at for event in events)))
    return {
        "code": card.code,
        "name": card.name,
        "status": card.status,
        "price": card.price,
        "currency": card.currency,
        "prize": card.prize,
        "bonus_prizes": card.bonus_prizes,
        "min_events": card.min_events if card.min_events is not None else len(events),
        **_moment("opens", card.opens_at, zone),
        **_moment("closes", closes, zone),
        "events": [_event(event, zone) for event in events],
    }


def _moment(name: str, moment: dt.datetime | None, zone: str) -> dict[str, str | None]:
    if moment is None:
        return {name: None, f"operator_time_{name}": None}
    return {
        name: clock.format_utc(moment),
        f"operator_time_{name}": clock.format_in_zone(moment, zone),
    }


def _event(event: Event, zone: str) -> dict[str, Any]:
    return {
        "id": event.id,
        **_moment("starts", event.starts_at, zone),
        "home_team": {"id": event.home_team_id, "name": event.home_team.name},
        "away_team": {"id": event.away_team_id, "name": event.away_team.name},
        "markets": [
            {
                "id": market.id,
                "name": market.name,
                "blocked": market.is_blocked,
                "result": _result(market),
                "bets": [
                    {"id": bet.id, "name": bet.name, "odds": odds_number(bet.odds)}
                    for bet in market.bets.all()
                ],
            }
            for market in event.markets.all()
        ],
    }


def _result(market: Market) -> dict[str, Any] | None:
    if market.is_void:
        return {"void": True}
    if market.winning_bet_id is not None:
        return {"winning_bet": market.winning_bet_id}
    return None


def odds_number(odds: Decimal) -> orjson.Fragment:
    """Odds as an exact JSON number without trailing zeros (2.550 → 2.55)."""
    return orjson.Fragment(format(odds.normalize(), "f"))


# ----------------------------------------------------------------------------- invalidation
def offers_invalidate(
    *,
    betcard_ids: Iterable[int] = (),
    event_ids: Iterable[int] = (),
    market_ids: Iterable[int] = (),
    bet_ids: Iterable[int] = (),
    team_ids: Iterable[int] = (),
) -> int:
    """Make the kept answers of every card these rows show stale (a new `offer_version`);
    returns how many cards. Runs in the caller's transaction: the bump commits with the
    change, or not at all.

    The cards are found with one small index lookup per kind of row (a UNION), then
    updated by id. A single UPDATE over the join of cards, events, markets and bets OR-ed
    together was planned, on tables whose statistics lag (fresh ones, right after a load),
    as a large join: PostgreSQL's JIT then compiled it for 0.2-0.8 s a statement."""
    events_of: list[QuerySet[Any]] = []
    if event_ids := list(event_ids):
        events_of.append(Event.objects.filter(pk__in=event_ids).values("pk"))
    if market_ids := list(market_ids):
        events_of.append(Market.objects.filter(pk__in=market_ids).values("event_id"))
    if bet_ids := list(bet_ids):
        events_of.append(Bet.objects.filter(pk__in=bet_ids).values("market__event_id"))
    if team_ids := list(team_ids):
        events_of.append(Event.objects.filter(home_team_id__in=team_ids).values("pk"))
        events_of.append(Event.objects.filter(away_team_id__in=team_ids).values("pk"))
    cards = set(betcard_ids)
    if events_of:
        cards.update(
            BetcardEvent.objects.filter(
                event_id__in=events_of[0].union(*events_of[1:], all=True)
            ).values_list("betcard_id", flat=True)
        )
    if not cards:
        return 0
    return Betcard.objects.filter(pk__in=sorted(cards)).update(offer_version=_NEXT_VERSION)


# A fresh number per bump, never reused: a save() of a Betcard loaded earlier writes its old
# version back, and the bump that follows it (post_save) must still differ from every kept
# answer's version; `+ 1` would land on the version kept before.
_NEXT_VERSION = RawSQL("nextval('betcards_offer_version_seq')", ())


_SCOPES: dict[type[Model], tuple[str, str]] = {
    Betcard: ("betcard_ids", "pk"),
    BetcardEvent: ("betcard_ids", "betcard_id"),
    Team: ("team_ids", "pk"),
    Event: ("event_ids", "pk"),
    BookmakerEvent: ("event_ids", "event_id"),
    Market: ("event_ids", "event_id"),
    Bet: ("market_ids", "market_id"),
}
"""Per model: which argument of `offers_invalidate` a saved or deleted row is, by which of
its fields."""


def _on_change(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    argument, field = _SCOPES[type(instance)]
    offers_invalidate(**{argument: [getattr(instance, field)]})


def invalidation_connect() -> None:
    """Every save and delete of a row a card shows makes its answers stale (AppConfig)."""
    for model in _SCOPES:
        post_save.connect(_on_change, sender=model, dispatch_uid=f"offers-{model.__name__}")
        post_delete.connect(_on_change, sender=model, dispatch_uid=f"offers-del-{model.__name__}")
