"""A bet or market that changes between placement's unlocked read and its write
(tickets/placement.py): the write statement notices, writes nothing, and placement checks
again on locked values, so a ticket is never sold on odds or a market state that were
already replaced."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from betcards.models import Bet, Market
from betcards.snapshots import BetcardSnapshot
from tests.support.api import signed_post
from tests.support.sample import sample_request, sample_setup
from tickets.models import Selection, Ticket, WebhookDelivery
from tickets.placement import service as placement

pytestmark = pytest.mark.django_db


def _change_right_after_the_read(
    monkeypatch: pytest.MonkeyPatch, change: Callable[[], object]
) -> None:
    read = placement.betcard_snapshot_for_placement

    def read_then_change(code: str, bet_ids: list[int]) -> BetcardSnapshot | None:
        card = read(code, bet_ids)
        change()
        return card

    monkeypatch.setattr(placement, "betcard_snapshot_for_placement", read_then_change)


def test_market_blocked_after_the_read_refuses_with_109_and_writes_nothing(client, monkeypatch):
    # given
    sample = sample_setup()
    _change_right_after_the_read(
        monkeypatch, lambda: Market.objects.filter(id=2658300).update(is_blocked=True)
    )

    # when
    response = signed_post(client, sample.operator, "/be/tickets", sample_request())

    # then
    assert (response.status_code, response.json()) == (
        400,
        {"code": 109, "message": "Market is blocked", "event_id": 265830},
    )
    assert not Ticket.objects.exists()
    assert not Selection.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_odds_moved_too_far_after_the_read_refuses_with_110(client, monkeypatch):
    # given 2.55 -> 2.82: more than the request's 10.5 %
    sample = sample_setup()
    _change_right_after_the_read(
        monkeypatch, lambda: Bet.objects.filter(id=14).update(odds=Decimal("2.82"))
    )

    # when
    response = signed_post(client, sample.operator, "/be/tickets", sample_request())

    # then
    assert (response.status_code, response.json()["code"]) == (400, 110)
    assert not Ticket.objects.exists()


def test_odds_moved_within_tolerance_after_the_read_sell_at_the_new_odds(client, monkeypatch):
    # given 2.55 -> 2.6 once the card was read: still within 10.5 %
    sample = sample_setup()
    _change_right_after_the_read(
        monkeypatch, lambda: Bet.objects.filter(id=14).update(odds=Decimal("2.6"))
    )

    # when
    with CaptureQueriesContext(connection) as queries:
        response = signed_post(client, sample.operator, "/be/tickets", sample_request())

    # then the ticket carries the odds current at its write, not those first read
    assert response.status_code == 200
    body = response.json()
    assert body["odds"] == 279.44  # 2.6*3.62*1.55*2.11*5.1*1.78
    selection = Selection.objects.get(ticket_id=body["id"], event_id=265825)
    assert selection.odds_accepted == Decimal("2.6")
    assert Ticket.objects.count() == 1
    assert WebhookDelivery.objects.filter(ticket_id=body["id"]).count() == 1
    # and it took the locked second pass: a FOR SHARE read before the second write
    statements = [query["sql"] for query in queries.captured_queries]
    assert sum("FOR SHARE" in sql and "INSERT" not in sql for sql in statements) == 1
