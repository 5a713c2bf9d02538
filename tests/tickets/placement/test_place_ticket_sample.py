"""The contract's sample placed through HTTP (contract.md § Sample, § POST /be/tickets)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.support.api import signed_post
from tests.support.sample import sample_request, sample_setup
from tickets.models import Selection, Ticket, WebhookDelivery

pytestmark = pytest.mark.django_db

CONTRACT_FIELDS = [
    "id", "code", "price", "stake", "currency", "gross_payout", "net_payout", "wht_amount",
    "wht", "ext_amount", "ext", "ext_type", "status", "result", "approved", "source", "type",
    "atag", "rtag", "aff_instant_comm_amt", "aff_instant_comm_pct", "user_id", "psp",
    "created", "operator_time_created", "updated", "operator_time_updated", "odds",
    "betcard_code", "prize", "bonus_prizes",
]  # fmt: skip


def test_sample_request_answers_the_documented_ticket(client):
    # given
    sample = sample_setup()

    # when
    response = signed_post(client, sample.operator, "/be/tickets", sample_request())

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert list(body) == CONTRACT_FIELDS
    varying = {"id", "code", "created", "operator_time_created", "updated", "operator_time_updated"}
    assert {key: body[key] for key in CONTRACT_FIELDS if key not in varying} == {
        "price": 500, "stake": 444, "currency": "USD", "gross_payout": 0, "net_payout": 0,
        "wht_amount": 0, "wht": 10.0, "ext_amount": 56, "ext": 12.5, "ext_type": "inclusive",
        "status": "open", "result": "pending", "approved": True, "source": "desktop",
        "type": "jackpot", "atag": None, "rtag": "rk4rk4krnk3nrl3",
        "aff_instant_comm_amt": None, "aff_instant_comm_pct": None,
        "user_id": "sometokenvalue", "psp": "mobile", "odds": 274.06,
        "betcard_code": "ABC123", "prize": 10000, "bonus_prizes": [2000, 1500, 1000],
    }  # fmt: skip
    assert b'"wht":10.0,' in response.content
    assert b'"odds":274.06,' in response.content
    created = dt.datetime.strptime(body["created"], "%Y-%m-%dT%H:%M:%S.%f")
    local = dt.datetime.strptime(body["operator_time_created"], "%Y-%m-%dT%H:%M:%S.%f")
    assert local - created == dt.timedelta(hours=3)
    assert body["updated"] == body["created"]
    assert body["operator_time_updated"] == body["operator_time_created"]


def test_sample_ticket_is_stored_with_selections_and_one_pending_webhook(client):
    # given
    sample = sample_setup()

    # when
    body = signed_post(client, sample.operator, "/be/tickets", sample_request()).json()

    # then
    ticket = Ticket.objects.get(id=body["id"])
    assert ticket.code == body["code"]
    assert int(ticket.id[:8], 16) == int(ticket.created_at.timestamp())
    picks = [
        (s.event_id, s.bet_id, str(s.odds_submitted), str(s.odds_accepted))
        for s in Selection.objects.filter(ticket=ticket).order_by("id")
    ]
    assert picks == [
        (265825, 14, "2.550", "2.550"), (265826, 34, "3.620", "3.620"),
        (265827, 22, "1.550", "1.550"), (265828, 83, "2.110", "2.110"),
        (265829, 66, "5.100", "5.100"), (265830, 25, "1.780", "1.780"),
    ]  # fmt: skip
    deliveries = list(WebhookDelivery.objects.filter(ticket=ticket))
    assert [(d.action, d.status) for d in deliveries] == [("ticket_create", "pending")]
    data = json.loads(deliveries[0].body)["data"]
    assert (data["ticket_id"], data["price"], data["stake"], data["ext_amount"]) == (
        ticket.id,
        500,
        444,
        56,
    )
