"""Builders for settlement tests: a card with results entered like staff would enter them."""

from __future__ import annotations

from collections.abc import Mapping

from betcards.models import Bet, Betcard, Market
from betcards.results import market_result_set

HOME, DRAW, AWAY = 0, 1, 2
VOID = "void"


def bet_id(event_id: int, outcome: int) -> int:
    """The factory's bet ids: event.id*10 + 0 (home), 1 (draw), 2 (away)."""
    return event_id * 10 + outcome


def card_event_ids(card: Betcard) -> list[int]:
    return list(card.card_events.order_by("position").values_list("event_id", flat=True))


def results_enter(card: Betcard, outcomes: Mapping[int, int | str] | None = None) -> None:
    """Set each card event's 1X2 result: `outcomes[event_id]` is HOME/DRAW/AWAY or VOID;
    events not listed are won by the home side."""
    outcomes = outcomes or {}
    for event_id in card_event_ids(card):
        outcome = outcomes.get(event_id, HOME)
        market = Market.objects.get(pk=event_id * 10)
        market_result_set(
            market=market,
            winning_bet=None if outcome == VOID else Bet.objects.get(pk=bet_id(event_id, outcome)),
            void=outcome == VOID,
            source="admin",
        )


def picks(card: Betcard, changes: Mapping[int, int | None] | None = None) -> dict[int, int]:
    """Home picks on every event, except `changes[event_id]` (an outcome, or None: not
    picked)."""
    changes = changes or {}
    chosen = {}
    for event_id in card_event_ids(card):
        outcome = changes.get(event_id, HOME)
        if outcome is not None:
            chosen[event_id] = bet_id(event_id, outcome)
    return chosen
