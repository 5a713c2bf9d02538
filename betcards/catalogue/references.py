"""The references of a catalogue document, checked across its entries and against the
database: ids listed once, teams, markets, bets and bookmaker events known and owned, the
betcards' events and operators (operations.md § import_catalogue). Each check yields one
problem per broken reference, naming its entry."""

from __future__ import annotations

from collections.abc import Iterator

from betcards.catalogue.entries import BetcardEntry, EventEntry, TeamEntry
from betcards.models import Bet, BookmakerEvent, Event, Market, Team
from operators.models import Operator


def check_unique(
    teams: tuple[TeamEntry, ...], events: tuple[EventEntry, ...], cards: tuple[BetcardEntry, ...]
) -> Iterator[str]:
    markets = [market for event in events for market in event.markets]
    checks: list[tuple[str, list[tuple[str, object]]]] = [
        ("team", [(team.where, team.id) for team in teams]),
        ("event", [(event.where, event.id) for event in events]),
        ("market", [(market.where, market.id) for market in markets]),
        ("bet", [(bet.where, bet.id) for market in markets for bet in market.bets]),
        ("bookmaker event", [(e.where, e.bookmaker_event) for e in events if e.bookmaker_event]),
        ("betcard", [(card.where, card.code) for card in cards]),
    ]
    for kind, keys in checks:
        seen: set[object] = set()
        for where, key in keys:
            if key in seen:
                yield f"{where}: {kind} {key} is listed more than once"
            seen.add(key)


def check_teams_known(
    teams: tuple[TeamEntry, ...], events: tuple[EventEntry, ...]
) -> Iterator[str]:
    known = {team.id for team in teams}
    wanted = {e.home_team_id for e in events} | {e.away_team_id for e in events}
    known |= set(Team.objects.filter(id__in=wanted - known).values_list("id", flat=True))
    for event in events:
        for side, team_id in (("home", event.home_team_id), ("away", event.away_team_id)):
            if team_id not in known:
                yield f"{event.where}: {side} team {team_id} is not in the catalogue"


def check_markets_and_bets_owned(events: tuple[EventEntry, ...]) -> Iterator[str]:
    """A market stays on its event and a bet on its market: ids are unique system-wide."""
    markets = [(event, market) for event in events for market in event.markets]
    market_events = dict(
        Market.objects.filter(id__in=[m.id for _, m in markets]).values_list("id", "event_id")
    )
    bet_ids = [bet.id for _, market in markets for bet in market.bets]
    bet_ids += [m.result.winning_bet_id for _, m in markets if m.result and m.result.winning_bet_id]
    bet_markets = dict(Bet.objects.filter(id__in=bet_ids).values_list("id", "market_id"))
    for event, market in markets:
        owner = market_events.get(market.id, event.id)
        if owner != event.id:
            yield f"{market.where}: market {market.id} belongs to event {owner}"
        for bet in market.bets:
            owner = bet_markets.get(bet.id, market.id)
            if owner != market.id:
                yield f"{bet.where}: bet {bet.id} belongs to market {owner}"
        winner = market.result.winning_bet_id if market.result else None
        own_bets = {bet.id for bet in market.bets}
        if winner is not None and winner not in own_bets and bet_markets.get(winner) != market.id:
            yield f"{market.where}: result winning bet {winner} is not a bet of this market"


def check_bookmaker_events_free(events: tuple[EventEntry, ...]) -> Iterator[str]:
    """An odds-feed id may move between events of the document, not away from another event."""
    wanted = [event.bookmaker_event for event in events if event.bookmaker_event]
    owners = dict(
        BookmakerEvent.objects.filter(external_id__in=wanted).values_list("external_id", "event_id")
    )
    event_ids = {event.id for event in events}
    for event in events:
        owner = owners.get(event.bookmaker_event or "", event.id)
        if owner != event.id and owner not in event_ids:
            yield f"{event.where}: bookmaker event {event.bookmaker_event} belongs to event {owner}"


def check_betcard_events_known(
    events: tuple[EventEntry, ...], cards: tuple[BetcardEntry, ...]
) -> Iterator[str]:
    known = {event.id for event in events}
    wanted = {event_id for card in cards for event_id in card.event_ids} - known
    known |= set(Event.objects.filter(id__in=wanted).values_list("id", flat=True))
    for card in cards:
        for event_id in card.event_ids:
            if event_id not in known:
                yield f"{card.where}: event {event_id} is not in the catalogue"


def operators_named(cards: tuple[BetcardEntry, ...]) -> tuple[dict[str, int], list[str]]:
    """The cards' operators by name, and a problem for each card whose operator is unknown."""
    wanted = {card.operator for card in cards if card.operator is not None}
    ids = dict(Operator.objects.filter(name__in=wanted).values_list("name", "id"))
    unknown = [
        f"{card.where}: operator {card.operator!r} does not exist"
        for card in cards
        if card.operator is not None and card.operator not in ids
    ]
    return ids, unknown
