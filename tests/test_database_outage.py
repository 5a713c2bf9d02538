"""A database outage under a steady placement load (contract: operators get an answer
their client can act on): while PostgreSQL cannot be reached the API answers 503 JSON with
Retry-After, quickly, never an HTML page or a 500; when it is back, placements resume and no
ticket that was answered 200 is missing."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx
import pytest
from django.db import connection

from tests.support.api import compact, signed_headers
from tests.support.proxy import TcpProxy
from tests.support.sample import sample_request, sample_setup
from tests.support.web import WebServer
from tickets.models import Ticket

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@dataclass(frozen=True)
class Answer:
    at: float
    status: int
    seconds: float
    content_type: str
    retry_after: str | None
    body: dict[str, object]


def place_steadily(
    url: str, operator, stop: threading.Event, answers: list[Answer], client_name: str = "steady"
) -> None:
    started = time.monotonic()
    number = 0
    with httpx.Client(timeout=15) as client:
        while not stop.is_set():
            number += 1
            body = compact(sample_request(token=f"{client_name}-{number}"))
            headers = {"content-type": "application/json", **signed_headers(operator, body)}
            sent = time.monotonic()
            response = client.post(f"{url}/be/tickets", content=body, headers=headers)
            content_type = response.headers.get("content-type", "")
            answers.append(
                Answer(
                    at=sent - started,
                    status=response.status_code,
                    seconds=time.monotonic() - sent,
                    content_type=content_type,
                    retry_after=response.headers.get("retry-after"),
                    body=response.json() if "json" in content_type else {},
                )
            )
            time.sleep(0.02)


def test_an_outage_is_a_quick_503_with_retry_after_and_nothing_is_lost():
    # given: the sample card, and the web server reaching PostgreSQL through a proxy
    sample = sample_setup()
    name = connection.settings_dict["NAME"]
    with (
        TcpProxy(connection.get_connection_params()) as proxy,
        WebServer(database_url=proxy.database_url(name), env={"WEB_THREADS": "4"}) as server,
    ):
        answers: list[Answer] = []
        stop = threading.Event()
        load = threading.Thread(
            target=place_steadily, args=(server.url, sample.operator, stop, answers)
        )
        load.start()
        try:
            # when: the database goes away for 2 s under load, then comes back
            time.sleep(1.5)
            proxy.down()
            time.sleep(1.0)
            readiness = httpx.get(f"{server.url}/ready", timeout=5)
            liveness = httpx.get(f"{server.url}/health", timeout=5)
            time.sleep(1.0)
            proxy.up()
            time.sleep(2.0)
        finally:
            stop.set()
            load.join(timeout=30)

    # then: the probes told it apart: alive, not ready
    assert liveness.status_code == 200
    assert readiness.status_code == 503
    assert readiness.json() == {"status": "unavailable", "database": "down", "broker": "ok"}
    # and answers during the outage were 503 JSON with Retry-After, each within ~a second
    outage = [a for a in answers if a.status != 200]
    assert outage, "no request met the outage"
    assert {a.status for a in outage} == {503}
    assert all(a.content_type == "application/json" for a in outage)
    assert all(a.retry_after == "1" for a in outage)
    assert all(set(a.body) == {"detail"} for a in outage)
    assert max(a.seconds for a in outage) < 1.5
    # placements resumed once it was back, and every ticket answered 200 exists
    assert answers[-1].status == 200
    placed = [a.body["id"] for a in answers if a.status == 200]
    assert Ticket.objects.filter(pk__in=placed).count() == len(placed) > 10


def test_a_connection_the_database_ended_between_requests_is_replaced_unseen():
    # given: a web server with one thread, whose connection has served a placement
    sample = sample_setup()
    with WebServer(env={"WEB_THREADS": "1"}) as server, httpx.Client(timeout=15) as client:

        def place(token: str) -> httpx.Response:
            body = compact(sample_request(token=token))
            headers = {"content-type": "application/json", **signed_headers(sample.operator, body)}
            return client.post(f"{server.url}/be/tickets", content=body, headers=headers)

        assert place("before").status_code == 200

        # when: PostgreSQL ends it (as on a restart or a failover), between two requests
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend'"
            )
            (ended,) = cursor.fetchone()
        time.sleep(0.2)  # the termination reaches the server's socket

        # then: the next placement reconnects instead of failing
        assert ended >= 1
        response = place("after")
    assert response.status_code == 200, response.text
    assert Ticket.objects.count() == 2


def timed_get(url: str) -> tuple[int, float, dict[str, object]]:
    sent = time.monotonic()
    response = httpx.get(url, timeout=30)
    return response.status_code, time.monotonic() - sent, response.json()


def test_a_frozen_database_costs_a_request_a_bounded_wait_and_a_503():
    # given: the web server (8 request threads) reaching PostgreSQL through a proxy, and
    # three clients placing steadily
    sample = sample_setup()
    name = connection.settings_dict["NAME"]
    with (
        TcpProxy(connection.get_connection_params()) as proxy,
        WebServer(database_url=proxy.database_url(name), env={"WEB_THREADS": "8"}) as server,
    ):
        answers: list[Answer] = []
        stop = threading.Event()
        loads = [
            threading.Thread(
                target=place_steadily,
                args=(server.url, sample.operator, stop, answers, f"client{number}"),
            )
            for number in range(3)
        ]
        for load in loads:
            load.start()
        try:
            # when: the database stops answering for 5 s (nothing refused, nothing forwarded)
            time.sleep(1.5)
            frozen_at = time.monotonic()
            proxy.freeze()
            time.sleep(0.5)
            liveness = timed_get(f"{server.url}/health")
            readiness = timed_get(f"{server.url}/ready")
            time.sleep(5.0 - (time.monotonic() - frozen_at))
            proxy.thaw()
            time.sleep(2.5)
        finally:
            stop.set()
            for load in loads:
                load.join(timeout=60)

    # then: liveness answered at once, readiness said "down" within its bound
    assert liveness[0] == 200
    assert liveness[1] < 0.5
    assert readiness[0] == 503
    assert readiness[2]["database"] == "down"
    assert readiness[1] < 2.5
    # every placement met by the freeze got a 503 JSON with Retry-After within 2.5 s
    # (a call's deadline is 1.5 s; a new connection's libpq minimum is 2 s)
    stalled = [a for a in answers if a.status != 200]
    assert len(stalled) >= 3, "no request met the freeze"
    assert {a.status for a in stalled} == {503}
    assert all(a.content_type == "application/json" and a.retry_after == "1" for a in stalled)
    assert max(a.seconds for a in answers) < 2.5
    # placements resumed once it answered again, and every ticket answered 200 exists
    assert answers[-1].status == 200
    placed = [a.body["id"] for a in answers if a.status == 200]
    assert Ticket.objects.filter(pk__in=placed).count() == len(placed) > 10
