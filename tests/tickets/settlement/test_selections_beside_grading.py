"""Selection results written beside the grading, on a second connection (docs/settlement.md).

These run outside a test transaction: the marker's own connection only sees what the
grading committed, as in production.
"""

from __future__ import annotations

import threading

import pytest

from tests.factories import BetcardFactory, TicketFactory
from tests.tickets.settlement.conftest import AWAY, DRAW, VOID, card_event_ids, picks, results_enter
from tickets.models import Selection, Settlement, Ticket, TicketStatus
from tickets.settlement import marking, rounds
from tickets.settlement.rounds import betcard_settle

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def card_with_tickets(monkeypatch):
    """13 events, home wins all but the 13th (void); 25 tickets, each missing events of its
    own; chunks of 3 tickets, so the marker follows the grading's batches in many steps."""
    monkeypatch.setattr(rounds, "SELECTIONS_CHUNK", 3)
    card = BetcardFactory(events=13, prize=100_000, bonus_prizes=[20_000], code="BESIDE")
    events = card_event_ids(card)
    results_enter(card, {events[12]: VOID})
    for number in range(25):
        misses = {events[n]: (DRAW if n % 2 else AWAY) for n in range(number % 5)}
        TicketFactory(betcard=card, picks=picks(card, misses))
    return card, events


def expected_results(card, events) -> dict[int, str]:
    """Selection id -> result, from the picks and the entered results."""
    winning = {event: picks(card)[event] for event in events[:12]}
    return {
        selection.pk: (
            "void"
            if selection.event_id == events[12]
            else "won"
            if selection.bet_id == winning[selection.event_id]
            else "lost"
        )
        for selection in Selection.objects.filter(ticket__betcard=card)
    }


def test_the_marker_thread_writes_every_selection_result_as_batches_commit(
    card_with_tickets, monkeypatch
):
    card, events = card_with_tickets
    threads: list[str] = []
    original = marking.selections_chunk_mark

    def recording(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(marking, "selections_chunk_mark", recording)

    report = betcard_settle(betcard=card, batch_size=4)

    assert report.graded_now == 25
    assert set(threads) == {"settlement-marker"}
    assert len(threads) >= 9  # 25 tickets in chunks of 3, with waits for the grading
    assert dict(
        Selection.objects.filter(ticket__betcard=card).values_list("pk", "result")
    ) == expected_results(card, events)
    assert set(Ticket.objects.filter(betcard=card).values_list("status", flat=True)) == {
        TicketStatus.CLOSED
    }


def test_a_marker_error_fails_the_run_and_a_rerun_finishes_it(card_with_tickets, monkeypatch):
    card, events = card_with_tickets
    original = marking.selections_chunk_mark
    calls = 0

    def failing_once(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the marker's connection broke")
        return original(*args, **kwargs)

    monkeypatch.setattr(marking, "selections_chunk_mark", failing_once)

    with pytest.raises(RuntimeError, match="connection broke"):
        betcard_settle(betcard=card, batch_size=4)
    assert Settlement.objects.get(betcard=card).finished_at is None

    betcard_settle(betcard=card, batch_size=4)

    assert Settlement.objects.get(betcard=card).finished_at is not None
    assert set(Ticket.objects.filter(betcard=card).values_list("status", flat=True)) == {
        TicketStatus.CLOSED
    }
    assert dict(
        Selection.objects.filter(ticket__betcard=card).values_list("pk", "result")
    ) == expected_results(card, events)
