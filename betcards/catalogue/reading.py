"""Reading a catalogue document (operations.md § import_catalogue) into checked entries.

`catalogue_read(document)` checks everything a write needs: types, required and unknown
keys, value ranges, and every reference (teams, events, bets, operators) against the
document itself or the database (`betcards.catalogue.references`). Problems raise
CatalogueInvalid, each naming its entry, e.g. `events[3] (id 265828): home team 99 is not in
the catalogue`: the first problem of every bad entry; once every entry reads well, every id
listed twice; then every broken reference. Nothing is written here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import NoReturn, TypeVar

from betcards.catalogue.entries import (
    BetcardEntry,
    BetEntry,
    Catalogue,
    CatalogueInvalid,
    EventEntry,
    MarketEntry,
    MarketResult,
    TeamEntry,
)
from betcards.catalogue.references import (
    check_betcard_events_known,
    check_bookmaker_events_free,
    check_markets_and_bets_owned,
    check_teams_known,
    check_unique,
    operators_named,
)
from betcards.models import BetcardStatus

_MAX_BIGINT = 2**63 - 1
_ODDS_MAX = Decimal(10) ** 7  # Bet.odds: 10 digits, 3 of them decimals
_IMPORTABLE_STATUSES = (BetcardStatus.DRAFT, BetcardStatus.OPEN, BetcardStatus.CLOSED)
_E = TypeVar("_E")


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
    problems = list(check_unique(teams, events, cards))
    if problems:  # a listed-twice id would make the reference checks misreport it
        raise CatalogueInvalid(*problems)
    problems = [
        *check_teams_known(teams, events),
        *check_markets_and_bets_owned(events),
        *check_bookmaker_events_free(events),
        *check_betcard_events_known(events, cards),
    ]
    ids_of_operators, unknown_operators = operators_named(cards)
    problems += unknown_operators
    if problems:
        raise CatalogueInvalid(*problems)
    return Catalogue(teams=teams, events=events, betcards=cards, operator_ids=ids_of_operators)


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
