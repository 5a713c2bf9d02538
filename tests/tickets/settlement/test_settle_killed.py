"""A settlement process killed mid-way (SIGKILL) resumes and pays each ticket exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.factories import BetcardFactory, TicketFactory
from tests.support.worker import worker_database_url
from tests.tickets.settlement.conftest import AWAY, card_event_ids, picks, results_enter
from tickets.models import Ticket, WebhookDelivery
from tickets.settlement.rounds import betcard_settle

ROOT = Path(__file__).resolve().parents[3]


def wait_until_blocked(lock_holder: psycopg.Connection, *, timeout: float = 30) -> None:
    """Until another backend of the test database waits for a row lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Statistics views keep one snapshot per transaction unless told to drop it.
        lock_holder.execute("SELECT pg_stat_clear_snapshot()")
        waiting = lock_holder.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        ).fetchone()
        if waiting and waiting[0]:
            return
        time.sleep(0.05)
    raise AssertionError("the settlement never reached the locked ticket")


@pytest.mark.django_db(transaction=True)
def test_a_settle_command_killed_mid_way_resumes_and_pays_each_ticket_once():
    # given: 6 tickets settled in batches of 2; the 3rd ticket (id order) is row-locked by
    # another session, so the command commits batch 1 and then waits inside batch 2
    card = BetcardFactory(events=3, code="KILL01", prize=10_000, bonus_prizes=[2_000])
    first, *_ = card_event_ids(card)
    results_enter(card)
    winners = TicketFactory.create_batch(3, betcard=card)
    one_miss = TicketFactory.create_batch(3, betcard=card, picks=picks(card, {first: AWAY}))
    ids = sorted(t.pk for t in winners + one_miss)
    with psycopg.connect(worker_database_url(), autocommit=False) as lock_holder:
        lock_holder.execute("SELECT 1 FROM tickets_ticket WHERE id = %s FOR UPDATE", [ids[2]])
        command = subprocess.Popen(
            [sys.executable, "manage.py", "settle_betcard", "KILL01", "--batch-size", "2"],
            cwd=ROOT,
            env={
                **os.environ,
                "DATABASE_URL": worker_database_url(),
                "REDIS_URL": "redis://127.0.0.1:1/0",  # no broker: the outbox sweep sends
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_blocked(lock_holder)
        finally:
            # when: the process dies mid-way
            command.send_signal(signal.SIGKILL)
            command.wait(timeout=30)
        lock_holder.rollback()
    assert sorted(Ticket.objects.filter(status="closed").values_list("pk", flat=True)) == ids[:2]
    assert WebhookDelivery.objects.count() == 2

    # and: settling again resumes with the frozen tiers
    report = betcard_settle(betcard=card)

    # then: every ticket paid once, one result webhook each
    assert report.graded_now == 4
    paid = dict(Ticket.objects.values_list("pk", "gross_payout"))
    assert paid == {
        **{t.pk: 3_333 for t in winners},
        **{t.pk: 666 for t in one_miss},
    }
    assert sorted(WebhookDelivery.objects.values_list("ticket_id", flat=True)) == ids
    assert set(WebhookDelivery.objects.values_list("dedupe_key", flat=True)) == {"result:1"}
