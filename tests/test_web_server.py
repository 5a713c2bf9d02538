"""The production web server (`jackpot.serve`: granian + `jackpot.rsgi`), for real over HTTP.

- 413 for bodies over 64 KiB, with and without a Content-Length (contract.md §
  Authentication): Django's test client cannot send a chunked body;
- slow clients hold no thread: with 50 connections trickling their headers and 50 their
  body, a placement is answered at once (docs/running.md § Slow clients);
- a body that never finishes is answered 408 after REQUEST_BODY_SECONDS.
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.api import compact, signed_headers
from tests.support.sample import sample_request, sample_setup
from tests.support.web import WebServer
from tickets.models import Ticket

pytestmark = pytest.mark.slow

LIMIT = 64 * 1024
SLOW_CLIENTS = 50


@pytest.fixture(scope="module")
def server(django_db_setup: None, django_db_blocker) -> Iterator[WebServer]:
    with django_db_blocker.unblock(), WebServer(env={"REQUEST_BODY_SECONDS": "3"}) as web:
        yield web


def _chunks(total: int, size: int = 8192) -> Iterator[bytes]:
    yield b'{"token": "'
    sent = 11
    while sent < total:
        yield b"x" * size
        sent += size


def test_chunked_body_over_the_limit_is_413(server):
    response = httpx.post(
        f"{server.url}/be/tickets",
        content=_chunks(1024 * 1024),
        headers={"content-type": "application/json"},
        timeout=30,
    )

    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json() == {"detail": f"Request body is larger than {LIMIT} bytes."}


def test_declared_body_over_the_limit_is_413(server):
    response = httpx.post(
        f"{server.url}/be/tickets",
        content=b"{" + b" " * LIMIT + b"}",
        headers={"content-type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 413


def test_small_chunked_body_reaches_authentication(server):
    response = httpx.post(
        f"{server.url}/be/tickets",
        content=iter([b'{"operator":', b' "acme"}']),
        headers={"content-type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 403


def test_a_body_that_never_finishes_is_408(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /be/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        started = time.monotonic()
        answer = sock.recv(4096)

    assert answer.startswith(b"HTTP/1.1 408")
    assert 2.5 < time.monotonic() - started < 6


def _hold_slow_clients(port: int) -> list[socket.socket]:
    """SLOW_CLIENTS connections stuck in their headers and as many stuck in their body."""
    held = []
    for number in range(SLOW_CLIENTS * 2):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if number % 2:
            sock.sendall(b"POST /be/tickets HTTP/1.1\r\nHost: x\r\nContent-Type: applic")
        else:
            head = b"POST /be/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
            sock.sendall(head + b'{"operator"')
        held.append(sock)
    return held


@pytest.mark.django_db(transaction=True)
def test_slow_clients_do_not_stop_a_placement(server):
    # given: the sample card, and 100 connections trickling their headers or their body
    sample = sample_setup()
    body = compact(sample_request())
    held = _hold_slow_clients(server.port)
    try:
        time.sleep(0.5)

        # when: a player's ticket is placed meanwhile
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        started = time.monotonic()
        connection.request(
            "POST",
            "/be/tickets",
            body,
            {"content-type": "application/json", **signed_headers(sample.operator, body)},
        )
        response = connection.getresponse()
        elapsed = time.monotonic() - started
        answer = response.read()
        connection.close()
    finally:
        for sock in held:
            sock.close()

    # then
    assert response.status == 200, answer
    assert elapsed < 2.0
    assert Ticket.objects.count() == 1
