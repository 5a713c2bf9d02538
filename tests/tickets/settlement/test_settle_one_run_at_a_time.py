"""One settlement run per card at a time (tickets/settlement.py, docs/settlement.md): a
second run while one holds the card is refused with code 153 and changes nothing; the
command says so, and a queued task comes back later (the admin: tests/admin)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest
from celery.exceptions import Retry
from django.core.management import CommandError, call_command

from betcards.models import Betcard, BetcardStatus
from jackpot.core.errors import SettlementRunning
from tests.factories import BetcardFactory, TicketFactory
from tests.support.settlement import settlement_running
from tests.support.worker import worker_database_url
from tests.tickets.settlement.conftest import results_enter
from tickets.models import Settlement, Ticket
from tickets.settlement import rounds as settlement
from tickets.settlement.rounds import betcard_resettle, betcard_settle, run_lock_name
from tickets.tasks import betcard_settle_task

pytestmark = pytest.mark.django_db

RUNNING = (
    "Betcard `RUN001` is being settled by another run: wait for it to finish (its round shows "
    "as running on the card's page)"
)


@pytest.fixture
def card():
    card = BetcardFactory(events=2, code="RUN001", status=BetcardStatus.CLOSED, prize=10_000)
    results_enter(card)
    TicketFactory.create_batch(2, betcard=card)
    return card


@pytest.fixture
def other_run(card: Betcard, monkeypatch: pytest.MonkeyPatch) -> Iterator[psycopg.Connection]:
    monkeypatch.setattr(settlement, "RUN_LOCK_WAIT_SECONDS", 0.3)
    with settlement_running(card) as session:
        yield session


def test_a_second_run_is_refused_with_153_and_changes_nothing(card, other_run):
    with pytest.raises(SettlementRunning) as refused:
        betcard_settle(betcard=card)

    assert (refused.value.code, refused.value.message) == (153, RUNNING)
    assert not Settlement.objects.exists()
    assert not Ticket.objects.filter(status="closed").exists()
    assert Betcard.objects.get(pk=card.pk).status == BetcardStatus.CLOSED


def test_a_resettlement_is_refused_too_while_a_run_holds_the_card(card, other_run):
    with pytest.raises(SettlementRunning):
        betcard_resettle(betcard=card, reason="wrong result", changed_by=None)


def test_a_run_waits_briefly_for_a_lock_that_is_being_released(card, other_run, monkeypatch):
    # given the other session ends soon after (a killed run's session finishing to die)
    monkeypatch.setattr(settlement, "RUN_LOCK_WAIT_SECONDS", 10.0)
    threading.Timer(0.5, other_run.close).start()

    # when
    report = betcard_settle(betcard=card)

    # then
    assert report.graded_now == 2
    assert Betcard.objects.get(pk=card.pk).status == BetcardStatus.SETTLED


def test_the_run_lock_is_released_when_a_run_ends(card):
    betcard_settle(betcard=card)

    with psycopg.connect(worker_database_url(), autocommit=True) as session:
        row = session.execute(
            "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
            [run_lock_name(card)],
        ).fetchone()
    assert row == (True,)


def test_the_command_reports_the_other_run(card, other_run):
    with pytest.raises(CommandError, match=r"is being settled by another run"):
        call_command("settle_betcard", "RUN001", "--no-progress")

    assert not Settlement.objects.exists()


def test_a_queued_task_that_finds_the_card_running_retries_in_a_minute(
    card, other_run, monkeypatch
):
    retried: dict[str, object] = {}

    def retry(**options: object) -> Retry:
        retried.update(options)
        return Retry()

    monkeypatch.setattr(betcard_settle_task, "retry", retry)

    with pytest.raises(Retry):
        betcard_settle_task(card.pk)

    assert retried["countdown"] == 60
    assert isinstance(retried["exc"], SettlementRunning)
    assert not Settlement.objects.exists()
