"""Concurrent placements against the production web server (granian, jackpot.rsgi) with
real threads and Postgres (contract.md § POST /be/tickets: one transaction, unique codes,
idempotency; the FOR SHARE read of markets).

Not Django's live server: its backlog of 10 and thread per connection reset connections
under a loaded CI machine, which says nothing about the engine."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from django.db import connection, transaction

from betcards.models import Market
from betcards.snapshots import bets_for_placement
from tests.support.api import compact, signed_headers
from tests.support.sample import sample_request, sample_setup
from tests.support.web import WebServer
from tickets.models import Selection, Ticket, WebhookDelivery

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TICKETS = 50
# Half as many client threads as tickets: the Postgres server is shared with other test
# runs, and every in-flight request holds a connection.
THREADS = 25


@pytest.fixture
def server() -> Iterator[WebServer]:
    with WebServer(env={"WEB_WORKERS": "2"}) as running:
        yield running


def _post(
    url: str, operator, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    raw = compact(body)
    with httpx.Client(timeout=60) as http:
        return http.post(
            f"{url}/be/tickets",
            content=raw,
            headers={
                "content-type": "application/json",
                **signed_headers(operator, raw),
                **(headers or {}),
            },
        )


def test_concurrent_placements_each_get_a_unique_code_selections_and_one_webhook(server: WebServer):
    # given
    sample = sample_setup()
    start = threading.Barrier(THREADS)

    def place(number: int) -> httpx.Response:
        if number < THREADS:
            start.wait()
        return _post(server.url, sample.operator, sample_request(token=f"player-{number}"))

    # when
    with ThreadPoolExecutor(THREADS) as pool:
        responses = list(pool.map(place, range(TICKETS)))

    # then
    assert [response.status_code for response in responses] == [200] * TICKETS
    codes = {response.json()["code"] for response in responses}
    assert len(codes) == TICKETS
    assert Ticket.objects.count() == TICKETS
    for ticket in Ticket.objects.all():
        assert Selection.objects.filter(ticket=ticket).count() == 6
        assert list(
            WebhookDelivery.objects.filter(ticket=ticket).values_list("action", "status")
        ) == [("ticket_create", "pending")]


def test_concurrent_duplicates_with_one_idempotency_key_create_one_ticket(server: WebServer):
    # given
    sample = sample_setup()
    start = threading.Barrier(10)

    def place(_: int) -> httpx.Response:
        start.wait()
        return _post(server.url, sample.operator, sample_request(), {"Idempotency-Key": "same"})

    # when
    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(place, range(10)))

    # then
    assert {response.status_code for response in responses} == {200}
    assert len({response.content for response in responses}) == 1
    assert Ticket.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1


def test_placement_waits_for_a_market_being_blocked_and_then_refuses(server: WebServer):
    # given a back-office transaction blocking a market of the card, not yet committed
    sample = sample_setup()
    with ThreadPoolExecutor(1) as pool, transaction.atomic():
        Market.objects.filter(id=2658270).update(is_blocked=True)

        # when a ticket is placed meanwhile
        pending = pool.submit(_post, server.url, sample.operator, sample_request())
        time.sleep(1.0)

        # then it waits for the block to be decided
        assert not pending.done()
    response = pending.result(timeout=30)
    assert response.status_code == 400
    assert response.json() == {"code": 109, "message": "Market is blocked", "event_id": 265827}
    assert Ticket.objects.count() == 0


def test_market_block_waits_for_a_placement_holding_its_lock():
    # given a placement transaction holding the market row FOR SHARE (its locking read)
    sample = sample_setup()
    blocked_at: list[float] = []

    def block() -> None:
        try:
            Market.objects.filter(id=2658270).update(is_blocked=True)
            blocked_at.append(time.monotonic())
        finally:
            connection.close()  # this thread's own connection

    with ThreadPoolExecutor(1) as pool:
        with transaction.atomic():
            bets_for_placement([22])
            pending = pool.submit(block)
            time.sleep(0.5)
            released_at = time.monotonic()
            # when the placement commits
        pending.result(timeout=30)

    # then the block happened only after it
    assert blocked_at[0] >= released_at
    assert Market.objects.get(id=2658270).is_blocked
    assert sample.betcard.code == "ABC123"
