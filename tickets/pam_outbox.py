"""The PAM webhook outbox (contract.md § PAM webhooks; design in docs/webhooks.md).

A webhook is a `WebhookDelivery` row written in the same transaction as the change it
reports; after commit a Celery task is asked to send it (`delivery_kick`, a latency
optimisation only): the periodic `pam_outbox_sweep` re-queues any row that is due and not in
flight, so a lost kick (Redis down, worker killed) delays a webhook but never loses it.
Sending, recording attempts and the retry schedule live in `tickets.pam_delivery`; this
module holds the outbox's entry points: queueing, kicking, sweeping, and the back-office
actions (retry now, cancel a ticket with its `ticket_discard`).
"""

from __future__ import annotations

import datetime as dt
import os
import queue
import threading
import time
from enum import StrEnum
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from jackpot.celery import app as celery_app
from jackpot.core import clock
from tickets import pam_metrics as metrics
from tickets.models import (
    DeliveryStatus,
    Ticket,
    TicketResult,
    TicketStatus,
    WebhookAction,
    WebhookDelivery,
)
from tickets.webhook_payloads import ticket_discard_data, webhook_body

log = structlog.get_logger(__name__)

DELIVER_TASK = "tickets.pam_call_deliver"
DELIVER_BATCH_TASK = "tickets.pam_call_deliver_batch"
# After a failed publish, skip publishing for this long: placement must stay fast while
# Redis is down, and the sweep sends the rows once it is back.
KICK_PAUSE_SECONDS = 5.0
# The sweep hands rows out this many ids to a task message, at the lowest priority (Redis
# serves priority 0 first), so a new ticket's kick overtakes a settled card's backlog.
SWEEP_MESSAGE_IDS = 25
SWEEP_PRIORITY = 9
# How often a sweep whose broker queue is full looks again for room.
SWEEP_WAIT_SECONDS = 0.2
CANCELLED_BEFORE_CREATE = "the ticket was cancelled before ticket_create was delivered"


class DiscardReason(StrEnum):
    PAM_REFUSED = "pam_refused"
    PAM_UNREACHABLE = "pam_unreachable"
    STAFF_CANCELLED = "staff_cancelled"


class DeliveryNotRetryable(ValueError):
    """Staff asked to retry a delivery that must not be sent again (message says why)."""


class TicketNotCancellable(ValueError):
    """Staff asked to cancel a ticket that is not open (message says why)."""


# ----------------------------------------------------------------------------- enqueue, kick


def delivery_enqueue(
    *, ticket: Ticket, action: str, data: dict[str, Any], dedupe_key: str | None = None
) -> WebhookDelivery:
    """Write a pending delivery row; must run inside the transaction that changes the ticket.

    `data` comes from `tickets.webhook_payloads`. `dedupe_key` defaults to the action name:
    at most one row per ticket and key exists (a resettlement uses e.g. `ticket_win:2`).
    """
    delivery = delivery_build(ticket=ticket, action=action, data=data, dedupe_key=dedupe_key)
    delivery.save(force_insert=True)
    transaction.on_commit(lambda: delivery_kick(delivery.pk))
    return delivery


def delivery_build(
    *, ticket: Ticket, action: str, data: dict[str, Any], dedupe_key: str | None = None
) -> WebhookDelivery:
    """The pending row `delivery_enqueue` writes, unsaved. For a caller that inserts it in
    one statement with other rows (placement); it must then kick it after commit
    (`delivery_kick_after_commit` or `delivery_kick_in_background_after_commit`)."""
    return WebhookDelivery(
        ticket=ticket,
        operator_id=ticket.operator_id,
        action=action,
        dedupe_key=dedupe_key or action,
        body=webhook_body(action, data).decode(),
        next_attempt_at=clock.now(),
    )


_kicks_paused_until = 0.0


def delivery_kick(delivery_id: int, *, countdown: float | None = None) -> None:
    """Ask a worker to send the delivery now (or in `countdown` seconds).

    Never raises and never blocks for long: with Redis down it fails after one connection
    try (no kombu reconnect loop), then skips publishing for `KICK_PAUSE_SECONDS`. The row
    stays due in the database and the sweep sends it.
    """
    _publish(DELIVER_TASK, [delivery_id], delivery_ids=[delivery_id], countdown=countdown)


