"""Quick pick and the finance calculator of the Bet Card API (contract.md § Bet Card API).

`card_pick` chooses one bet per event still on sale, ready to send as the selection of
POST /be/tickets: an event is on sale when placement would take it (not started, teams
active, a bookmaker event, a market not blocked), and the card itself is refused with the
same 121/122 a placement would get (`betcards.sales`). `finance_details` says what a ticket
costs and what a sole winner of each prize tier takes home, by the operator's current tax
settings and the same tax rules as placement and settlement (`operators.taxes`).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.db.models import Prefetch

from betcards.models import Bet, Betcard, BetcardEvent, BetcardStatus, Market
from betcards.offers import odds_number
from betcards.sales import CardSale, check_on_sale
from jackpot.core.errors import BetcardNotFound, TooFewEvents
from operators.models import Operator
from operators.taxes import CreationTaxes, creation_taxes, settlement_taxes


class Strategy(StrEnum):
    FAVOURITES = "favourites"  # each event's lowest odds, ties by the lower bet id
    RANDOM = "random"  # uniform over the event's bets on sale, repeatable with a seed


def offered_card(*, code: str, operator: Operator) -> Betcard:
    """The card with this code offered to the operator, or BetcardNotFound (119, answered
    404 by the Bet Card API: unknown, not offered and draft alike, as reading the card is;
    a draft's existence is not revealed)."""
    card = Betcard.objects.filter(code=code).exclude(status=BetcardStatus.DRAFT).first()
    if card is None or card.operator_id not in (None, operator.pk):
        raise BetcardNotFound(betcard_code=code)
    return card


def card_pick(
    *, code: str, operator: Operator, strategy: Strategy, seed: int | None, now: dt.datetime
) -> dict[str, Any]:
    """The card's terms and one bet per event on sale, in card order (3 queries)."""
    card = offered_card(code=code, operator=operator)
    entries = list(
        BetcardEvent.objects.filter(betcard=card)
        .select_related("event__home_team", "event__away_team", "event__bookmaker_event")
        .prefetch_related(
            Prefetch(
                "event__markets",
                queryset=Market.objects.filter(is_blocked=False).prefetch_related(
                    Prefetch("bets", queryset=Bet.objects.order_by("id"))
                ),
            )
        )
        .order_by("position")
    )
    events = [entry.event for entry in entries]
    check_on_sale(CardSale.of(card, (event.starts_at for event in events)), now=now)
    rng = random.Random(seed)  # noqa: S311 - a player's pick, not a secret
    picks = []
    for event in events:
        bets = _on_sale(event, now)
        if not bets:
            continue
        if strategy == Strategy.FAVOURITES:
            bet = min(bets, key=lambda b: (b.odds, b.id))
        else:
            bet = rng.choice(bets)
        picks.append({"id": event.id, "bet": bet.id, "odds": odds_number(bet.odds)})
    required = card.min_events if card.min_events is not None else len(events)
    if len(picks) < required:
        raise TooFewEvents(correct_amount=required)
    return {
        "betcard_code": card.code,
        "price": card.price,
        "currency": card.currency,
        "prize": card.prize,
        "bonus_prizes": card.bonus_prizes,
        "events": picks,
    }


def _on_sale(event: Any, now: dt.datetime) -> Sequence[Bet]:
    """The event's bets a placement would take now (by id), or none."""
    sellable = (
        event.starts_at > now
        and event.home_team.is_active
        and event.away_team.is_active
        and hasattr(event, "bookmaker_event")
    )
    if not sellable:
        return []
    return sorted(
        (bet for market in event.markets.all() for bet in market.bets.all()), key=lambda b: b.id
    )


def finance_details(*, operator: Operator, price: int, card: Betcard | None) -> dict[str, Any]:
    """Stake and excise of a ticket at `price` by the operator's tax settings; with a card,
    its currency and what a sole winner of each tier takes home on a ticket at the card's
    price (gross, withholding tax, net)."""
    taxes = _taxes(operator, price)
    details: dict[str, Any] = {
        "price": taxes.price,
        "stake": taxes.stake,
        "ext": _percent(taxes.ext_percent),
        "ext_amount": taxes.ext_amount,
        "ext_type": taxes.ext_type,
        "wht": _percent(taxes.wht_percent),
    }
    if card is None:
        return details
    stake = _taxes(operator, card.price).stake
    details["currency"] = card.currency
    details["tiers"] = [
        _tier(misses, amount, stake, operator.wht_percent)
        for misses, amount in enumerate([card.prize, *card.bonus_prizes])
    ]
    return details


def _taxes(operator: Operator, price: int) -> CreationTaxes:
    """A ticket's taxes at `price`, without affiliate commission (no tag to go by)."""
    return creation_taxes(
        price=price,
        ext_percent=operator.ext_percent,
        ext_type=operator.ext_type,
        wht_percent=operator.wht_percent,
        aff_comm_percent=None,
        atag=None,
    )


def _tier(misses: int, amount: int, stake: int, wht_percent: Decimal) -> dict[str, int]:
    payout = settlement_taxes(gross_payout=amount, stake=stake, wht_percent=wht_percent)
    return {
        "misses": misses,
        "prize": amount,
        "gross_payout": payout.gross_payout,
        "wht_amount": payout.wht_amount,
        "net_payout": payout.net_payout,
    }


def _percent(value: Decimal) -> float:
    # at most 2 decimals and 3 integer digits: exact as a JSON number (12.5, 10.0)
    return float(value)
