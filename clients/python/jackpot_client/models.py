"""The engine's answers, typed (contract: the ticket's 31 fields, the Bet Card API's card)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


def _known(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    """The keys this model has (a newer engine may answer more)."""
    names = {field.name for field in fields(cls)}
    return {key: value for key, value in data.items() if key in names}


@dataclass(frozen=True, slots=True)
class Selection:
    id: int
    bet: int
    odds: float
    odds_accepted: float
    result: str


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    code: str
    price: int
    stake: int
    currency: str
    gross_payout: int
    net_payout: int
    wht_amount: int
    wht: float
    ext_amount: int
    ext: float
    ext_type: str
    status: str
    result: str
    approved: bool
    source: str
    type: str
    atag: str | None
    rtag: str | None
    aff_instant_comm_amt: int | None
    aff_instant_comm_pct: float | None
    user_id: str
    psp: str | None
    created: str
    operator_time_created: str
    updated: str
    operator_time_updated: str
    odds: float
    betcard_code: str
    prize: int
    bonus_prizes: list[int]
    events: list[Selection] | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> Ticket:
        known = _known(cls, data)
        if "events" in data:
            known["events"] = [Selection(**_known(Selection, item)) for item in data["events"]]
        return cls(**known)


@dataclass(frozen=True, slots=True)
class Bet:
    id: int
    name: str
    odds: float


@dataclass(frozen=True, slots=True)
class Market:
    id: int
    name: str
    blocked: bool
    result: dict[str, Any] | None
    bets: list[Bet]


@dataclass(frozen=True, slots=True)
class CardEvent:
    id: int
    starts: str
    operator_time_starts: str
    home_team: dict[str, Any]
    away_team: dict[str, Any]
    markets: list[Market]


@dataclass(frozen=True, slots=True)
class Card:
    code: str
    name: str
    status: str
    price: int
    currency: str
    prize: int
    bonus_prizes: list[int]
    min_events: int | None
    opens: str | None
    operator_time_opens: str | None
    closes: str | None
    operator_time_closes: str | None
    events: list[CardEvent]

    @classmethod
    def of(cls, data: dict[str, Any]) -> Card:
        known = _known(cls, data)
        known["events"] = [
            CardEvent(
                **{
                    **_known(CardEvent, event),
                    "markets": [
                        Market(
                            **{
                                **_known(Market, market),
                                "bets": [Bet(**_known(Bet, bet)) for bet in market["bets"]],
                            }
                        )
                        for market in event["markets"]
                    ],
                }
            )
            for event in data["events"]
        ]
        return cls(**known)


@dataclass(frozen=True, slots=True)
class Pick:
    """A quick pick: the card's terms and one bet per event, ready to place."""

    betcard_code: str
    price: int
    currency: str
    prize: int
    bonus_prizes: list[int]
    events: list[dict[str, Any]]

    @classmethod
    def of(cls, data: dict[str, Any]) -> Pick:
        return cls(**_known(cls, data))
