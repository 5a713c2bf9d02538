"""Idempotency-Key on POST /be/tickets (contract.md § Idempotency)."""

from __future__ import annotations

import json

import pytest

from tests.factories import OperatorFactory
from tests.support.api import signed_post
from tests.support.sample import sample_request, sample_setup
from tickets.models import Selection, Ticket, WebhookDelivery, WriteReceipt

pytestmark = pytest.mark.django_db

PATH = "/be/tickets"
KEY = {"Idempotency-Key": "order-7781"}


def test_repeat_with_same_key_and_body_returns_the_first_answer_and_creates_nothing(client):
    # given
    sample = sample_setup()
    first = signed_post(client, sample.operator, PATH, sample_request(), headers=KEY)

    # when
    second = signed_post(client, sample.operator, PATH, sample_request(), headers=KEY)

    # then
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert Ticket.objects.count() == 1
    assert Selection.objects.count() == 6
    assert WebhookDelivery.objects.count() == 1


def test_replay_is_the_first_answer_even_after_the_ticket_changed(client):
    # given the ticket was cancelled since and the market blocked
    sample = sample_setup()
    first = signed_post(client, sample.operator, PATH, sample_request(), headers=KEY)
    Ticket.objects.update(status="cancelled", approved=False, result="void")

    # when
    second = signed_post(client, sample.operator, PATH, sample_request(), headers=KEY)

    # then
    assert second.content == first.content


def test_same_body_formatted_differently_is_a_replay(client):
    sample = sample_setup()
    first = signed_post(client, sample.operator, PATH, sample_request(), headers=KEY)
    reordered = dict(reversed(list(sample_request().items())))

    second = signed_post(
        client, sample.operator, PATH, json.dumps(reordered, indent=2).encode(), headers=KEY
    )

    assert second.content == first.content


def test_same_key_with_a_different_body_is_409(client):
    # given
    sample = sample_setup()
    signed_post(client, sample.operator, PATH, sample_request(), headers=KEY)

    # when
    response = signed_post(
        client, sample.operator, PATH, sample_request(token="another-player"), headers=KEY
    )

    # then
    assert response.status_code == 409
    assert response.json() == {
        "code": 128,
        "message": "Idempotency key `order-7781` was already used with a different request body",
    }
    assert Ticket.objects.count() == 1


def test_keys_are_per_operator(client):
    # given acme used the key
    sample = sample_setup()
    signed_post(client, sample.operator, PATH, sample_request(), headers=KEY)
    other = OperatorFactory(name="other")

    # when another operator uses the same key
    response = signed_post(client, other, PATH, sample_request(operator="other"), headers=KEY)

    # then it gets its own ticket
    assert response.status_code == 200
    assert Ticket.objects.count() == 2


def test_requests_without_key_create_a_ticket_each(client):
    sample = sample_setup()

    # (different players: the same signed bytes again would be a replay, tests/.../replays)
    codes = {
        signed_post(client, sample.operator, PATH, sample_request(token=f"p{n}")).json()["code"]
        for n in range(3)
    }

    assert len(codes) == 3
    assert not WriteReceipt.objects.filter(idempotency_key__isnull=False).exists()


def test_rejected_request_does_not_use_up_its_key(client):
    # given a first attempt rejected with 124
    sample = sample_setup()
    rejected = signed_post(
        client, sample.operator, PATH, sample_request(currency="EUR"), headers=KEY
    )

    # when it is retried corrected, with the same key
    retried = signed_post(client, sample.operator, PATH, sample_request(), headers=KEY)

    # then
    assert rejected.json()["code"] == 124
    assert retried.status_code == 200
