"""The database itself refuses rows that break the model's rules, whatever code writes them."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from betcards.models import Market
from tests.factories import (
    BetcardFactory,
    EventFactory,
    OperatorFactory,
    TeamFactory,
    TicketFactory,
)
from tickets.models import Selection

pytestmark = pytest.mark.django_db


def violated_constraint(write: Callable[[], object]) -> str:
    """Run `write` in a savepoint; returns the name of the constraint the database enforced."""
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        write()
    return str(error.value.__cause__.diag.constraint_name)


def test_betcard_price_must_be_positive() -> None:
    assert violated_constraint(lambda: BetcardFactory(price=0)) == "betcard_price_positive"


def test_operator_excise_percent_is_at_most_100() -> None:
    assert violated_constraint(lambda: OperatorFactory(ext_percent=Decimal(101))) == (
        "operator_ext_0_100"
    )


def test_operator_withholding_tax_percent_is_not_negative() -> None:
    assert violated_constraint(lambda: OperatorFactory(wht_percent=Decimal(-1))) == (
        "operator_wht_0_100"
    )


def test_ticket_code_is_unique() -> None:
    TicketFactory(code="ABC123")

    assert violated_constraint(lambda: TicketFactory(code="ABC123")) == "tickets_ticket_code_key"


def test_a_ticket_has_one_selection_per_event() -> None:
    ticket = TicketFactory()
    taken = ticket.selections.first()

    def second_pick_on_the_same_event() -> Selection:
        return Selection.objects.create(
            ticket=ticket,
            event_id=taken.event_id,
            bet_id=taken.event_id * 10 + 1,
            odds_submitted=Decimal("3.2"),
            odds_accepted=Decimal("3.2"),
        )

    assert violated_constraint(second_pick_on_the_same_event) == "selection_event_once"


def test_a_void_market_has_no_winning_bet() -> None:
    market = Market.objects.get(event=EventFactory())
    winner = market.bets.order_by("id").first()

    def void_with_winner() -> int:
        return Market.objects.filter(pk=market.pk).update(is_void=True, winning_bet=winner)

    assert violated_constraint(void_with_winner) == "market_result_void_xor_winner"


def test_an_event_cannot_oppose_a_team_to_itself() -> None:
    team = TeamFactory()

    assert violated_constraint(lambda: EventFactory(home_team=team, away_team=team)) == (
        "event_home_differs_from_away"
    )
