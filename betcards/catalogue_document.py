"""Reading a catalogue document (operations.md § import_catalogue) into checked entries.

`catalogue_read(document)` checks everything a write needs: types, required and unknown
keys, value ranges, and every reference (teams, events, bets, operators) against the
document itself or the database. Problems raise CatalogueInvalid, each naming its entry, e.g.
`events[3] (id 265828): home team 99 is not in the catalogue`: the first problem of every
bad entry; once every entry reads well, every id listed twice; then every broken
reference. Nothing is written here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NoReturn, TypeVar

from betcards.models import Bet, BetcardStatus, BookmakerEvent, Event, Market, Team
from operators.models import Operator

_MAX_BIGINT = 2**63 - 1
_ODDS_MAX = Decimal(10) ** 7  # Bet.odds: 10 digits, 3 of them decimals
_IMPORTABLE_STATUSES = (BetcardStatus.DRAFT, BetcardStatus.OPEN, BetcardStatus.CLOSED)
_E = TypeVar("_E")


class CatalogueInvalid(Exception):
    """The document cannot be imported; each problem names its entry and says why."""

    def __init__(self, *problems: str) -> None:
        self.problems = problems
        shown = list(problems[:MAX_PROBLEMS_SHOWN])
        if len(problems) > MAX_PROBLEMS_SHOWN:
            shown.append(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more")
        message = (
            shown[0]
            if len(problems) == 1
            else f"{len(problems)} problems:\n" + "\n".join(f"  {problem}" for problem in shown)
        )
        super().__init__(message)


MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True, kw_only=True)
class TeamEntry:
    where: str = field(compare=False)
    id: int
    name: str
    is_active: bool


@dataclass(frozen=True, kw_only=True)
class BetEntry:
    where: str = field(compare=False)
    id: int
    name: str
    odds: Decimal


@dataclass(frozen=True, kw_only=True)
class MarketResult:
    """`{"winning_bet": ID}` (winning_bet_id set) or `{"void": true}` (void True)."""

    winning_bet_id: int | None
    void: bool


@dataclass(frozen=True, kw_only=True)
class MarketEntry:
    where: str = field(compare=False)
    id: int
    name: str
    is_blocked: bool
    bets: tuple[BetEntry, ...]
    result: MarketResult | None


@dataclass(frozen=True, kw_only=True)
class EventEntry:
    where: str = field(compare=False)
    id: int
    home_team_id: int
    away_team_id: int
    starts_at: dt.datetime
    bookmaker_event: str | None
    markets: tuple[MarketEntry, ...]


@dataclass(frozen=True, kw_only=True)
class BetcardEntry:
    where: str = field(compare=False)
    code: str
    name: str
    operator: str | None
    currency: str
    price: int
    prize: int
    bonus_prizes: tuple[int, ...]
    min_events: int | None
    event_ids: tuple[int, ...]
    opens_at: dt.datetime
    closes_at: dt.datetime | None
    status: str


@dataclass(frozen=True, kw_only=True)
class Catalogue:
    teams: tuple[TeamEntry, ...]
    events: tuple[EventEntry, ...]
    betcards: tuple[BetcardEntry, ...]
    operator_ids: dict[str, int]  # the betcards' operators, by name


class _Fields:
    """One JSON object of the document, with the path used in error messages."""

    def __init__(self, where: str, raw: object, required: str, optional: str = "") -> None:
        self.where = where
        if not isinstance(raw, dict):
            self.fail("must be a JSON object")
        self.raw: dict[str, object] = raw
        missing = [key for key in required.split() if key not in raw]
        if missing:
            self.fail(f"missing {', '.join(missing)}")
        unknown = sorted(set(raw) - set(required.split()) - set(optional.split()))
        if unknown:
            self.fail(f"unknown field {', '.join(unknown)}")

    def fail(self, problem: str) -> NoReturn:
        raise CatalogueInvalid(f"{self.where}: {problem}")

    def integer(self, key: str, minimum: int, what: str) -> int:
        value = self.raw[key]
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value:
            self.fail(f"{key} must be {what}")
        if value > _MAX_BIGINT:
            self.fail(f"{key} is too large")
        return value

    def identifier(self, key: str = "id") -> int:
        return self.integer(key, 1, "a positive integer")

    def text(self, key: str, max_length: int) -> str:
        value = self.raw[key]
        if not isinstance(value, str) or not value.strip() or len(value) > max_length:
            self.fail(f"{key} must be a non-empty string of at most {max_length} characters")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            self.fail(f"{key} must be true or false")
        return value

    def items(self, key: str) -> list[object]:
        value = self.raw.get(key, [])
        if not isinstance(value, list):
            self.fail(f"{key} must be a list")
        return value

    def integers(self, key: str, minimum: int, what: str) -> tuple[int, ...]:
        values: list[int] = []
        for value in self.items(key):
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(f"{key} must be {what}")
            if not minimum <= value <= _MAX_BIGINT:
                self.fail(f"{key} must be {what}")
            values.append(value)
        return tuple(values)

    def moment(self, key: str) -> dt.datetime:
        value = self.raw[key]
        try:
            moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.utcoffset() is None:
            self.fail(f"{key} must be an ISO 8601 time with a zone, e.g. 2026-12-01T15:00:00Z")
        return moment.astimezone(dt.UTC)


def catalogue_read(document: object) -> Catalogue:
    """Check the whole document; raises CatalogueInvalid with every problem found.

    Each entry is read on its own, so one bad entry does not hide the next. Ids listed twice
    are checked once every entry reads well, references once no id is listed twice: an
    entry that could not be read, or a duplicate, would make other entries look wrong too.
    """
    root = _Fields("document", document, "", "teams events betcards")
    problems: list[str] = []
    teams = _entries(root, "teams", _team, problems)
    events = _entries(root, "events", _event, problems)
    cards = _entries(root, "betcards", _betcard, problems)
    if problems:
        raise CatalogueInvalid(*problems)
    problems = list(_check_unique(teams, events, cards))
    if problems:  # a listed-twice id would make the reference checks misreport it
        raise CatalogueInvalid(*problems)
    problems = [
        *_check_teams_known(teams, events),
        *_check_markets_and_bets_owned(events),
        *_check_bookmaker_events_free(events),
        *_check_betcard_events_known(events, cards),
    ]
    operator_ids, unknown_operators = _operator_ids(cards)
    problems += unknown_operators
    if problems:
        raise CatalogueInvalid(*problems)
    return Catalogue(teams=teams, events=events, betcards=cards, operator_ids=operator_ids)


def _entries(
    root: _Fields, key: str, read: Callable[[str, object], _E], problems: list[str]
) -> tuple[_E, ...]:
    """The readable entries of the list `key`; each unreadable one adds its first problem."""
    entries = []
    for index, raw in enumerate(root.items(key)):
        try:
            entries.append(read(f"{key}[{index}]", raw))
        except CatalogueInvalid as problem:
            problems.extend(problem.problems)
    return tuple(entries)


def _labelled(where: str, raw: object, key: str) -> str:
    """`events[3]` becomes `events[3] (id 265828)` once the entry's key is known."""
    if isinstance(raw, dict) and isinstance(raw.get(key), int | str):
        return f"{where} ({key} {raw[key]})"
    return where


