"""Back-office test helpers: a PAM that records what the admin sends, a private broker.
The staff clients (admin_client, manager_client, clerk_client) are in tests.support.staff."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from tests.support.worker import RedisServer, private_broker


class _RecordingPam(BaseHTTPRequestHandler):
    answers: ClassVar[list[tuple[int, bytes]]] = []
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.received.append((dict(self.headers.items()), body))
        status, answer = self.answers[0] if self.answers else (200, b"{}")
        self.send_response(status)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class LocalPam:
    url: str
    received: list[tuple[dict[str, str], bytes]]
    answers: list[tuple[int, bytes]]

    def answer_with(self, status: int, body: bytes) -> None:
        self.answers[:] = [(status, body)]


@pytest.fixture
def local_pam() -> Iterator[LocalPam]:
    """A PAM on 127.0.0.1 (OS-chosen port) that records what it gets and answers 200 `{}`."""
    handler = type("Pam", (_RecordingPam,), {"answers": [], "received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalPam(
            url=f"http://127.0.0.1:{server.server_port}/pam",
            received=handler.received,
            answers=handler.answers,
        )
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def broker() -> Iterator[RedisServer]:
    """A private, empty Redis that this process publishes to: what the back office queued
    can be read back (`queued_tasks`)."""
    with private_broker() as redis:
        yield redis
