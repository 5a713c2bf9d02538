"""tickets.outbox.waking: a wake is published by the process's publisher thread after commit,
gathered with others in a burst, alone after a quiet spell."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Sequence

import pytest
from prometheus_client import REGISTRY

from tickets.outbox import waking
from tickets.outbox.waking import DELIVER_BATCH_TASK, MESSAGE_IDS, Waker, _Wake, next_message


def skipped() -> float:
    return REGISTRY.get_sample_value("jackpot_pam_outbox_kicks_total", {"result": "skipped"}) or 0.0


class RecordingWaker(Waker):
    """A waker whose publishing records the messages and the thread that sent them."""

    def __init__(self) -> None:
        super().__init__()
        self.published: queue.Queue[tuple[tuple[int, ...], float | None, str]] = queue.Queue()

    def publish(
        self, ids: Sequence[int], *, countdown: float | None = None, priority: int | None = None
    ) -> bool:
        self.published.put((tuple(ids), countdown, threading.current_thread().name))
        return True


@pytest.mark.django_db
def test_a_wake_is_published_by_the_publisher_thread_after_commit(
    monkeypatch, django_capture_on_commit_callbacks
) -> None:
    # given
    recorder = RecordingWaker()
    monkeypatch.setattr(waking, "WAKER", recorder)

    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        waking.wake([41])
    assert recorder.published.empty()  # nothing before the commit
    for callback in callbacks:
        callback()

    # then
    assert recorder.published.get(timeout=5) == ((41,), None, "pam-kick")


@pytest.mark.django_db
def test_a_wake_with_a_countdown_keeps_it(monkeypatch, django_capture_on_commit_callbacks) -> None:
    recorder = RecordingWaker()
    monkeypatch.setattr(waking, "WAKER", recorder)

    with django_capture_on_commit_callbacks(execute=True):
        waking.wake([7], countdown=2.5)

    assert recorder.published.get(timeout=5) == ((7,), 2.5, "pam-kick")


@pytest.mark.django_db
def test_a_large_set_is_left_to_the_sweep(monkeypatch, django_capture_on_commit_callbacks) -> None:
    recorder = RecordingWaker()
    monkeypatch.setattr(waking, "WAKER", recorder)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        waking.wake(range(waking.WAKE_MAX_IDS + 1))

    assert callbacks == []


def test_a_full_queue_drops_the_wake_and_counts_it_skipped(monkeypatch) -> None:
    # given a publisher queue with no room left
    full: queue.Queue[_Wake] = queue.Queue(maxsize=1)
    full.put(_Wake((1,), None))
    waker = Waker()
    monkeypatch.setattr(waker, "_publisher", lambda: full)
    before = skipped()

    # when
    waker.wake_now([2, 3])

    # then
    assert [wake.ids for wake in full.queue] == [(1,)]
    assert skipped() == before + 2


@pytest.mark.django_db
def test_one_publisher_thread_serves_the_process() -> None:
    waker = Waker()

    assert waker._publisher() is waker._publisher()


def test_a_forked_child_starts_its_own_publisher() -> None:
    # given a waker with its thread running in this process
    waker = waking.WAKER
    parent_queue = waker._publisher()
    read, write = os.pipe()

    # when a child is forked
    pid = os.fork()
    if pid == 0:  # the child: its waker forgot the parent's thread
        fresh = waker._queue is None and waker._publisher() is not parent_queue
        os.write(write, b"1" if fresh else b"0")
        os._exit(0)
    os.waitpid(pid, 0)

    # then
    assert os.read(read, 1) == b"1"
    assert waker._publisher() is parent_queue


def wakes(*ids: int, countdown: float | None = None) -> queue.Queue[_Wake]:
    waiting: queue.Queue[_Wake] = queue.Queue()
    for delivery_id in ids:
        waiting.put(_Wake((delivery_id,), countdown))
    return waiting


def test_wakes_queued_together_are_gathered_into_one_message() -> None:
    message, held = next_message(wakes(7, 8, 9))

    assert (message.ids, held) == ((7, 8, 9), None)
    assert DELIVER_BATCH_TASK == "tickets.pam_call_deliver_batch"


def test_a_message_takes_at_most_the_batch_size() -> None:
    waiting = wakes(*range(MESSAGE_IDS + 3))

    first, held = next_message(waiting)
    second, _ = next_message(waiting, held=held)

    assert first.ids == tuple(range(MESSAGE_IDS))
    assert second.ids == (MESSAGE_IDS, MESSAGE_IDS + 1, MESSAGE_IDS + 2)


def test_a_wake_with_a_countdown_goes_in_a_message_of_its_own() -> None:
    waiting = wakes(5)
    waiting.put(_Wake((6,), 1.0))
    waiting.put(_Wake((7,), None))

    first, held = next_message(waiting)
    second, held = next_message(waiting, held=held)
    third, held = next_message(waiting, held=held)

    assert [(m.ids, m.countdown) for m in (first, second, third)] == [
        ((5,), None),
        ((6,), 1.0),
        ((7,), None),
    ]
    assert held is None


def test_a_wake_after_a_quiet_spell_leaves_at_once(monkeypatch) -> None:
    # given a long gathering window, and nothing published for longer than the quiet spell
    monkeypatch.setattr(waking, "GATHER_SECONDS", 5.0)
    quiet_since = time.monotonic() - waking.QUIET_SECONDS

    # when
    started = time.monotonic()
    message, _ = next_message(wakes(5), previous_at=quiet_since)

    # then it did not wait for company
    assert message.ids == (5,)
    assert time.monotonic() - started < 1.0


def test_a_wake_during_a_burst_waits_for_the_next_ones(monkeypatch) -> None:
    # given a message published just now, and another wake arriving 50 ms after this one
    monkeypatch.setattr(waking, "GATHER_SECONDS", 5.0)
    monkeypatch.setattr(waking, "MESSAGE_IDS", 2)
    waiting = wakes(5)
    threading.Timer(0.05, waiting.put, args=[_Wake((6,), None)]).start()

    # when
    message, _ = next_message(waiting, previous_at=time.monotonic())

    # then both share one message
    assert message.ids == (5, 6)