def _team(where: str, raw: object) -> TeamEntry:
    entry = _Fields(_labelled(where, raw, "id"), raw, "id name", "active")
    return TeamEntry(
        where=entry.where,
        id=entry.identifier(),
        name=entry.text("name", 200),
        is_active=entry.flag("active", True),
    )


def _event(where: str, raw: object) -> EventEntry:
    where = _labelled(where, raw, "id")
    entry = _Fields(where, raw, "id home away starts_at", "bookmaker_event markets")
    home, away = entry.identifier("home"), entry.identifier("away")
    if home == away:
        entry.fail(f"home and away are the same team {home}")
    bookmaker_event = entry.raw.get("bookmaker_event")
    if bookmaker_event is not None:
        bookmaker_event = entry.text("bookmaker_event", 100)
    markets = entry.items("markets")
    return EventEntry(
        where=where,
        id=entry.identifier(),
        home_team_id=home,
        away_team_id=away,
        starts_at=entry.moment("starts_at"),
        bookmaker_event=bookmaker_event,
        markets=tuple(_market(f"{where}.markets[{i}]", raw) for i, raw in enumerate(markets)),
    )


def _market(where: str, raw: object) -> MarketEntry:
    where = _labelled(where, raw, "id")
    entry = _Fields(where, raw, "id name", "blocked bets result")
    bets = entry.items("bets")
    return MarketEntry(
        where=where,
        id=entry.identifier(),
        name=entry.text("name", 100),
        is_blocked=entry.flag("blocked", False),
        bets=tuple(_bet(f"{where}.bets[{i}]", raw) for i, raw in enumerate(bets)),
        result=_result(f"{where}.result", entry.raw.get("result")),
    )