def deliveries_kick_in_batches(delivery_ids: list[int]) -> bool:
    """Ask workers to send these deliveries, `SWEEP_MESSAGE_IDS` to a task message, behind
    the kicks of single rows; False when the broker could not take them (as `delivery_kick`,
    it never raises: the rows stay due and a later sweep sends them)."""
    for start in range(0, len(delivery_ids), SWEEP_MESSAGE_IDS):
        ids = delivery_ids[start : start + SWEEP_MESSAGE_IDS]
        if not _publish(DELIVER_BATCH_TASK, [ids], delivery_ids=ids, priority=SWEEP_PRIORITY):
            return False
    return True


def _publish(
    task: str,
    args: list[Any],
    *,
    delivery_ids: list[int],
    countdown: float | None = None,
    priority: int | None = None,
) -> bool:
    """Publish one task message for these deliveries; False if the broker was down (the
    circuit breaker of `delivery_kick`). `jackpot_pam_outbox_kicks_total` counts deliveries."""
    count = len(delivery_ids)
    global _kicks_paused_until  # noqa: PLW0603 - a per-process circuit breaker
    if time.monotonic() < _kicks_paused_until:
        metrics.KICKS.labels("skipped").inc(count)
        return False
    try:
        with celery_app.producer_or_acquire() as producer:
            producer.connection.ensure_connection(max_retries=0)
            celery_app.send_task(
                task, args=args, countdown=countdown, priority=priority, producer=producer
            )
    except Exception as exc:  # a broker problem must never fail the caller
        _kicks_paused_until = time.monotonic() + KICK_PAUSE_SECONDS
        metrics.KICKS.labels("failed").inc(count)
        log.warning(
            "pam_kick_failed",
            delivery_id=delivery_ids[0],
            count=count,
            error=f"{type(exc).__name__}: {exc}",
        )
        return False
    metrics.KICKS.labels("published").inc(count)
    return True


def broker_queue_depth() -> int | None:
    """Task messages waiting in the broker's queue, every priority (kicks, sweep batches,
    beat's tasks); None when the broker cannot be reached."""
    if time.monotonic() < _kicks_paused_until:
        return None
    try:
        with celery_app.producer_or_acquire() as producer:
            producer.connection.ensure_connection(max_retries=0)
            declared = producer.channel.queue_declare(queue=celery_app.conf.task_default_queue)
    except Exception as exc:  # as for a kick: the sweep stops, a later one tries again
        log.warning("pam_broker_queue_unknown", error=f"{type(exc).__name__}: {exc}")
        return None
    return int(declared.message_count)


def waits_for_earlier() -> Exists:
    """Per delivery row: an earlier webhook of the same ticket is still pending, so this one
    must wait (a ticket's webhooks go out in the order they were queued)."""
    return Exists(
        WebhookDelivery.objects.filter(
            ticket_id=OuterRef("ticket_id"), status=DeliveryStatus.PENDING, pk__lt=OuterRef("pk")
        )
    )


def delivery_kick_after_commit(delivery_id: int, *, countdown: float | None = None) -> None:
    transaction.on_commit(lambda: delivery_kick(delivery_id, countdown=countdown))


# A Celery publish costs ~0.6 ms of CPU and a Redis round trip (docs/performance.md).
# Placement hands its kick to a publisher thread of its own process instead, so the
# operator's answer does not wait for Redis, and in a burst the thread puts the kicks that
# arrive within a few milliseconds into one message; a kick after a quiet spell leaves at
# once. Kicks still queued when the process exits are lost like any kick; the sweep sends
# their rows.
KICK_QUEUE_SIZE = 10_000
KICK_GATHER_SECONDS = 0.010
KICK_QUIET_SECONDS = 0.050
_kick_queue: queue.Queue[int] | None = None
_kick_queue_pid = 0
_kick_queue_lock = threading.Lock()


def delivery_kick_in_background_after_commit(delivery_id: int) -> None:
    """After commit, queue the kick for this process's publisher thread and return at once.

    A full queue (Redis far slower than placements) drops the kick: the sweep sends the row.
    """
    transaction.on_commit(lambda: _kick_in_background(delivery_id))


def _kick_in_background(delivery_id: int) -> None:
    try:
        _publisher_queue().put_nowait(delivery_id)
    except queue.Full:
        metrics.KICKS.labels("skipped").inc()


