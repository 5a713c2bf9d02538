from __future__ import annotations

import pytest

from betcards.models import BetcardEvent
from tests.factories import BetcardFactory, OperatorFactory, TicketFactory

pytestmark = pytest.mark.django_db


def test_operator_secret_round_trips_through_encryption() -> None:
    operator = OperatorFactory(secret="s3cret-value")

    stored = type(operator).objects.get(pk=operator.pk)

    assert "s3cret-value" not in stored.secret_key_encrypted
    assert stored.secret_key == "s3cret-value"


def test_betcard_factory_attaches_events_in_order() -> None:
    card = BetcardFactory(events=3)

    positions = list(BetcardEvent.objects.filter(betcard=card).values_list("position", flat=True))

    assert positions == [1, 2, 3]


def test_ticket_factory_picks_every_card_event() -> None:
    ticket = TicketFactory()

    assert ticket.stake == 444
    assert ticket.ext_amount == 56
    assert ticket.selections.count() == 3