def _bet(where: str, raw: object) -> BetEntry:
    entry = _Fields(_labelled(where, raw, "id"), raw, "id name odds")
    value = entry.raw["odds"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        entry.fail("odds must be a number >= 1")
    odds = Decimal(str(value))
    if not odds.is_finite() or not 1 <= odds < _ODDS_MAX:
        entry.fail(f"odds must be a number >= 1 and < {_ODDS_MAX}")
    if odds != odds.quantize(Decimal("0.001")):
        entry.fail("odds must have at most 3 decimals")
    return BetEntry(
        where=entry.where, id=entry.identifier(), name=entry.text("name", 100), odds=odds
    )


def _result(where: str, raw: object) -> MarketResult | None:
    if raw is None:
        return None
    if isinstance(raw, dict) and list(raw) == ["void"] and raw["void"] is True:
        return MarketResult(winning_bet_id=None, void=True)
    winner = raw.get("winning_bet") if isinstance(raw, dict) and list(raw) == ["winning_bet"] else 0
    if isinstance(winner, bool) or not isinstance(winner, int) or winner < 1:
        raise CatalogueInvalid(
            f'{where}: must be {{"winning_bet": BET_ID}}, {{"void": true}} or null'
        )
    return MarketResult(winning_bet_id=winner, void=False)


def _betcard(where: str, raw: object) -> BetcardEntry:
    where = _labelled(where, raw, "code")
    entry = _Fields(
        where,
        raw,
        "code name currency price prize events opens_at status",
        "operator bonus_prizes min_events closes_at",
    )
    code = entry.text("code", 32)
    if not re.fullmatch(r"[A-Za-z0-9_-]+", code):
        entry.fail("code must be letters, digits, _ or -")
    currency = entry.raw["currency"]
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        entry.fail("currency must be an ISO 4217 code like USD")
    bonus_prizes = entry.integers("bonus_prizes", 0, "a list of non-negative integers")
    event_ids = entry.integers("events", 1, "a non-empty list of event ids")
    if not event_ids:
        entry.fail("events must be a non-empty list of event ids")
    if len(set(event_ids)) != len(event_ids):
        entry.fail("events lists an event more than once")
    min_events = None
    if entry.raw.get("min_events") is not None:
        min_events = entry.integer("min_events", 1, f"from 1 to {len(event_ids)} or null")
        if min_events > len(event_ids):
            entry.fail(f"min_events must be from 1 to {len(event_ids)} or null")
    operator = entry.raw.get("operator")
    if operator is not None and not isinstance(operator, str):
        entry.fail("operator must be an operator name or null")
    status = entry.raw["status"]
    if status not in _IMPORTABLE_STATUSES:
        entry.fail(f"status must be one of {', '.join(_IMPORTABLE_STATUSES)}")
    opens_at = entry.moment("opens_at")
    closes_at = None if entry.raw.get("closes_at") is None else entry.moment("closes_at")
    if closes_at is not None and closes_at <= opens_at:
        entry.fail("closes_at must be after opens_at")
    return BetcardEntry(
        where=where,
        code=code,
        name=entry.text("name", 200),
        operator=operator,
        currency=str(currency),
        price=entry.integer("price", 1, "a positive integer"),
        prize=entry.integer("prize", 0, "a non-negative integer"),
        bonus_prizes=bonus_prizes,
        min_events=min_events,
        event_ids=event_ids,
        opens_at=opens_at,
        closes_at=closes_at,
        status=str(status),
    )


def _check_unique(
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


def _check_teams_known(
    teams: tuple[TeamEntry, ...], events: tuple[EventEntry, ...]
) -> Iterator[str]:
    known = {team.id for team in teams}
    wanted = {e.home_team_id for e in events} | {e.away_team_id for e in events}
    known |= set(Team.objects.filter(id__in=wanted - known).values_list("id", flat=True))
    for event in events:
        for side, team_id in (("home", event.home_team_id), ("away", event.away_team_id)):
            if team_id not in known:
                yield f"{event.where}: {side} team {team_id} is not in the catalogue"


def _check_markets_and_bets_owned(events: tuple[EventEntry, ...]) -> Iterator[str]:
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


def _check_bookmaker_events_free(events: tuple[EventEntry, ...]) -> Iterator[str]:
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


def _check_betcard_events_known(
    events: tuple[EventEntry, ...], cards: tuple[BetcardEntry, ...]
) -> Iterator[str]:
    known = {event.id for event in events}
    wanted = {event_id for card in cards for event_id in card.event_ids} - known
    known |= set(Event.objects.filter(id__in=wanted).values_list("id", flat=True))
    for card in cards:
        for event_id in card.event_ids:
            if event_id not in known:
                yield f"{card.where}: event {event_id} is not in the catalogue"


def _operator_ids(cards: tuple[BetcardEntry, ...]) -> tuple[dict[str, int], list[str]]:
    """The cards' operators by name, and a problem for each card whose operator is unknown."""
    wanted = {card.operator for card in cards if card.operator is not None}
    ids = dict(Operator.objects.filter(name__in=wanted).values_list("name", "id"))
    unknown = [
        f"{card.where}: operator {card.operator!r} does not exist"
        for card in cards
        if card.operator is not None and card.operator not in ids
    ]
    return ids, unknown
