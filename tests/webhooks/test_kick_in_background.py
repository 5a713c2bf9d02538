"""tickets.pam_outbox: placement's kick is published by a background thread after commit."""

from __future__ import annotations

import queue
import threading
import time

import pytest
from prometheus_client import REGISTRY

from tickets import pam_outbox


@pytest.mark.django_db
def test_the_kick_is_published_by_the_publisher_thread_after_commit(
    monkeypatch, django_capture_on_commit_callbacks
) -> None:
    # given a publisher that records what it is asked to kick, and from which thread
    published: queue.Queue[tuple[int, str]] = queue.Queue()
    monkeypatch.setattr(
        pam_outbox,
        "delivery_kick",
        lambda delivery_id, **kw: published.put((delivery_id, threading.current_thread().name)),
    )

    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        pam_outbox.delivery_kick_in_background_after_commit(41)
    assert published.empty()  # nothing before the commit
    for callback in callbacks:
        callback()

    # then
    assert published.get(timeout=5) == (41, "pam-kick")


def test_a_full_queue_drops_the_kick_and_counts_it_skipped(monkeypatch) -> None:
    # given a queue with no room left
    full: queue.Queue[int] = queue.Queue(maxsize=1)
    full.put(1)
    monkeypatch.setattr(pam_outbox, "_publisher_queue", lambda: full)
    skipped = (
        REGISTRY.get_sample_value("jackpot_pam_outbox_kicks_total", {"result": "skipped"}) or 0.0
    )

    # when
    pam_outbox._kick_in_background(2)

    # then
    assert list(full.queue) == [1]
    assert (
        REGISTRY.get_sample_value("jackpot_pam_outbox_kicks_total", {"result": "skipped"})
        == skipped + 1
    )


@pytest.mark.django_db
def test_one_publisher_thread_serves_the_process() -> None:
    assert pam_outbox._publisher_queue() is pam_outbox._publisher_queue()
    assert [t.name for t in threading.enumerate()].count("pam-kick") == 1


def test_kicks_queued_together_are_gathered_into_one_message(monkeypatch) -> None:
    # given three kicks waiting, and a publisher that records its messages
    kicks: queue.Queue[int] = queue.Queue()
    for delivery_id in (7, 8, 9):
        kicks.put(delivery_id)
    messages: list[tuple[str, list[object]]] = []

    def publish(task: str, args: list[object], **kwargs: object) -> bool:
        messages.append((task, args))
        return True

    monkeypatch.setattr(pam_outbox, "_publish", publish)

    # when
    pam_outbox._publish_kicks(pam_outbox._next_kicks(kicks))

    # then one batch message, at the kicks' own (default) priority
    assert messages == [("tickets.pam_call_deliver_batch", [[7, 8, 9]])]


def test_a_message_takes_at_most_the_batch_size(monkeypatch) -> None:
    kicks: queue.Queue[int] = queue.Queue()
    for delivery_id in range(pam_outbox.SWEEP_MESSAGE_IDS + 3):
        kicks.put(delivery_id)

    first = pam_outbox._next_kicks(kicks)

    assert first == list(range(pam_outbox.SWEEP_MESSAGE_IDS))
    rest = pam_outbox.SWEEP_MESSAGE_IDS
    assert pam_outbox._next_kicks(kicks) == [rest, rest + 1, rest + 2]


def test_a_lone_kick_is_published_as_a_single_delivery(monkeypatch) -> None:
    kicked: list[int] = []
    monkeypatch.setattr(
        pam_outbox, "delivery_kick", lambda delivery_id, **kw: kicked.append(delivery_id)
    )
    kicks: queue.Queue[int] = queue.Queue()
    kicks.put(5)

    pam_outbox._publish_kicks(pam_outbox._next_kicks(kicks))

    assert kicked == [5]


def test_a_kick_after_a_quiet_spell_leaves_at_once(monkeypatch) -> None:
    # given a long gathering window, and nothing published for longer than the quiet spell
    monkeypatch.setattr(pam_outbox, "KICK_GATHER_SECONDS", 5.0)
    kicks: queue.Queue[int] = queue.Queue()
    kicks.put(5)
    quiet_since = time.monotonic() - pam_outbox.KICK_QUIET_SECONDS

    # when
    started = time.monotonic()
    ids = pam_outbox._next_kicks(kicks, previous_at=quiet_since)

    # then it did not wait for company
    assert ids == [5]
    assert time.monotonic() - started < 1.0


def test_a_kick_during_a_burst_waits_for_the_next_ones(monkeypatch) -> None:
    # given a message published just now, and another kick arriving 50 ms after this one
    monkeypatch.setattr(pam_outbox, "KICK_GATHER_SECONDS", 5.0)
    monkeypatch.setattr(pam_outbox, "SWEEP_MESSAGE_IDS", 2)
    kicks: queue.Queue[int] = queue.Queue()
    kicks.put(5)
    threading.Timer(0.05, kicks.put, args=[6]).start()

    # when
    ids = pam_outbox._next_kicks(kicks, previous_at=time.monotonic())

    # then both share one message
    assert ids == [5, 6]
