"""Holding a betcard's settlement run lock from another database session, as a running
settlement does (tickets/settlement.py, one run per card)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg

from betcards.models import Betcard
from tests.support.worker import worker_database_url
from tickets.settlement.rounds import run_lock_name


@contextlib.contextmanager
def settlement_running(card: Betcard) -> Iterator[psycopg.Connection]:
    """Another session holds the card's run lock until the block ends (or the session is
    closed early)."""
    with psycopg.connect(worker_database_url(), autocommit=True) as session:
        session.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [run_lock_name(card)])
        yield session
