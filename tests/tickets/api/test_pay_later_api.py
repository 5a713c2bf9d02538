"""Pay later (contract.md § Pay later): POST /be/tickets/reserve, POST .../paid, expiry."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from jackpot.core import clock
from tests.factories import OperatorFactory
from tests.support.api import signed_post
from tests.support.sample import sample_request, sample_setup
from tests.tickets.settlement.conftest import DRAW, results_enter
from tickets.lifecycle import reservations_expire
from tickets.models import Ticket, TicketStatus, WebhookDelivery
from tickets.outbox.payloads import TICKET_CREATE, TICKET_RESERVE, body
from tickets.settlement.rounds import betcard_settle

pytestmark = pytest.mark.django_db

RESERVE = "/be/tickets/reserve"


@pytest.fixture
def sample():
    return sample_setup()


def reserve(client, sample, **changes):
    return signed_post(client, sample.operator, RESERVE, sample_request(**changes))


def pay(client, operator, identifier, **kwargs):
    return signed_post(client, operator, f"/be/tickets/{identifier}/paid", b"", **kwargs)


def test_a_reservation_is_reserved_not_approved_with_a_ticket_reserve_and_no_debit(client, sample):
    # when
    response = reserve(client, sample)

    # then
    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["status"], answer["approved"], answer["result"]) == (
        "reserved",
        False,
        "pending",
    )
    assert (answer["price"], answer["stake"], answer["odds"]) == (500, 444, 274.06)
    ticket = Ticket.objects.select_related("operator").get(pk=answer["id"])
    [delivery] = WebhookDelivery.objects.filter(ticket=ticket)
    assert delivery.action == "ticket_reserve"
    assert delivery.body.encode() == body(TICKET_RESERVE, ticket)
    # the data of ticket_create, in the same order
    assert json.loads(delivery.body)["data"] == json.loads(body(TICKET_CREATE, ticket))["data"]
    # when it expires is readable: the Reserved-Until header (UTC, the contract's format)
    assert ticket.reserved_until is not None
    assert response["Reserved-Until"] == ticket.reserved_until.strftime("%Y-%m-%dT%H:%M:%S.%f")
    placed = signed_post(client, sample.operator, "/be/tickets", sample_request(token="paid"))
    assert "Reserved-Until" not in placed


def test_a_reservation_ends_after_the_operators_reservation_time(client):
    sample = sample_setup(reservation_minutes=45)
    before = clock.now()

    answer = reserve(client, sample).json()

    until = Ticket.objects.get(pk=answer["id"]).reserved_until
    assert until is not None
    assert before + dt.timedelta(minutes=45) <= until <= clock.now() + dt.timedelta(minutes=45)


def test_a_reservation_ends_when_its_card_stops_selling_if_sooner(client, sample):
    closes = timezone.now().replace(microsecond=0) + dt.timedelta(minutes=10)
    sample.betcard.closes_at = closes
    sample.betcard.save()

    answer = reserve(client, sample).json()

    assert Ticket.objects.get(pk=answer["id"]).reserved_until == closes


def test_a_reservation_makes_the_same_checks_as_a_placement(client, sample):
    response = reserve(client, sample, price=400)

    assert response.status_code == 400
    assert response.json()["code"] == 123
    assert not Ticket.objects.exists()


def test_one_idempotency_key_for_a_placement_and_a_reservation_of_one_body_is_409(client, sample):
    headers = {"Idempotency-Key": "k-1"}
    first = signed_post(client, sample.operator, "/be/tickets", sample_request(), headers=headers)
    again = signed_post(
        client, sample.operator, RESERVE, sample_request(token="x"), headers=headers
    )
    reserved = signed_post(client, sample.operator, RESERVE, sample_request(), headers=headers)

    assert first.status_code == 200
    assert again.status_code == reserved.status_code == 409


def test_a_reservation_is_idempotent_with_its_key(client, sample):
    headers = {"Idempotency-Key": "r-1"}
    first = reserve_with(client, sample, headers, timestamp=int(clock.now().timestamp()) - 1)
    again = reserve_with(client, sample, headers)

    assert first.content == again.content
    assert Ticket.objects.count() == 1


def reserve_with(client, sample, headers, **kwargs):
    return signed_post(
        client, sample.operator, RESERVE, sample_request(), headers=headers, **kwargs
    )


# ----------------------------------------------------------------------------- paid
def test_paid_opens_the_reservation_and_sends_nothing(client, sample):
    # given
    reserved = reserve(client, sample).json()

    # when
    response = pay(client, sample.operator, reserved["code"])

    # then
    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["id"], answer["status"], answer["approved"]) == (reserved["id"], "open", True)
    assert answer["updated"] >= reserved["updated"]
    ticket = Ticket.objects.get(pk=reserved["id"])
    assert ticket.paid_at is not None
    assert list(WebhookDelivery.objects.values_list("action", flat=True)) == ["ticket_reserve"]


@pytest.mark.parametrize("status", [TicketStatus.OPEN, TicketStatus.CANCELLED, TicketStatus.CLOSED])
def test_paid_on_anything_but_a_reservation_is_117(client, sample, status):
    reserved = reserve(client, sample).json()
    Ticket.objects.filter(pk=reserved["id"]).update(status=status)

    response = pay(client, sample.operator, reserved["id"])

    assert response.status_code == 400
    assert response.json() == {
        "code": 117,
        "message": "Ticket has to have `reserved` status in order to do this action",
    }


def test_paid_after_the_reservation_time_is_117_even_before_the_sweep(client, sample):
    reserved = reserve(client, sample).json()
    Ticket.objects.filter(pk=reserved["id"]).update(
        reserved_until=clock.now() - dt.timedelta(seconds=1)
    )

    response = pay(client, sample.operator, reserved["id"])

    assert response.status_code == 400
    assert response.json()["code"] == 117
    assert Ticket.objects.get(pk=reserved["id"]).status == TicketStatus.RESERVED


@pytest.mark.parametrize("identifier", ["ZZZZZZ", "0" * 24, "not-a-ticket"])
def test_paid_for_an_unknown_ticket_is_404_102(client, sample, identifier):
    response = pay(client, sample.operator, identifier)

    assert response.status_code == 404
    assert response.json() == {
        "code": 102,
        "message": f"Ticket with `{identifier}` identifier is not found",
    }


def test_paid_for_another_operators_reservation_is_404_102(client, sample):
    reserved = reserve(client, sample).json()
    rival = OperatorFactory()

    response = pay(client, rival, reserved["code"])

    assert response.status_code == 404
    assert Ticket.objects.get(pk=reserved["id"]).status == TicketStatus.RESERVED


def test_paid_with_an_idempotency_key_answers_its_repeat_alike(client, sample):
    # given
    reserved = reserve(client, sample).json()
    headers = {"Idempotency-Key": "pay-1"}
    stamp = int(clock.now().timestamp())

    # when: the same call twice (different signatures), then once without the key
    first = pay(client, sample.operator, reserved["code"], headers=headers, timestamp=stamp - 1)
    again = pay(client, sample.operator, reserved["code"], headers=headers, timestamp=stamp)
    unkeyed = pay(client, sample.operator, reserved["code"], timestamp=stamp - 2)

    # then
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert unkeyed.status_code == 400


def test_paid_idempotency_key_used_for_another_ticket_is_409(client, sample):
    one = reserve(client, sample, token="a").json()
    two = reserve(client, sample, token="b").json()
    headers = {"Idempotency-Key": "pay-2"}

    assert pay(client, sample.operator, one["id"], headers=headers).status_code == 200
    response = pay(client, sample.operator, two["id"], headers=headers)

    assert response.status_code == 409
    assert response.json()["code"] == 128
    assert response.json()["message"].endswith("was already used with a different ticket")
    assert Ticket.objects.get(pk=two["id"]).status == TicketStatus.RESERVED


# ----------------------------------------------------------------------------- expiry
def test_the_sweep_cancels_expired_reservations_with_a_discard(client, sample):
    # given: one expired, one still running
    expired = reserve(client, sample, token="late").json()
    running = reserve(client, sample, token="early").json()
    Ticket.objects.filter(pk=expired["id"]).update(reserved_until=clock.now())

    # when
    count = reservations_expire(now=clock.now())

    # then
    assert count == 1
    ticket = Ticket.objects.get(pk=expired["id"])
    assert (ticket.status, ticket.result, ticket.approved, ticket.cancel_reason) == (
        "cancelled", "void", False, "reservation_expired",
    )  # fmt: skip
    reserve_row, discard = WebhookDelivery.objects.filter(ticket=ticket).order_by("pk")
    assert (reserve_row.action, reserve_row.status) == ("ticket_reserve", "failed")  # stopped
    assert discard.action == "ticket_discard"
    assert json.loads(discard.body)["data"]["reason"] == "reservation_expired"
    assert Ticket.objects.get(pk=running["id"]).status == TicketStatus.RESERVED


def test_reserved_tickets_never_reach_settlement(client, sample):
    # given: one paid ticket, one reservation still waiting
    paid = signed_post(client, sample.operator, "/be/tickets", sample_request()).json()
    waiting = reserve(client, sample, token="later").json()
    results_enter(sample.betcard, {event.id: DRAW for event in sample.events})

    # when
    betcard_settle(betcard=sample.betcard)

    # then
    assert Ticket.objects.get(pk=paid["id"]).status == TicketStatus.CLOSED
    assert Ticket.objects.get(pk=waiting["id"]).status == TicketStatus.RESERVED
    assert not WebhookDelivery.objects.filter(
        ticket_id=waiting["id"], action__in=["ticket_win", "ticket_lost", "ticket_void"]
    ).exists()