def _publisher_queue() -> queue.Queue[int]:
    """This process's kick queue, with its publisher thread started on first use (also in a
    forked child, e.g. a gunicorn worker, which does not inherit the parent's thread)."""
    global _kick_queue, _kick_queue_pid  # one publisher per process
    pid = os.getpid()
    if _kick_queue is None or _kick_queue_pid != pid:
        with _kick_queue_lock:
            if _kick_queue is None or _kick_queue_pid != pid:
                kicks: queue.Queue[int] = queue.Queue(maxsize=KICK_QUEUE_SIZE)
                threading.Thread(
                    target=_publish_forever, args=(kicks,), name="pam-kick", daemon=True
                ).start()
                _kick_queue, _kick_queue_pid = kicks, pid
    return _kick_queue


def _publish_forever(kicks: queue.Queue[int]) -> None:
    previous_at = 0.0
    while True:
        _publish_kicks(_next_kicks(kicks, previous_at=previous_at))
        previous_at = time.monotonic()


def _next_kicks(kicks: queue.Queue[int], *, previous_at: float = 0.0) -> list[int]:
    """The next kick, alone when it ends a quiet spell (nothing published for
    `KICK_QUIET_SECONDS` before it, nothing queued behind it): a lone placement's webhook
    leaves at once. In a burst, with the kicks that arrive within `KICK_GATHER_SECONDS` after
    it (at most `SWEEP_MESSAGE_IDS`), so that placements share task messages."""
    ids = [kicks.get()]
    if kicks.empty() and time.monotonic() - previous_at >= KICK_QUIET_SECONDS:
        return ids
    deadline = time.monotonic() + KICK_GATHER_SECONDS
    while len(ids) < SWEEP_MESSAGE_IDS:
        wait = deadline - time.monotonic()
        if wait <= 0:
            break
        try:
            ids.append(kicks.get(timeout=wait))
        except queue.Empty:
            break
    return ids


def _publish_kicks(delivery_ids: list[int]) -> None:
    """One kick as `delivery_kick`; several in one batch message at the kicks' own priority
    (a worker sends them one after the other, ahead of the sweep's batches)."""
    if len(delivery_ids) == 1:
        delivery_kick(delivery_ids[0])
    else:
        _publish(DELIVER_BATCH_TASK, [delivery_ids], delivery_ids=delivery_ids)


# ----------------------------------------------------------------------------- cancelling


def ticket_cancel(ticket: Ticket, *, reason: DiscardReason, now: dt.datetime) -> WebhookDelivery:
    """Cancel an open ticket and queue its `ticket_discard`.

    Precondition: inside a transaction holding the ticket's row lock, ticket is open and
    has its operator loaded. A `ticket_create` not yet sent (pending, not in flight) is
    stopped; one in flight finishes, and the discard waits for it (ticket order).
    """
    ticket.status = TicketStatus.CANCELLED
    ticket.approved = False
    ticket.result = TicketResult.VOID
    ticket.cancel_reason = reason.value
    ticket.updated_at = now
    ticket.save(update_fields=["status", "approved", "result", "cancel_reason", "updated_at"])
    WebhookDelivery.objects.filter(
        ticket=ticket, action=WebhookAction.TICKET_CREATE, status=DeliveryStatus.PENDING
    ).filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now)).update(
        status=DeliveryStatus.FAILED,
        lease_until=None,
        last_error=CANCELLED_BEFORE_CREATE,
        updated_at=now,
    )
    return delivery_enqueue(
        ticket=ticket,
        action=WebhookAction.TICKET_DISCARD,
        data=ticket_discard_data(ticket, reason=reason.value),
    )


def ticket_cancel_by_staff(*, ticket: Ticket) -> None:
    """Cancel an open ticket from the back office and send `ticket_discard` (staff_cancelled).

    Raises TicketNotCancellable when the ticket is not open. `ticket` is updated in place.
    """
    now = clock.now()
    with transaction.atomic():
        locked = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("operator")
            .get(pk=ticket.pk)
        )
        if locked.status != TicketStatus.OPEN:
            raise TicketNotCancellable(f"Ticket {locked.code} is {locked.status}, not open")
        ticket_cancel(locked, reason=DiscardReason.STAFF_CANCELLED, now=now)
    for field in ("status", "approved", "result", "cancel_reason", "updated_at"):
        setattr(ticket, field, getattr(locked, field))
    log.info("pam_ticket_cancelled_by_staff", ticket_id=ticket.pk)


