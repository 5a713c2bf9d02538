"""`ticket_closed` follows the result after the configured delay (contract § Settlement)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import BetcardFactory, TicketFactory
from tests.tickets.settlement.conftest import results_enter
from tickets.models import DeliveryStatus, Ticket, WebhookDelivery
from tickets.outbox.payloads import (
    TICKET_CLOSED,
    body,
)
from tickets.settlement.closing import tickets_close_due
from tickets.settlement.rounds import betcard_settle

pytestmark = pytest.mark.django_db


@pytest.fixture
def settled_ticket(settings):
    settings.TICKET_CLOSED_DELAY_HOURS = 24
    card = BetcardFactory(events=2)
    results_enter(card)
    ticket = TicketFactory(betcard=card)
    betcard_settle(betcard=card)
    ticket.refresh_from_db()
    return ticket


def delivered(ticket: Ticket, *, hours_ago: float) -> None:
    WebhookDelivery.objects.filter(ticket=ticket).update(
        status=DeliveryStatus.DELIVERED, delivered_at=timezone.now() - dt.timedelta(hours=hours_ago)
    )


def test_sends_ticket_closed_once_the_delay_has_passed_since_the_result(settled_ticket):
    # given: the result was delivered 24 hours ago
    delivered(settled_ticket, hours_ago=24)
    later = settled_ticket.settled_at + dt.timedelta(hours=24, seconds=1)

    # when
    closed = tickets_close_due(now=later)
    again = tickets_close_due(now=later + dt.timedelta(hours=1))

    # then
    assert (closed, again) == (1, 0)
    settled_ticket.refresh_from_db()
    assert settled_ticket.closed_at == later
    closing = WebhookDelivery.objects.get(action="ticket_closed")
    assert closing.dedupe_key == "closed:1"
    assert closing.body == body(TICKET_CLOSED, settled_ticket).decode()


def test_waits_for_the_delay(settled_ticket):
    delivered(settled_ticket, hours_ago=0)

    assert tickets_close_due(now=settled_ticket.settled_at + dt.timedelta(hours=23)) == 0
    assert tickets_close_due(now=timezone.now() + dt.timedelta(hours=23)) == 0


def test_waits_while_the_result_webhook_is_not_delivered(settled_ticket):
    later = settled_ticket.settled_at + dt.timedelta(hours=48)

    assert tickets_close_due(now=later) == 0
    settled_ticket.refresh_from_db()
    assert settled_ticket.closed_at is None
    assert not WebhookDelivery.objects.filter(action="ticket_closed").exists()


def test_the_delay_is_configurable(settled_ticket, settings):
    settings.TICKET_CLOSED_DELAY_HOURS = 0.5
    delivered(settled_ticket, hours_ago=0)

    assert tickets_close_due(now=timezone.now() + dt.timedelta(minutes=31)) == 1
