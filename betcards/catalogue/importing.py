"""Upserting the catalogue from one JSON document (operations.md § import_catalogue).

`catalogue_import(document)` reads and checks the whole document first
(`betcards/catalogue/reading.py`), then writes it in one transaction: rows are matched by id
(betcards by code), only rows that differ are written, so importing the same document twice
leaves the database exactly as it was. The import adds and updates; it never deletes teams,
events, markets or bets. It does delete an event's bookmaker event when the document gives
none, and replaces a betcard's event list when the document lists other events.

Imports run one at a time (a transaction lock): a second import waits for the first to
commit and then compares against what it wrote, instead of both inserting the same rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import models, transaction

from betcards.catalogue.entries import (
    BetcardEntry,
    Catalogue,
    CatalogueInvalid,
    EventEntry,
    MarketEntry,
)
from betcards.catalogue.reading import catalogue_read
from betcards.models import (
    Bet,
    Betcard,
    BetcardEvent,
    BetcardStatus,
    BookmakerEvent,
    Event,
    Market,
    Team,
)
from betcards.offers import offers_invalidate
from betcards.results import market_result_set
from jackpot.core.sql import transaction_lock

__all__ = ["CatalogueInvalid", "ImportSummary", "KindCounts", "catalogue_import"]

_BATCH_SIZE = 1000
_M = TypeVar("_M", bound=models.Model)


@dataclass(frozen=True, kw_only=True)
class KindCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


@dataclass(frozen=True, kw_only=True)
class ImportSummary:
    teams: KindCounts
    events: KindCounts  # an event counts as updated when its bookmaker event changed too
    markets: KindCounts
    bets: KindCounts
    betcards: KindCounts  # a betcard counts as updated when its event list changed too
    results_changed: int

    def __str__(self) -> str:
        kinds = ("teams", "events", "markets", "bets", "betcards")
        parts = [f"{kind}: {getattr(self, kind)}" for kind in kinds]
        return "; ".join([*parts, f"results changed: {self.results_changed}"])


def catalogue_import(document: object) -> ImportSummary:
    """Check the whole document, then upsert it in one transaction.

    Raises CatalogueInvalid (naming the entry) before writing anything when any part of the
    document is wrong, including changes the database cannot take: a settled betcard whose
    fields differ, or a betcard with tickets whose event list differs.
    """
    with transaction.atomic():
        transaction_lock("betcards.catalogue_import")  # the checks read the database too
        catalogue = catalogue_read(document)
        card_plan = _betcards_plan(catalogue)
        markets = [(event, market) for event in catalogue.events for market in event.markets]
        teams = _upsert(
            Team, {t.id: {"name": t.name, "is_active": t.is_active} for t in catalogue.teams}
        )
        events = _upsert(Event, {event.id: _event_fields(event) for event in catalogue.events})
        events_moved = _bookmaker_events_sync(catalogue.events) - events.created
        markets_written = _upsert(Market, {m.id: _market_fields(e, m) for e, m in markets})
        bets = _upsert(
            Bet,
            {
                bet.id: {"market_id": market.id, "name": bet.name, "odds": bet.odds}
                for _, market in markets
                for bet in market.bets
            },
        )
        betcards = _betcards_write(card_plan, total=len(catalogue.betcards))
        results_changed = _results_set([market for _, market in markets])
        # Written in bulk (no model signals): the cards showing these rows are stale now.
        offers_invalidate(
            team_ids=teams.created | teams.updated,
            event_ids=events.created | events.updated | events_moved,
            market_ids=markets_written.created | markets_written.updated,
            bet_ids=bets.created | bets.updated,
        )
    return ImportSummary(
        teams=teams.counts(),
        events=_Written(events.created, events.updated | events_moved, events.total).counts(),
        markets=markets_written.counts(),
        bets=bets.counts(),
        betcards=betcards,
        results_changed=results_changed,
    )


@dataclass(frozen=True)
class _Written:
    created: set[Any]
    updated: set[Any]
    total: int

    def counts(self) -> KindCounts:
        unchanged = self.total - len(self.created) - len(self.updated)
        return KindCounts(created=len(self.created), updated=len(self.updated), unchanged=unchanged)


def _event_fields(event: EventEntry) -> dict[str, Any]:
    return {
        "home_team_id": event.home_team_id,
        "away_team_id": event.away_team_id,
        "starts_at": event.starts_at,
    }


def _market_fields(event: EventEntry, market: MarketEntry) -> dict[str, Any]:
    return {"event_id": event.id, "name": market.name, "is_blocked": market.is_blocked}


def _differs(row: models.Model, fields: dict[str, Any]) -> bool:
    return any(getattr(row, name) != value for name, value in fields.items())


def _upsert(model: type[_M], wanted: dict[int, dict[str, Any]]) -> _Written:
    """Insert missing rows and update rows whose fields differ, in bulk; leave the others."""
    manager = model._default_manager
    existing = manager.in_bulk(list(wanted))
    created = [model(pk=pk, **fields) for pk, fields in wanted.items() if pk not in existing]
    changed = [row for pk, row in existing.items() if _differs(row, wanted[pk])]
    for row in changed:
        for name, value in wanted[row.pk].items():
            setattr(row, name, value)
    manager.bulk_create(created, batch_size=_BATCH_SIZE)
    if changed:
        names = sorted({name for fields in wanted.values() for name in fields})
        manager.bulk_update(changed, names, batch_size=_BATCH_SIZE)
    return _Written({row.pk for row in created}, {row.pk for row in changed}, len(wanted))


def _bookmaker_events_sync(events: tuple[EventEntry, ...]) -> set[int]:
    """Give each event the document's bookmaker event (or none); returns the events changed.

    Stale rows go first, so an odds-feed id can move from one event of the document to another.
    """
    wanted = {event.id: event.bookmaker_event for event in events}
    current = dict(
        BookmakerEvent.objects.filter(event_id__in=wanted).values_list("event_id", "external_id")
    )
    stale = [
        event_id for event_id, external_id in current.items() if wanted[event_id] != external_id
    ]
    BookmakerEvent.objects.filter(event_id__in=stale).delete()
    fresh = [
        BookmakerEvent(event_id=event_id, external_id=external_id)
        for event_id, external_id in wanted.items()
        if external_id is not None and current.get(event_id) != external_id
    ]
    BookmakerEvent.objects.bulk_create(fresh, batch_size=_BATCH_SIZE)
    return set(stale) | {row.event_id for row in fresh}


@dataclass(frozen=True)
class _CardChange:
    row: Betcard
    fields: dict[str, Any]
    new_event_ids: tuple[int, ...] | None  # None: the event list stays as it is


def _betcard_fields(card: BetcardEntry, catalogue: Catalogue) -> dict[str, Any]:
    return {
        "name": card.name,
        "operator_id": None if card.operator is None else catalogue.operator_ids[card.operator],
        "currency": card.currency,
        "price": card.price,
        "prize": card.prize,
        "bonus_prizes": list(card.bonus_prizes),
        "min_events": card.min_events,
        "opens_at": card.opens_at,
        "closes_at": card.closes_at,
        "status": card.status,
    }


def _betcards_plan(catalogue: Catalogue) -> list[_CardChange]:
    """What to write for each betcard of the document, refusing changes a card cannot take."""
    existing = Betcard.objects.in_bulk(
        [card.code for card in catalogue.betcards], field_name="code"
    )
    current_events: dict[int, list[int]] = defaultdict(list)
    entries = BetcardEvent.objects.filter(betcard__in=list(existing.values()))
    for betcard_id, event_id in entries.order_by("position").values_list("betcard_id", "event_id"):
        current_events[betcard_id].append(event_id)
    sold = set(
        Betcard.objects.filter(
            pk__in=[row.pk for row in existing.values()], tickets__isnull=False
        ).values_list("pk", flat=True)
    )
    plan: list[_CardChange] = []
    for card in catalogue.betcards:
        fields = _betcard_fields(card, catalogue)
        row = existing.get(card.code)
        if row is None:
            plan.append(_CardChange(Betcard(code=card.code), fields, card.event_ids))
            continue
        events_differ = tuple(current_events[row.pk]) != card.event_ids
        if row.status == BetcardStatus.SETTLED:
            fields["status"] = BetcardStatus.SETTLED
            if events_differ or _differs(row, fields):
                raise CatalogueInvalid(f"{card.where}: is settled and can no longer be changed")
        if events_differ and row.pk in sold:
            raise CatalogueInvalid(f"{card.where}: has tickets, so its events cannot change")
        if events_differ or _differs(row, fields):
            plan.append(_CardChange(row, fields, card.event_ids if events_differ else None))
    return plan


def _betcards_write(plan: list[_CardChange], *, total: int) -> KindCounts:
    created = 0
    for change in plan:
        created += change.row.pk is None
        for name, value in change.fields.items():
            setattr(change.row, name, value)
        change.row.save()
        if change.new_event_ids is not None:
            BetcardEvent.objects.filter(betcard=change.row).delete()
            BetcardEvent.objects.bulk_create(
                BetcardEvent(betcard=change.row, event_id=event_id, position=position)
                for position, event_id in enumerate(change.new_event_ids, start=1)
            )
    return KindCounts(created=created, updated=len(plan) - created, unchanged=total - len(plan))


def _results_set(markets: list[MarketEntry]) -> int:
    """Apply the document's market results; returns how many changed (each one audited)."""
    results = {market.id: market.result for market in markets if market.result is not None}
    rows = Market.objects.in_bulk(list(results))
    winners = Bet.objects.in_bulk([r.winning_bet_id for r in results.values() if r.winning_bet_id])
    changed = 0
    for market_id, result in results.items():
        changed += market_result_set(
            market=rows[market_id],
            winning_bet=None if result.winning_bet_id is None else winners[result.winning_bet_id],
            void=result.void,
            source="import",
        )
    return changed
