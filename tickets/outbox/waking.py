"""Waking the workers: the one way from a queued webhook row to a Celery task message.

The outbox row is the truth; a task message only tells a worker to look at it now instead
of at the next sweep, so waking is a latency optimisation that may fail (contract.md § PAM
webhooks: "a delivery that was never attempted ... is picked up by a periodic sweep").

`wake(ids)` hands the ids, once the caller's transaction commits, to this process's
publisher thread and returns at once: an operator's answer never waits for Redis (a publish
costs ~0.6 ms of CPU and a round trip, docs/performance.md). In a burst the thread puts the
ids that arrive within `GATHER_SECONDS` into one message; ids after a quiet spell leave at
once. With Redis down a publish fails after one connection try, and publishing pauses for
`PAUSE_SECONDS` (a circuit breaker): placement stays fast, the sweep sends the rows later.

All of it is one object per process, `Waker`; a forked child (a web or Celery pool
process) starts with a fresh one (`os.register_at_fork`), never with its parent's thread.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import structlog
from celery import current_app
from django.db import transaction

from tickets.outbox import metrics

log = structlog.get_logger(__name__)

DELIVER_TASK = "tickets.pam_call_deliver"
DELIVER_BATCH_TASK = "tickets.pam_call_deliver_batch"
MESSAGE_IDS = 25
"""Most delivery ids in one task message (a worker sends them one after the other)."""
SWEEP_PRIORITY = 9
"""The sweep's messages go last (Redis serves priority 0 first): a new ticket's wake
overtakes a settled card's backlog."""
WAKE_MAX_IDS = 1_000
"""A larger set (a settlement batch) is left to the sweep, which hands rows out as fast as
the workers take them instead of filling Redis with messages."""
PAUSE_SECONDS = 5.0
QUEUE_SIZE = 10_000
GATHER_SECONDS = 0.025
"""In a burst, how long a message waits for more ids: fewer, fuller messages cost the web
process less CPU (c=8: +17 % placements/s against 10 ms) for a later webhook under load
(sale -> PAM receipt median 23 -> 32 ms at 50 placements/s; docs/performance.md)."""
QUIET_SECONDS = 0.050


@dataclass(frozen=True, slots=True)
class _Wake:
    ids: tuple[int, ...]
    countdown: float | None


class Waker:
    """This process's publisher of delivery task messages (see the module docstring)."""

    def __init__(self) -> None:
        self.paused_until = 0.0
        self._queue: queue.Queue[_Wake] | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ from any thread
    def wake_now(self, ids: Sequence[int], *, countdown: float | None = None) -> None:
        """Queue a message for the publisher thread; a full queue (Redis far slower than
        placements) drops it: the sweep sends the rows."""
        try:
            self._publisher().put_nowait(_Wake(tuple(ids), countdown))
        except queue.Full:
            metrics.KICKS.labels("skipped").inc(len(ids))

    def publish(
        self, ids: Sequence[int], *, countdown: float | None = None, priority: int | None = None
    ) -> bool:
        """Publish one message for these ids at once; False when the broker could not take
        it (then publishing pauses). Never raises, never retries."""
        count = len(ids)
        if time.monotonic() < self.paused_until:
            metrics.KICKS.labels("skipped").inc(count)
            return False
        try:
            with current_app.producer_or_acquire() as producer:
                producer.connection.ensure_connection(max_retries=0)
                current_app.send_task(
                    DELIVER_BATCH_TASK,
                    args=[list(ids)],
                    countdown=countdown,
                    priority=priority,
                    producer=producer,
                )
        except Exception as exc:  # a broker problem must never fail the caller
            self.paused_until = time.monotonic() + PAUSE_SECONDS
            metrics.KICKS.labels("failed").inc(count)
            log.warning(
                "pam_kick_failed",
                delivery_id=ids[0],
                count=count,
                error=f"{type(exc).__name__}: {exc}",
            )
            return False
        metrics.KICKS.labels("published").inc(count)
        return True

    def queue_depth(self) -> int | None:
        """Task messages waiting in the broker's queue, every priority; None when the broker
        cannot be reached (or publishing is paused)."""
        if time.monotonic() < self.paused_until:
            return None
        try:
            with current_app.producer_or_acquire() as producer:
                producer.connection.ensure_connection(max_retries=0)
                declared = producer.channel.queue_declare(queue=current_app.conf.task_default_queue)
        except Exception as exc:  # as for a publish: the sweep stops, a later one goes on
            log.warning("pam_broker_queue_unknown", error=f"{type(exc).__name__}: {exc}")
            return None
        return int(declared.message_count)

    def forget_thread(self) -> None:
        """In a forked child: the parent's thread is not there; start afresh on first use."""
        self._queue = None
        self._lock = threading.Lock()
        self.paused_until = 0.0

    # ------------------------------------------------------------------ the publisher thread
    def _publisher(self) -> queue.Queue[_Wake]:
        if self._queue is None:
            with self._lock:
                if self._queue is None:
                    wakes: queue.Queue[_Wake] = queue.Queue(maxsize=QUEUE_SIZE)
                    threading.Thread(
                        target=self._publish_forever, args=(wakes,), name="pam-kick", daemon=True
                    ).start()
                    self._queue = wakes
        return self._queue

    def _publish_forever(self, wakes: queue.Queue[_Wake]) -> None:
        previous_at = 0.0
        held: _Wake | None = None
        while True:
            message, held = next_message(wakes, previous_at=previous_at, held=held)
            self.publish(message.ids, countdown=message.countdown)
            previous_at = time.monotonic()


def next_message(
    wakes: queue.Queue[_Wake], *, previous_at: float = 0.0, held: _Wake | None = None
) -> tuple[_Wake, _Wake | None]:
    """The next message to publish, and a wake taken from the queue that must go in a later
    one (`held`, given back on the next call).

    The next wake leaves alone when it has a countdown or ends a quiet spell (nothing
    published for `QUIET_SECONDS`, nothing queued behind it), so a lone placement's webhook
    leaves at once; in a burst it takes the ids of the wakes that arrive within
    `GATHER_SECONDS` (at most `MESSAGE_IDS`), so placements share messages."""
    first = held if held is not None else wakes.get()
    if first.countdown is not None or (
        wakes.empty() and time.monotonic() - previous_at >= QUIET_SECONDS
    ):
        return first, None
    ids = list(first.ids)
    deadline = time.monotonic() + GATHER_SECONDS
    while len(ids) < MESSAGE_IDS:
        wait = deadline - time.monotonic()
        if wait <= 0:
            break
        try:
            following = wakes.get(timeout=wait)
        except queue.Empty:
            break
        if following.countdown is not None or len(ids) + len(following.ids) > MESSAGE_IDS:
            return _Wake(tuple(ids), None), following
        ids.extend(following.ids)
    return _Wake(tuple(ids), None), None


WAKER = Waker()
os.register_at_fork(after_in_child=WAKER.forget_thread)


def wake(delivery_ids: Iterable[int], *, countdown: float | None = None) -> None:
    """Ask the workers to send these rows once the current transaction commits (at once
    outside one), `countdown` seconds from then if given. Never raises, never blocks."""
    ids = list(delivery_ids)
    if not ids or len(ids) > WAKE_MAX_IDS:
        return

    def wake_all() -> None:
        for start in range(0, len(ids), MESSAGE_IDS):
            WAKER.wake_now(ids[start : start + MESSAGE_IDS], countdown=countdown)

    transaction.on_commit(wake_all)
