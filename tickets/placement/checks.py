"""The business checks of a placement, each a named function, in the contract's order.

Implements the table of contract.md § POST /be/tickets ("Business checks, in this order"):
115/114 on the operator, 104, the betcard's 119-127, 118, then for each event in request
order 103, 105, 108, 106, 107, 109, 110. Each check raises its `PlacementError`; all are
pure: they read the snapshots `betcards.snapshots` loaded, never the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from betcards.sales import check_offered, check_on_sale
from betcards.snapshots import BetcardSnapshot, BetSnapshot, EventSnapshot
from jackpot.core.errors import (
    BetcardNotFound,
    BonusPrizesMismatch,
    BookmakerEventNotFound,
    CurrencyMismatch,
    CurrencyNotAllowed,
    EventNotFound,
    EventsEmpty,
    EventStarted,
    MarketBlocked,
    MarketNotFound,
    OddsChanged,
    OperatorsNotIdentical,
    PriceMismatch,
    PrizeMismatch,
    TeamNotFound,
    TooFewEvents,
    WebhookUrlMissing,
)
from operators.models import Operator
from tickets.odds import odds_accepted
from tickets.placement.order import EventPick, TicketOrder


# ----------------------------------------------------------------------------- the order
def check_operator(operator: Operator, order: TicketOrder) -> None:
    """115 and 114. (112 cannot happen here: authentication found the operator.)"""
    if order.operator != operator.name:
        raise OperatorsNotIdentical()
    if not operator.webhook_url:
        raise WebhookUrlMissing(operator=operator.name)


def check_events_present(order: TicketOrder) -> None:
    """104."""
    if not order.events:
        raise EventsEmpty()


# ----------------------------------------------------------------------------- the betcard
def check_betcard(
    card: BetcardSnapshot | None, order: TicketOrder, operator: Operator, now: dt.datetime
) -> BetcardSnapshot:
    """119-127, in code order; returns the card once it may take this order."""
    if card is None:
        raise BetcardNotFound(betcard_code=order.betcard_code)
    check_offered(card, operator_id=operator.id, operator_name=operator.name)  # 120
    check_on_sale(card, now=now)  # 121, 122
    for check in BETCARD_TERMS_CHECKS:
        check(card, order, operator)
    return card


def check_price(card: BetcardSnapshot, order: TicketOrder, operator: Operator) -> None:
    """123."""
    if order.price != card.price:
        raise PriceMismatch(price=order.price, expected=card.price)


def check_currency(card: BetcardSnapshot, order: TicketOrder, operator: Operator) -> None:
    """124."""
    if order.currency != card.currency:
        raise CurrencyMismatch(currency=order.currency, expected=card.currency)


def check_prize(card: BetcardSnapshot, order: TicketOrder, operator: Operator) -> None:
    """125."""
    if order.prize != card.prize:
        raise PrizeMismatch(prize=order.prize, expected=card.prize)


def check_bonus_prizes(card: BetcardSnapshot, order: TicketOrder, operator: Operator) -> None:
    """126."""
    if order.bonus_prizes != card.bonus_prizes:
        raise BonusPrizesMismatch(
            bonus_prizes=list(order.bonus_prizes), expected=list(card.bonus_prizes)
        )


def check_currency_allowed(card: BetcardSnapshot, order: TicketOrder, operator: Operator) -> None:
    """127."""
    if operator.currencies and order.currency not in operator.currencies:
        raise CurrencyNotAllowed(currency=order.currency, operator=operator.name)


BETCARD_TERMS_CHECKS: tuple[Callable[[BetcardSnapshot, TicketOrder, Operator], None], ...] = (
    check_price,
    check_currency,
    check_prize,
    check_bonus_prizes,
    check_currency_allowed,
)


def check_event_count(card: BetcardSnapshot, order: TicketOrder) -> None:
    """118."""
    if len(order.events) < card.required_events:
        raise TooFewEvents(correct_amount=card.required_events)


# ----------------------------------------------------------------------------- each event
@dataclass(frozen=True, slots=True)
class Selected:
    """One pick with what the card knows of it: its event (None: not on the card) and its
    bet (None: unknown, or not a bet of that event)."""

    pick: EventPick
    event: EventSnapshot | None
    bet: BetSnapshot | None


def check_event_on_card(selected: Selected, order: TicketOrder, now: dt.datetime) -> None:
    """103."""
    if selected.event is None:
        raise EventNotFound(event_id=selected.pick.event_id)


def check_teams_active(selected: Selected, order: TicketOrder, now: dt.datetime) -> None:
    """105: the home team (checked first) or the away team is disabled."""
    assert selected.event is not None  # check_event_on_card ran first
    team_id = selected.event.disabled_team_id
    if team_id is not None:
        raise TeamNotFound(team_id=team_id)


def check_bookmaker_event(selected: Selected, order: TicketOrder, now: dt.datetime) -> None:
    """108."""
    assert selected.event is not None
    if not selected.event.has_bookmaker_event:
        raise BookmakerEventNotFound(event_id=selected.event.id)


def check_bet_of_event(selected: Selected, order: TicketOrder, now: dt.datetime) -> None:
    """106, named with the bet id sent (an unknown bet has no market to name)."""
    if selected.bet is None:
        raise MarketNotFound(market_id=selected.pick.bet_id)


def check_not_started(selected: Selected, order: TicketOrder, now: dt.datetime) -> None:
    """107."""
    assert selected.event is not None
    if selected.event.starts_at <= now:
        raise EventStarted(event_id=selected.event.id)


def check_market_open(selected: Selected, order: TicketOrder, now: dt.datetime) -> None:
    """109."""
    assert selected.bet is not None  # check_bet_of_event ran first
    if selected.bet.market_blocked:
        raise MarketBlocked(event_id=selected.pick.event_id)


def check_odds(selected: Selected, order: TicketOrder, now: dt.datetime) -> None:
    """110."""
    assert selected.bet is not None
    if not odds_accepted(
        submitted=selected.pick.odds, current=selected.bet.odds, odds_diff=order.odds_diff
    ):
        raise OddsChanged(event_id=selected.pick.event_id, current_odds=selected.bet.odds)


SELECTION_CHECKS: tuple[Callable[[Selected, TicketOrder, dt.datetime], None], ...] = (
    check_event_on_card,
    check_teams_active,
    check_bookmaker_event,
    check_bet_of_event,
    check_not_started,
    check_market_open,
    check_odds,
)


def check_selections(
    card: BetcardSnapshot,
    order: TicketOrder,
    bets: Mapping[int, BetSnapshot],
    now: dt.datetime,
) -> list[BetSnapshot]:
    """`SELECTION_CHECKS` for each event in request order; returns the chosen bets."""
    chosen = []
    for pick in order.events:
        event = card.events.get(pick.event_id)
        bet = bets.get(pick.bet_id)
        if bet is not None and (event is None or bet.event_id != event.id):
            bet = None
        selected = Selected(pick, event, bet)
        for check in SELECTION_CHECKS:
            check(selected, order, now)
        assert selected.bet is not None
        chosen.append(selected.bet)
    return chosen
