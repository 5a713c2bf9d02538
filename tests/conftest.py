"""Test infrastructure shared by every test module (state builders live in factories.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from pytest_django import DjangoDbBlocker

from tests.support.pam import ScriptedPam

pytest_plugins = ["tests.support.staff"]


def pytest_configure() -> None:
    # WhiteNoise warns (an error under filterwarnings) when STATIC_ROOT is missing, which it
    # is on a fresh clone before collectstatic; every test through the middleware needs it.
    from pathlib import Path

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    # Test data lives in transactions that roll back, whose changes are never notified:
    # process-local caches are off here (tests/test_change_feed.py turns them on).
    settings.LOCAL_CACHES = False


@pytest.fixture(scope="session", autouse=True)
def _close_stray_test_database_sessions(
    django_db_setup: None, django_db_blocker: DjangoDbBlocker
) -> Iterator[None]:
    """End sessions a test left open (a worker subprocess, a kick thread) before the test
    database is dropped: DROP DATABASE fails while another session is connected."""
    yield
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Staff passwords hashed with MD5 in tests: PBKDF2 costs a quarter second a login."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def pam() -> Iterator[ScriptedPam]:
    """A local PAM that records the webhooks it gets and answers as scripted."""
    with ScriptedPam() as scripted:
        yield scripted


@pytest.fixture(autouse=True)
def _kicks_not_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed publish in an earlier test must not pause this test's wakes."""
    from tickets.outbox.waking import WAKER  # the apps are ready once a test runs

    monkeypatch.setattr(WAKER, "paused_until", 0.0)
