"""The shipped deployment puts nginx in front of the web server (deploy/nginx.conf): silent
sockets cannot stop the engine, and what nginx itself refuses is JSON too.

granian closes a connection that started its request head and did not finish it, but never
one that connected and sent nothing: about a thousand such sockets fill its workers'
connection slots and every placement and /health then time out (issue 30). The proxy
closes them `client_header_timeout` after accepting them and keeps answering the others.
"""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.support.api import compact, signed_headers
from tests.support.front_proxy import FrontProxy, nginx_binary
from tests.support.sample import sample_request, sample_setup
from tests.support.web import WebServer
from tickets.models import Ticket

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        nginx_binary() is None, reason="nginx is not installed (.ci/run installs it)"
    ),
]

SILENT = 3000
HEADER_TIMEOUT = 10.0  # client_header_timeout in deploy/nginx.conf


def open_silent_sockets(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for number in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if number % 2:
            sock.send(b"G")  # half of them send one byte, then nothing
        sockets.append(sock)
    return sockets


def _closed_by_peer(sock: socket.socket) -> bool:
    """True when the other end closed it (after any answer, e.g. a 408), False when it is
    still open and silent."""
    sock.settimeout(0.5)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def test_3000_silent_sockets_do_not_stop_placements_and_are_closed():
    # given: the web server behind the shipped proxy, and 3,000 sockets that say nothing
    sample = sample_setup()
    with WebServer() as server, FrontProxy(server.port) as proxy:
        opened = time.monotonic()
        silent = open_silent_sockets(proxy.port, SILENT)
        try:
            # when: placements and probes are sent while they are held open
            with httpx.Client(timeout=10) as client:
                answers = []
                for number in range(10):
                    body = compact(sample_request(token=f"through-proxy-{number}"))
                    headers = {
                        "content-type": "application/json",
                        **signed_headers(sample.operator, body),
                    }
                    sent = time.monotonic()
                    response = client.post(f"{proxy.url}/be/tickets", content=body, headers=headers)
                    answers.append((response.status_code, time.monotonic() - sent))
                health = client.get(f"{proxy.url}/health")

            # then: every placement was answered, each in under a second
            assert [status for status, _ in answers] == [200] * 10
            assert max(seconds for _, seconds in answers) < 1.0
            assert health.status_code == 200

            # and the proxy closes the silent sockets once the header timeout has passed
            time.sleep(max(0.0, opened + HEADER_TIMEOUT + 2.0 - time.monotonic()))
            closed = sum(_closed_by_peer(sock) for sock in silent)
        finally:
            for sock in silent:
                sock.close()

    assert closed == SILENT
    assert Ticket.objects.count() == 10


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /be/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Probe: a\x00b\r\n\r\n",
        b'GET /bc/jackpots/X HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: "a\x01b"\r\n\r\n',
        b"GET /be/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: \x7f\r\n\r\n",
        b"GET /be/tic kets HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ],
)
def test_what_the_proxy_refuses_is_a_json_400(raw):
    with (
        WebServer() as server,
        FrontProxy(server.port) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock,
    ):
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"content-type: application/json" in head.lower()
    assert body.startswith(b'{"detail": "Bad request')
