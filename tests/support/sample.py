"""The contract's sample (contract.md § Sample): operator `acme`, betcard `ABC123`.

`sample_setup()` builds it in the database; `sample_request()` is the documented request
body (a fresh dict each call, fields in the contract's order).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from betcards.models import Bet, Betcard, BookmakerEvent, Event, Market
from operators.models import ExciseType, Operator
from tests.factories import BetcardFactory, OperatorFactory, TeamFactory

SAMPLE_PICKS: tuple[tuple[int, int, str], ...] = (
    # (event id, bet id, odds)
    (265825, 14, "2.55"),
    (265826, 34, "3.62"),
    (265827, 22, "1.55"),
    (265828, 83, "2.11"),
    (265829, 66, "5.1"),
    (265830, 25, "1.78"),
)


@dataclass(frozen=True)
class Sample:
    operator: Operator
    betcard: Betcard
    events: list[Event]


def sample_setup(**operator_fields: Any) -> Sample:
    """acme (12.5 % inclusive excise, 10 % WHT, Africa/Nairobi) and card ABC123 (USD, 500,
    prize 10000, bonus 2000/1500/1000) on events 265825-265830 starting in two days; each
    event has a bookmaker event and one 1X2 market (id event*10) with the sample's bet at
    the sample's odds plus two other bets (ids event*10+1, event*10+2)."""
    operator = OperatorFactory(
        **{
            "name": "acme",
            "timezone": "Africa/Nairobi",
            "ext_percent": Decimal("12.5"),
            "ext_type": ExciseType.INCLUSIVE,
            "wht_percent": Decimal(10),
            **operator_fields,
        }
    )
    starts_at = timezone.now() + dt.timedelta(days=2)
    events = []
    for event_id, bet_id, odds in SAMPLE_PICKS:
        event = Event.objects.create(
            id=event_id, home_team=TeamFactory(), away_team=TeamFactory(), starts_at=starts_at
        )
        BookmakerEvent.objects.create(event=event, external_id=f"bm-{event_id}")
        market = Market.objects.create(id=event_id * 10, event=event, name="1X2")
        Bet.objects.create(id=bet_id, market=market, name="1", odds=Decimal(odds))
        Bet.objects.create(id=event_id * 10 + 1, market=market, name="X", odds=Decimal("3.1"))
        Bet.objects.create(id=event_id * 10 + 2, market=market, name="2", odds=Decimal("2.7"))
        events.append(event)
    betcard = BetcardFactory(
        code="ABC123",
        currency="USD",
        price=500,
        prize=10_000,
        bonus_prizes=[2_000, 1_500, 1_000],
        events=events,
    )
    return Sample(operator=operator, betcard=betcard, events=events)


def sample_request(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "operator": "acme",
        "token": "sometokenvalue",
        "psp": "mobile",
        "price": 500,
        "currency": "USD",
        "atag": None,
        "rtag": "rk4rk4krnk3nrl3",
        "source": "desktop",
        "type": "jackpot",
        "odds_diff": 10.5,
        "events": [
            {"id": event_id, "bet": bet_id, "odds": float(odds)}
            for event_id, bet_id, odds in SAMPLE_PICKS
        ],
        "betcard_code": "ABC123",
        "prize": 10_000,
        "bonus_prizes": [2_000, 1_500, 1_000],
    }
    body.update(changes)
    return body
