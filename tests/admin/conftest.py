"""Logged-in admin clients for the back-office tests (one per kind of staff member)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, User
from django.test import Client

from jackpot.staff_groups import CLERK, MANAGER, staff_groups_sync
from tests.support.worker import RedisServer, private_broker

PASSWORD = "back-office-password-1"


def staff_user(username: str, *, group: str | None = None, superuser: bool = False) -> User:
    if superuser:
        return User.objects.create_superuser(username, f"{username}@example.com", PASSWORD)
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD, is_staff=True)
    if group:
        if not Group.objects.filter(name=group).exists():
            # A transactional test flushed the migration's rows: make the groups again.
            staff_groups_sync(django_apps)
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def superuser(db: None) -> User:
    return staff_user("root", superuser=True)


@pytest.fixture
def admin_client(superuser: User) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def manager(db: None) -> User:
    return staff_user("manny", group=MANAGER)


@pytest.fixture
def manager_client(manager: User) -> Client:
    client = Client()
    client.force_login(manager)
    return client


@pytest.fixture
def clerk(db: None) -> User:
    return staff_user("clara", group=CLERK)


@pytest.fixture
def clerk_client(clerk: User) -> Client:
    client = Client()
    client.force_login(clerk)
    return client


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
