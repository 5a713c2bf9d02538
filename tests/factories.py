"""factory-boy factories for every model; tests build state with these, never fixtures."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone

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
from jackpot.core.money import round_half_up_cents
from operators.models import ExciseType, Operator
from tickets.models import Selection, Ticket

DEFAULT_SECRET = "test-secret-key-0123456789"


class OperatorFactory(factory.django.DjangoModelFactory[Operator]):
    class Meta:
        model = Operator
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"operator-{n}")
    webhook_url = "http://127.0.0.1:9/pam"
    timezone = "UTC"
    ext_percent = Decimal("12.5")
    ext_type = ExciseType.INCLUSIVE
    wht_percent = Decimal(10)
    currencies: list[str] = []
    aff_comm_percent = None
    is_active = True
    secret_key_encrypted = ""
    # No request rate by default here (the engine's is 100/s): a fast machine's test client
    # could pass it; tests of the limit set it (tests/operators/test_rate_limit_api.py).
    rate_limit = 0

    @factory.post_generation
    def secret(obj: Operator, create: bool, extracted: str | None, **kwargs: Any) -> None:
        obj.set_secret_key(extracted or DEFAULT_SECRET)
        if create:
            obj.save(update_fields=["secret_key_encrypted"])


class TeamFactory(factory.django.DjangoModelFactory[Team]):
    class Meta:
        model = Team

    id = factory.Sequence(lambda n: 10_000 + n)
    name = factory.Sequence(lambda n: f"Team {n}")
    is_active = True


class EventFactory(factory.django.DjangoModelFactory[Event]):
    """An event with a bookmaker event and a 1X2 market of three bets (ids from the event id)."""

    class Meta:
        model = Event
        skip_postgeneration_save = True

    id = factory.Sequence(lambda n: 300_000 + n)
    home_team = factory.SubFactory(TeamFactory)
    away_team = factory.SubFactory(TeamFactory)
    starts_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=2))

    @factory.post_generation
    def priced(obj: Event, create: bool, extracted: bool | None, **kwargs: Any) -> None:
        if not create or extracted is False:
            return
        BookmakerEvent.objects.create(event=obj, external_id=f"bm-{obj.id}")
        market = Market.objects.create(id=obj.id * 10, event=obj, name="1X2")
        for offset, (name, odds) in enumerate((("1", "2.10"), ("X", "3.20"), ("2", "3.50"))):
            Bet.objects.create(
                id=obj.id * 10 + offset, market=market, name=name, odds=Decimal(odds)
            )


class BetcardFactory(factory.django.DjangoModelFactory[Betcard]):
    """A betcard; pass `events=N` (a count) or `events=[Event, ...]` to attach events in order."""

    class Meta:
        model = Betcard
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"CARD{n:04d}")
    name = factory.Sequence(lambda n: f"Jackpot {n}")
    operator = None
    currency = "USD"
    price = 500
    prize = 10_000
    bonus_prizes = factory.LazyFunction(lambda: [2_000, 1_500, 1_000])
    min_events = None
    opens_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))
    closes_at = None
    status = BetcardStatus.OPEN

    @factory.post_generation
    def events(
        obj: Betcard, create: bool, extracted: int | list[Event] | None, **kwargs: Any
    ) -> None:
        if not create or extracted is None:
            return
        events = EventFactory.create_batch(extracted) if isinstance(extracted, int) else extracted
        BetcardEvent.objects.bulk_create(
            BetcardEvent(betcard=obj, event=event, position=position)
            for position, event in enumerate(events, start=1)
        )


class TicketFactory(factory.django.DjangoModelFactory[Ticket]):
    """An open ticket on a betcard, picking bet `event.id*10` (home win) on every card event.

    Pass `picks={event_id: bet_id}` to choose bets; taxes are the operator's 12.5 % inclusive
    excise on the card's price (stake 444 for price 500).
    """

    class Meta:
        model = Ticket
        skip_postgeneration_save = True

    id = factory.Sequence(lambda n: f"{int(time.time()):08x}{n:016x}")
    code = factory.Sequence(lambda n: f"T{n:05d}")
    operator = factory.SubFactory(OperatorFactory)
    betcard = factory.SubFactory(BetcardFactory, events=3)
    token = factory.Sequence(lambda n: f"player-token-{n}")
    psp = "mobile"
    price = factory.LazyAttribute(lambda t: t.betcard.price)
    stake = factory.LazyAttribute(
        lambda t: round_half_up_cents(Decimal(t.price) / (1 + t.operator.ext_percent / 100))
    )
    currency = factory.LazyAttribute(lambda t: t.betcard.currency)
    ext_percent = factory.LazyAttribute(lambda t: t.operator.ext_percent)
    ext_type = ExciseType.INCLUSIVE
    ext_amount = factory.LazyAttribute(lambda t: t.price - t.stake)
    wht_percent = factory.LazyAttribute(lambda t: t.operator.wht_percent)
    source = "desktop"
    type = "jackpot"
    odds = Decimal("9.26")
    prize = factory.LazyAttribute(lambda t: t.betcard.prize)
    bonus_prizes = factory.LazyAttribute(lambda t: list(t.betcard.bonus_prizes))
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyAttribute(lambda t: t.created_at)

    @factory.post_generation
    def picks(obj: Ticket, create: bool, extracted: dict[int, int] | None, **kwargs: Any) -> None:
        if not create:
            return
        chosen = extracted or {
            event_id: event_id * 10
            for event_id in obj.betcard.card_events.values_list("event_id", flat=True)
        }
        bets = Bet.objects.in_bulk(list(chosen.values()))
        Selection.objects.bulk_create(
            Selection(
                ticket=obj,
                event_id=event_id,
                bet_id=bet_id,
                odds_submitted=bets[bet_id].odds,
                odds_accepted=bets[bet_id].odds,
            )
            for event_id, bet_id in chosen.items()
        )
