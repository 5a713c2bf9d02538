"""The Python client (clients/python) against a live engine (granian, as deployed): typed
answers, references, pages, errors, and a retry that never makes a second ticket."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jackpot_client import ApiError, Card, InvalidRequest, JackpotClient, NotAuthenticated, Ticket

from betcards.models import Bet
from operators.models import Operator
from tests.support.sample import sample_setup
from tests.support.web import WebServer
from tickets.models import Ticket as TicketRow

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def engine() -> Iterator[tuple[WebServer, Operator]]:
    sample = sample_setup()
    with WebServer() as server:
        yield server, sample.operator


def client_of(server: WebServer, operator: Operator, **options: Any) -> JackpotClient:
    return JackpotClient(server.url, operator=operator.name, secret=operator.secret_key, **options)


def order_from(client: JackpotClient, token: str) -> dict[str, Any]:
    pick = client.pick("ABC123", strategy="favourites")
    return {
        "token": token, "psp": "mobile", "price": pick.price, "currency": pick.currency,
        "atag": None, "rtag": None, "source": "desktop", "type": "jackpot", "odds_diff": 5,
        "events": pick.events, "betcard_code": pick.betcard_code, "prize": pick.prize,
        "bonus_prizes": pick.bonus_prizes,
    }  # fmt: skip


def test_a_purchase_with_a_reference_is_one_ticket_however_often_it_is_sent(engine):
    server, operator = engine
    with client_of(server, operator) as client:
        order = order_from(client, "player-1")

        first, replayed_first = client.place_ticket(order, reference="order-1")
        again, replayed_again = client.place_ticket(order, reference="order-1")
        other, _ = client.place_ticket(order, reference="order-2")

        assert isinstance(first, Ticket)
        assert (replayed_first, replayed_again) == (False, True)
        assert again.id == first.id != other.id
        assert client.ticket("order-1").id == first.id
        assert [selection.bet for selection in client.ticket(first.code).events or []]
    assert TicketRow.objects.count() == 2


def test_an_answer_lost_on_the_way_is_retried_with_the_same_bytes_and_makes_one_ticket(engine):
    # given: the first answer is lost after the engine placed the ticket
    server, operator = engine
    real = httpx.HTTPTransport()
    sent: list[tuple[bytes, str]] = []

    class LosesTheFirstAnswer(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = real.handle_request(request)
            if request.method == "POST":
                sent.append((request.read(), request.headers["signature"]))
                if len(sent) == 1:
                    response.read()
                    response.close()
                    raise httpx.ReadError("connection reset after the request", request=request)
            return response

    with (
        real,
        client_of(server, operator, transport=LosesTheFirstAnswer(), backoff=0.01) as client,
    ):
        order = order_from(client, "player-2")

        # when
        ticket, replayed = client.place_ticket(order)

    # then: the retry was the same signed bytes, answered as a replay: one ticket
    assert len(sent) == 2
    assert sent[0] == sent[1]
    assert replayed is True
    assert TicketRow.objects.filter(pk=ticket.id).count() == TicketRow.objects.count() == 1


def test_the_list_follows_every_page(engine):
    server, operator = engine
    with client_of(server, operator) as client:
        order = order_from(client, "p")
        placed = [client.place_ticket(order, reference=f"page-{n}")[0].id for n in range(5)]

        listed = [ticket.id for ticket in client.tickets(limit=2)]

    assert listed == sorted(placed, reverse=True)


def test_cards_and_picks_are_typed(engine):
    server, operator = engine
    with client_of(server, operator) as client:
        [card] = client.cards()
        pick = client.pick("ABC123", strategy="random", seed=7)

    assert isinstance(card, Card)
    assert card.code == "ABC123"
    assert len(card.events) == 6
    assert card.events[0].markets[0].bets[0].odds > 1
    assert len(pick.events) == 6


def test_refusals_are_typed_errors(engine):
    server, operator = engine
    with client_of(server, operator) as client:
        order = order_from(client, "player-3")
        Bet.objects.filter(id=order["events"][0]["bet"]).update(odds=100)

        with pytest.raises(ApiError) as moved:
            client.place_ticket({**order, "odds_diff": 0})
        with pytest.raises(InvalidRequest) as invalid:
            client.place_ticket({**order, "price": "500", "token": " "})
        with pytest.raises(ApiError) as unknown:
            client.ticket("NOSUCH")

    assert (moved.value.status, moved.value.code) == (400, 110)
    assert moved.value.details == {"event_id": order["events"][0]["id"], "current_odds": 100.0}
    assert {tuple(error["loc"]) for error in invalid.value.errors} == {
        ("body", "price"),
        ("body", "token"),
    }
    assert (unknown.value.status, unknown.value.code) == (404, 102)
    with (
        pytest.raises(NotAuthenticated),
        JackpotClient(server.url, operator=operator.name, secret="wrong") as wrong,
    ):
        wrong.cards()


def test_a_strict_operator_is_served_by_a_strict_client(engine):
    server, operator = engine
    Operator.objects.filter(pk=operator.pk).update(signing="strict")
    with client_of(server, operator, signing="strict") as client:
        ticket, _ = client.place_ticket(order_from(client, "strict player"), reference="s-1")

    assert TicketRow.objects.get(pk=ticket.id).token == "strict player"
