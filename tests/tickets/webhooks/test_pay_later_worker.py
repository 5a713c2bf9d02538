"""Pay later end to end: a real Celery worker (with beat), Redis and a local PAM.

reserve → paid → settle tells the PAM `ticket_reserve` then the result; reserve → expire
tells it `ticket_reserve` then `ticket_discard` (reason `reservation_expired`), the expiry
found by beat's sweep (every 0.5 s here).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from jackpot.core import clock
from tests.support.api import signed_post
from tests.support.pam import ScriptedPam
from tests.support.sample import sample_request, sample_setup
from tests.support.worker import CeleryWorker, wait_until
from tests.tickets.settlement.conftest import DRAW, results_enter
from tickets.models import Ticket, TicketStatus
from tickets.settlement.rounds import betcard_settle

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def test_reserve_then_paid_then_settled_reaches_the_pam(
    pam: ScriptedPam, celery_worker: CeleryWorker, client: Client
) -> None:
    # given
    sample = sample_setup(webhook_url=pam.url)
    pam.trust(sample.operator)

    # when: reserved, reported paid, then the card is settled
    reserved = signed_post(client, sample.operator, "/be/tickets/reserve", sample_request())
    ticket_id = reserved.json()["id"]
    pam.wait_for(lambda got: any(r.action == "ticket_reserve" for r in got), what="ticket_reserve")
    paid = signed_post(client, sample.operator, f"/be/tickets/{ticket_id}/paid", b"")
    results_enter(sample.betcard, {event.id: DRAW for event in sample.events})
    betcard_settle(betcard=sample.betcard)

    # then
    assert (reserved.json()["status"], paid.json()["status"]) == ("reserved", "open")
    pam.wait_for(lambda got: any(r.action == "ticket_lost" for r in got), what="the result")
    assert [request.action for request in pam.received] == ["ticket_reserve", "ticket_lost"]
    assert all(request.signature_ok for request in pam.received)
    assert Ticket.objects.get(pk=ticket_id).status == TicketStatus.CLOSED


def test_reserve_then_expire_sends_a_discard(
    pam: ScriptedPam, celery_worker: CeleryWorker, client: Client
) -> None:
    # given: a reservation whose time runs out in a second
    sample = sample_setup(webhook_url=pam.url)
    pam.trust(sample.operator)
    reserved = signed_post(client, sample.operator, "/be/tickets/reserve", sample_request())
    ticket_id = reserved.json()["id"]
    Ticket.objects.filter(pk=ticket_id).update(reserved_until=clock.now() + dt.timedelta(seconds=1))

    # when: beat's sweep finds it
    wait_until(
        lambda: Ticket.objects.get(pk=ticket_id).status == TicketStatus.CANCELLED,
        what="the reservation expired",
    )

    # then
    pam.wait_for(lambda got: any(r.action == "ticket_discard" for r in got), what="discard")
    assert [request.action for request in pam.received] == ["ticket_reserve", "ticket_discard"]
    assert (pam.of_action("ticket_discard")[0].data or {})["reason"] == "reservation_expired"
    late = signed_post(client, sample.operator, f"/be/tickets/{ticket_id}/paid", b"")
    assert (late.status_code, late.json()["code"]) == (400, 117)
