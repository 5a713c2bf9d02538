"""The first step past one machine (docs/scaling.md): two web servers and two Celery workers
on one database and one broker, as two nodes behind a proxy would run. Placements sent to
both at once get unique codes, every ticket's `ticket_create` reaches the PAM exactly once,
and a player limit holds across both servers."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.api import compact, signed_headers
from tests.support.pam import ScriptedPam
from tests.support.sample import sample_request, sample_setup
from tests.support.web import WebServer
from tests.support.worker import CeleryWorker, RedisServer, private_broker
from tickets.models import DeliveryStatus, Ticket, WebhookDelivery

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PLAYERS = 30  # one ticket each
GREEDY = 10  # requests of one player allowed 3 tickets
LIMIT = 3


@pytest.fixture
def broker() -> Iterator[RedisServer]:
    with private_broker() as redis:
        yield redis


@pytest.fixture
def workers(broker: RedisServer, tmp_path: Path) -> Iterator[list[CeleryWorker]]:
    started = [
        CeleryWorker(broker_url=broker.url, log_dir=tmp_path, env={}, beat=beat).start()
        for beat in (True, False)
    ]
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture
def servers(broker: RedisServer) -> Iterator[list[WebServer]]:
    env = {"REDIS_URL": broker.url, "WEB_WORKERS": "1"}
    with WebServer(env=env) as first, WebServer(env=env) as second:
        yield [first, second]


def test_two_servers_and_two_workers_share_one_database(
    pam: ScriptedPam, workers: list[CeleryWorker], servers: list[WebServer]
) -> None:
    # given: an operator whose players may hold 3 tickets on a card
    sample = sample_setup(webhook_url=pam.url, max_tickets_per_player=LIMIT)
    pam.trust(sample.operator)
    requests = [sample_request(token=f"player-{number}") for number in range(PLAYERS)]
    requests += [sample_request(token="greedy", rtag=f"try-{n}") for n in range(GREEDY)]
    start = threading.Barrier(len(requests))

    def place(number: int) -> httpx.Response:
        raw = compact(requests[number])
        server = servers[number % 2]  # every other request to the other node
        start.wait()
        return httpx.post(
            f"{server.url}/be/tickets",
            content=raw,
            headers={"content-type": "application/json", **signed_headers(sample.operator, raw)},
            timeout=60,
        )

    # when: all at once, half to each server
    with ThreadPoolExecutor(len(requests)) as pool:
        answers = list(pool.map(place, range(len(requests))))

    # then: every player's ticket, and exactly the greedy player's limit
    statuses = [answer.status_code for answer in answers]
    assert statuses[:PLAYERS] == [200] * PLAYERS
    greedy = answers[PLAYERS:]
    assert sorted(answer.status_code for answer in greedy) == [200] * LIMIT + [400] * (
        GREEDY - LIMIT
    )
    assert {answer.json()["code"] for answer in greedy if answer.status_code == 400} == {130}
    placed = [answer.json() for answer in answers if answer.status_code == 200]
    assert len({ticket["code"] for ticket in placed}) == PLAYERS + LIMIT
    assert Ticket.objects.count() == PLAYERS + LIMIT

    # and every ticket_create reaches the PAM once, whichever worker sent it
    ids = {ticket["id"] for ticket in placed}
    pam.wait_for(
        lambda got: {(hook.data or {}).get("ticket_id") for hook in got} >= ids,
        timeout=60,
        what="a ticket_create per ticket",
    )
    time.sleep(1)  # a duplicate would come now
    sent = Counter((hook.data or {}).get("ticket_id") for hook in pam.of_action("ticket_create"))
    assert sent == Counter(ids)  # each once
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {
        DeliveryStatus.DELIVERED
    }
