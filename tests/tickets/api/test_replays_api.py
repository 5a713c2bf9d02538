"""Replays (contract.md § Replays): the same signed request again gets the first answer and
creates nothing, for every write."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client

from betcards.models import Bet
from jackpot.core import clock
from tests.support.api import signed_post
from tests.support.sample import sample_request, sample_setup
from tickets.models import Ticket, TicketStatus, WebhookDelivery, WriteReceipt
from tickets.receipts import receipts_forget

pytestmark = pytest.mark.django_db

STAMP = int(clock.now().timestamp())


@pytest.fixture
def sample():
    return sample_setup()


@pytest.mark.parametrize("path", ["/be/tickets", "/be/tickets/reserve"])
def test_the_same_signed_bytes_twice_make_one_ticket_and_one_webhook(client, sample, path):
    first = signed_post(client, sample.operator, path, sample_request(), timestamp=STAMP)
    again = signed_post(client, sample.operator, path, sample_request(), timestamp=STAMP)

    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert Ticket.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1


def test_a_replay_with_another_idempotency_key_still_gets_the_first_answer(client, sample):
    first = signed_post(client, sample.operator, "/be/tickets", sample_request(), timestamp=STAMP)
    again = signed_post(
        client,
        sample.operator,
        "/be/tickets",
        sample_request(),
        timestamp=STAMP,
        headers={"Idempotency-Key": "added-by-whoever-replays"},
    )

    assert again.content == first.content
    assert Ticket.objects.count() == 1


def test_a_replay_after_the_odds_moved_still_gets_the_first_answer(client, sample):
    # given: a ticket placed, then the odds changed so that the request would now fail (110)
    first = signed_post(client, sample.operator, "/be/tickets", sample_request(), timestamp=STAMP)
    Bet.objects.filter(pk=14).update(odds=Decimal("9.9"))

    # when
    again = signed_post(client, sample.operator, "/be/tickets", sample_request(), timestamp=STAMP)

    # then
    assert again.status_code == 200
    assert again.content == first.content


def test_the_same_body_at_another_timestamp_is_a_new_request(client, sample):
    signed_post(client, sample.operator, "/be/tickets", sample_request(), timestamp=STAMP)
    signed_post(client, sample.operator, "/be/tickets", sample_request(), timestamp=STAMP - 1)

    assert Ticket.objects.count() == 2


def test_a_rejected_request_replayed_is_checked_again_and_creates_nothing(client, sample):
    body = sample_request(price=1)
    first = signed_post(client, sample.operator, "/be/tickets", body, timestamp=STAMP)
    again = signed_post(client, sample.operator, "/be/tickets", body, timestamp=STAMP)

    assert first.status_code == again.status_code == 400
    assert not Ticket.objects.exists()


def test_a_replayed_paid_gets_the_first_answer(client, sample):
    # given
    reserved = signed_post(client, sample.operator, "/be/tickets/reserve", sample_request())
    path = f"/be/tickets/{reserved.json()['code']}/paid"

    # when
    first = signed_post(client, sample.operator, path, b"", timestamp=STAMP)
    again = signed_post(client, sample.operator, path, b"", timestamp=STAMP)

    # then
    assert first.status_code == again.status_code == 200
    assert again.content == first.content


def test_two_reservations_paid_in_the_same_second_are_not_replays(client, sample):
    # A body-less request signs `{timestamp}` alone: the engine counts the path in.
    one = signed_post(client, sample.operator, "/be/tickets/reserve", sample_request(token="a"))
    two = signed_post(client, sample.operator, "/be/tickets/reserve", sample_request(token="b"))

    paid = [
        signed_post(
            client, sample.operator, f"/be/tickets/{r.json()['id']}/paid", b"", timestamp=STAMP
        )
        for r in (one, two)
    ]

    assert [answer.status_code for answer in paid] == [200, 200]
    assert set(Ticket.objects.values_list("status", flat=True)) == {TicketStatus.OPEN}


def test_receipts_are_forgotten_once_no_replay_can_pass(client, sample):
    signed_post(client, sample.operator, "/be/tickets", sample_request(), timestamp=STAMP)
    [receipt] = WriteReceipt.objects.all()
    expires = receipt.signature_expires_at
    assert expires is not None

    assert receipts_forget(now=expires - dt.timedelta(seconds=1)) == 0
    assert receipts_forget(now=expires) == 1
    # 300 s of skew either side of the request, and a minute to spare
    assert expires - receipt.created_at == dt.timedelta(seconds=660)
    assert not WriteReceipt.objects.exists()  # it had no other key


def test_a_forgotten_signature_keeps_the_reference_and_the_idempotency_key(client, sample):
    signed_post(
        client,
        sample.operator,
        "/be/tickets",
        sample_request(reference="order-1"),
        timestamp=STAMP,
        headers={"Idempotency-Key": "k-1"},
    )
    [receipt] = WriteReceipt.objects.all()
    assert receipt.signature_expires_at is not None

    assert receipts_forget(now=receipt.signature_expires_at) == 1

    receipt.refresh_from_db()
    assert (receipt.signature, receipt.signature_expires_at) == (None, None)
    assert (receipt.idempotency_key, receipt.reference) == ("purchase:k-1", "order-1")
    later = signed_post(client, sample.operator, "/be/tickets", sample_request(reference="order-1"))
    assert later.status_code == 200
    assert later["Replayed"] == "true"
    assert Ticket.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_copies_make_one_ticket_and_one_ticket_create():
    # given
    sample = sample_setup()
    answers: list[tuple[int, bytes]] = []
    start = threading.Barrier(20)

    def send() -> None:
        client = Client()
        start.wait()
        try:
            response = signed_post(
                client, sample.operator, "/be/tickets", sample_request(), timestamp=STAMP
            )
            answers.append((response.status_code, response.content))
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then
    assert {status for status, _ in answers} == {200}
    assert len({content for _, content in answers}) == 1
    assert Ticket.objects.count() == 1
    assert WebhookDelivery.objects.filter(action="ticket_create").count() == 1
