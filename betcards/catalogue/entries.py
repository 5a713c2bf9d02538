"""A catalogue document's entries once read and checked (operations.md § import_catalogue),
and the one error every problem with a document raises.

"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal


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
