"""A `paid` racing the expiry has exactly one winner (contract.md § Pay later)."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time

import pytest
from django.db import connection
from django.test import Client

from jackpot.core import clock
from tests.support.api import signed_post
from tests.support.sample import sample_request, sample_setup
from tickets.lifecycle import reservations_expire
from tickets.models import Ticket, TicketStatus, WebhookDelivery

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TICKETS = 12


def test_each_reservation_is_either_paid_or_expired_never_both():
    # given: reservations expiring one after the other over the next two seconds
    sample = sample_setup()
    client = Client()
    ids = [
        signed_post(
            client, sample.operator, "/be/tickets/reserve", sample_request(token=f"p{n}")
        ).json()["id"]
        for n in range(TICKETS)
    ]
    soon = clock.now() + dt.timedelta(milliseconds=500)
    for number, ticket_id in enumerate(ids):
        Ticket.objects.filter(pk=ticket_id).update(
            reserved_until=soon + dt.timedelta(milliseconds=120 * number)
        )
    answers: dict[str, int] = {}
    stop = threading.Event()

    def pay(ticket_id: str) -> None:
        time.sleep(random.uniform(0.3, 2.0))
        try:
            response = signed_post(Client(), sample.operator, f"/be/tickets/{ticket_id}/paid", b"")
            answers[ticket_id] = response.status_code
        finally:
            connection.close()

    def sweep() -> None:
        try:
            while not stop.is_set():
                reservations_expire(now=clock.now())
        finally:
            connection.close()

    # when: payments and the sweep run at once
    sweeper = threading.Thread(target=sweep)
    payers = [threading.Thread(target=pay, args=(ticket_id,)) for ticket_id in ids]
    sweeper.start()
    for thread in payers:
        thread.start()
    for thread in payers:
        thread.join()
    time.sleep(0.3)
    stop.set()
    sweeper.join()

    # then: a 200 left an open ticket and nothing sent; a 117 a cancelled one and a discard
    for ticket_id in ids:
        ticket = Ticket.objects.get(pk=ticket_id)
        discards = WebhookDelivery.objects.filter(ticket=ticket, action="ticket_discard").count()
        if answers[ticket_id] == 200:
            assert (ticket.status, discards) == (TicketStatus.OPEN, 0), ticket_id
            assert ticket.paid_at is not None
            assert ticket.reserved_until is not None
            assert ticket.paid_at < ticket.reserved_until
        else:
            assert answers[ticket_id] == 400
            assert (ticket.status, ticket.cancel_reason, discards) == (
                TicketStatus.CANCELLED, "reservation_expired", 1,
            ), ticket_id  # fmt: skip
    assert len(answers) == TICKETS
