"""Refunds and reservations at the PAM (contract.md § PAM webhooks, § Pay later): what staff
cancelling sends, and a `ticket_reserve` refused or given up."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connections

from jackpot.core import clock
from tests.factories import OperatorFactory, TicketFactory
from tests.support.pam import ReceivedWebhook, ScriptedPam
from tests.tickets.webhooks.helpers import DISCARD_FIELDS
from tickets.delivery.attempts import pam_call_deliver
from tickets.lifecycle import CANCELLED_BEFORE_CREATE, ticket_cancel_by_staff, ticket_pay
from tickets.models import Ticket, TicketStatus, WebhookDelivery, WriteEndpoint
from tickets.outbox.payloads import TICKET_CREATE, TICKET_RESERVE
from tickets.outbox.queueing import enqueue
from tickets.receipts import WriteKeys

pytestmark = pytest.mark.django_db


def sold(pam: ScriptedPam, *, reserved: bool = False) -> tuple[Ticket, WebhookDelivery]:
    """A ticket and its pending ticket_create (or a reservation and its ticket_reserve)."""
    operator = OperatorFactory(webhook_url=pam.url)
    pam.trust(operator)
    fields = (
        {
            "status": TicketStatus.RESERVED,
            "approved": False,
            "reserved_until": clock.now() + dt.timedelta(minutes=30),
        }
        if reserved
        else {}
    )
    ticket = TicketFactory.create(operator=operator, **fields)
    return ticket, enqueue(ticket=ticket, webhook=TICKET_RESERVE if reserved else TICKET_CREATE)


def sent(ticket: Ticket, action: str) -> WebhookDelivery:
    return WebhookDelivery.objects.get(ticket=ticket, action=action)


def test_cancelling_a_ticket_whose_create_went_through_sends_a_refund(pam: ScriptedPam) -> None:
    # given: the player was debited
    ticket, create = sold(pam)
    assert pam_call_deliver(delivery_id=create.pk) == "delivered"
    ticket.refresh_from_db()

    # when
    webhook = ticket_cancel_by_staff(ticket=ticket)

    # then
    assert webhook == "ticket_refund"
    refund = sent(ticket, "ticket_refund")
    assert pam_call_deliver(delivery_id=refund.pk) == "delivered"
    received = pam.of_action("ticket_refund")[0]
    assert list(received.data or {}) == DISCARD_FIELDS
    assert (received.data or {})["reason"] == "staff_cancelled"
    assert (received.data or {})["price"] == ticket.price
    assert not WebhookDelivery.objects.filter(ticket=ticket, action="ticket_discard").exists()


def test_cancelling_a_paid_reservation_sends_a_refund(pam: ScriptedPam) -> None:
    ticket, _ = sold(pam, reserved=True)
    ticket_pay(
        operator=ticket.operator,
        identifier=ticket.id,
        receipt=WriteKeys(endpoint=WriteEndpoint.PAID, fingerprint=ticket.id, target=ticket.id),
    )

    assert ticket_cancel_by_staff(ticket=ticket) == "ticket_refund"


def test_cancelling_before_the_create_went_through_sends_a_discard(pam: ScriptedPam) -> None:
    ticket, create = sold(pam)

    assert ticket_cancel_by_staff(ticket=ticket) == "ticket_discard"

    create.refresh_from_db()
    assert (create.status, create.last_error) == ("failed", CANCELLED_BEFORE_CREATE)


def test_cancelling_a_reservation_stops_its_ticket_reserve_and_sends_a_discard(
    pam: ScriptedPam,
) -> None:
    ticket, reserve = sold(pam, reserved=True)

    assert ticket_cancel_by_staff(ticket=ticket) == "ticket_discard"

    reserve.refresh_from_db()
    assert reserve.status == "failed"
    assert pam_call_deliver(delivery_id=sent(ticket, "ticket_discard").pk) == "delivered"
    assert [request.action for request in pam.received] == ["ticket_discard"]


@pytest.mark.django_db(transaction=True)  # the PAM's thread cancels: it must see the ticket
def test_a_cancel_racing_an_in_flight_create_discards_after_it(pam: ScriptedPam) -> None:
    # given: staff cancel while the ticket_create is at the PAM (sent, answer not back)
    ticket, create = sold(pam)
    chosen: list[str] = []

    def cancel_meanwhile(request: ReceivedWebhook) -> None:
        if request.action == "ticket_create":
            chosen.append(ticket_cancel_by_staff(ticket=Ticket.objects.get(pk=ticket.pk)))
            connections.close_all()

    pam.on_request = cancel_meanwhile

    # when: the create's answer is a success
    created = pam_call_deliver(delivery_id=create.pk)
    undone = pam_call_deliver(delivery_id=sent(ticket, "ticket_discard").pk)

    # then: not debited when staff cancelled, so a discard, sent after the create; the
    # ticket stays cancelled and is flagged for a look
    assert chosen == ["ticket_discard"]
    assert (created, undone) == ("delivered", "delivered")
    assert [request.action for request in pam.received] == ["ticket_create", "ticket_discard"]
    ticket.refresh_from_db()
    assert (ticket.status, ticket.needs_reconciliation) == ("cancelled", True)
    assert not WebhookDelivery.objects.filter(ticket=ticket, action="ticket_refund").exists()


def test_a_failed_refund_is_repeated_until_it_succeeds(pam: ScriptedPam, settings) -> None:
    ticket, create = sold(pam)
    pam_call_deliver(delivery_id=create.pk)
    ticket.refresh_from_db()
    ticket_cancel_by_staff(ticket=ticket)
    refund = sent(ticket, "ticket_refund")
    pam.script("ticket_refund", 400)

    before = clock.now()
    assert pam_call_deliver(delivery_id=refund.pk) == "retry-scheduled"

    refund.refresh_from_db()
    assert refund.status == "pending"
    assert refund.next_attempt_at >= before + dt.timedelta(
        minutes=settings.PAM_DISCARD_RETRY_MINUTES
    )


@pytest.mark.parametrize("answer", [400, 409])
def test_a_refused_ticket_reserve_cancels_the_reservation(pam: ScriptedPam, answer) -> None:
    # given
    ticket, reserve = sold(pam, reserved=True)
    pam.script("ticket_reserve", answer)

    # when
    assert pam_call_deliver(delivery_id=reserve.pk) == "discard-scheduled"

    # then
    ticket.refresh_from_db()
    assert (ticket.status, ticket.cancel_reason) == ("cancelled", "pam_refused")
    assert pam_call_deliver(delivery_id=sent(ticket, "ticket_discard").pk) == "delivered"
    assert (pam.of_action("ticket_discard")[0].data or {})["reason"] == "pam_refused"


def test_a_delivered_ticket_reserve_confirms_the_reservation_and_keeps_it_reserved(
    pam: ScriptedPam,
) -> None:
    ticket, reserve = sold(pam, reserved=True)

    assert pam_call_deliver(delivery_id=reserve.pk) == "delivered"

    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESERVED
    assert ticket.pam_confirmed_at is not None