def delivery_retry_now(*, delivery_id: int) -> None:
    """Make a delivery due now and kick it (back-office "retry now").

    A pending row (backing off, or a ticket_discard waiting its 30 minutes) is brought
    forward; a failed one is reopened. Raises DeliveryNotRetryable for a delivered row and
    for the ticket_create of a ticket that is no longer open (sending it would debit a
    player whose ticket was discarded).
    """
    now = clock.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("ticket")
            .get(pk=delivery_id)
        )
        if delivery.status == DeliveryStatus.DELIVERED:
            raise DeliveryNotRetryable("This webhook was already delivered")
        ticket = delivery.ticket
        if (
            delivery.action == WebhookAction.TICKET_CREATE
            and ticket is not None
            and ticket.status != TicketStatus.OPEN
        ):
            raise DeliveryNotRetryable(
                f"Ticket {ticket.code} is {ticket.status}: its ticket_create must not be sent"
            )
        delivery.status = DeliveryStatus.PENDING
        delivery.next_attempt_at = now
        delivery.save(update_fields=["status", "next_attempt_at", "updated_at"])
        delivery_kick_after_commit(delivery.pk)
    log.info("pam_delivery_retry_now", delivery_id=delivery_id, action=delivery.action)


# ----------------------------------------------------------------------------- sweep


def pam_outbox_sweep(*, limit: int | None = None) -> int:
    """Hand overdue deliveries that are not in flight to the workers; return how many.

    A row is overdue once it has been due for PAM_OUTBOX_SWEEP_GRACE_SECONDS (its own kick
    had that long to work). Rows leased by a live worker and rows waiting for an earlier
    webhook of their ticket are left alone. Rows are taken `limit` at a time
    (PAM_OUTBOX_SWEEP_BATCH, oldest due first) and published as batch messages
    (`deliveries_kick_in_batches`). A run keeps taking batches while it finds full ones,
    for at most PAM_OUTBOX_SWEEP_SECONDS (runs do not pile up), and only while the broker's
    queue holds fewer than PAM_OUTBOX_SWEEP_MAX_QUEUED messages: a settled million-ticket
    card flows to the workers as fast as they take it, without a million messages in
    Redis. Safe to run concurrently: rows are taken with SKIP LOCKED and their
    `next_attempt_at` is moved to now, so the next sweep leaves them for another grace
    period instead of queueing them again.
    """
    limit = settings.PAM_OUTBOX_SWEEP_BATCH if limit is None else limit
    deadline = time.monotonic() + settings.PAM_OUTBOX_SWEEP_SECONDS
    batches = swept = 0
    exhausted = False  # a batch came back short: nothing overdue is left
    while _broker_has_room(deadline=deadline, first=batches == 0):
        ids = _overdue_take(limit)
        batches += 1
        swept += len(ids)
        exhausted = len(ids) < limit
        if not deliveries_kick_in_batches(ids) or exhausted:
            break
    metrics.SWEPT.inc(swept)
    metrics.DUE.set(swept if exhausted else swept + _overdue().count())
    if swept:
        log.info("pam_outbox_swept", count=swept, batches=batches)
    return swept


def _broker_has_room(*, deadline: float, first: bool) -> bool:
    """Wait until the broker's queue has room for another batch: False once the run's time
    is up (the first batch of a run may still go) or the broker is unreachable."""
    while True:
        if not first and time.monotonic() >= deadline:
            return False
        depth = broker_queue_depth()
        if depth is None:
            return False
        if depth < settings.PAM_OUTBOX_SWEEP_MAX_QUEUED:
            return True
        first = False
        time.sleep(max(0.0, min(SWEEP_WAIT_SECONDS, deadline - time.monotonic())))


def _overdue() -> QuerySet[WebhookDelivery]:
    now = clock.now()
    return WebhookDelivery.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lte=now),
        ~waits_for_earlier(),
        status=DeliveryStatus.PENDING,
        next_attempt_at__lte=now - dt.timedelta(seconds=settings.PAM_OUTBOX_SWEEP_GRACE_SECONDS),
    )


def _overdue_take(limit: int) -> list[int]:
    """Up to `limit` overdue rows, oldest due first, made due now (a new grace period)."""
    with transaction.atomic():
        ids = list(
            _overdue()
            .select_for_update(skip_locked=True)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            now = clock.now()
            WebhookDelivery.objects.filter(pk__in=ids).update(next_attempt_at=now, updated_at=now)
    return ids
