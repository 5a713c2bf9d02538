"""The outbox sweep: the safety net that makes a lost wake a delay, never a lost webhook.

Beat runs `pam_outbox_sweep` every PAM_OUTBOX_SWEEP_SECONDS (contract.md § PAM webhooks: "a
delivery that was never attempted (broker down, worker killed) is picked up by a periodic
sweep from the database"). It also hands out rows too many to wake one by one (a settled
card's result webhooks) and rows whose retry is due later than a countdown may wait.
"""

from __future__ import annotations

import datetime as dt
import time

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet

from jackpot.core import clock
from jackpot.core.sql import sql_names
from tickets.models import DeliveryStatus, WebhookDelivery
from tickets.outbox import metrics
from tickets.outbox.order import waits_sql
from tickets.outbox.waking import MESSAGE_IDS, SWEEP_PRIORITY, WAKER

log = structlog.get_logger(__name__)

ROOM_POLL_SECONDS = 0.2
"""How often a sweep whose broker queue is full looks again for room."""


def pam_outbox_sweep(*, limit: int | None = None) -> int:
    """Hand overdue deliveries that are not in flight to the workers; return how many.

    A row is overdue once it has been due for PAM_OUTBOX_SWEEP_GRACE_SECONDS (its own wake
    had that long to work). Rows leased by a live worker are left alone, and rows waiting
    for an earlier webhook of their ticket are not handed out (they get a new grace
    period, like the rest of their batch). Rows are taken `limit` at a time
    (PAM_OUTBOX_SWEEP_BATCH, oldest due first) and published `MESSAGE_IDS` to a message at
    the lowest priority. A run keeps taking batches while it finds full ones, for at most
    PAM_OUTBOX_SWEEP_SECONDS (runs do not pile up), and only while the broker's queue holds
    fewer than PAM_OUTBOX_SWEEP_MAX_QUEUED messages: a settled million-ticket card flows to
    the workers as fast as they take it, without a million messages in Redis. Safe to run
    concurrently: rows are taken with SKIP LOCKED and their `next_attempt_at` is moved to
    now, so the next sweep leaves them for another grace period.
    """
    limit = settings.PAM_OUTBOX_SWEEP_BATCH if limit is None else limit
    deadline = time.monotonic() + settings.PAM_OUTBOX_SWEEP_SECONDS
    batches = swept = 0
    exhausted = False  # a batch came back short: nothing overdue is left
    while _broker_has_room(deadline=deadline, first=batches == 0):
        ids, taken = _overdue_take(limit)
        batches += 1
        swept += len(ids)
        exhausted = taken < limit
        if not _publish(ids) or exhausted:
            break
    metrics.SWEPT.inc(swept)
    metrics.DUE.set(swept if exhausted else swept + _overdue().count())
    if swept:
        log.info("pam_outbox_swept", count=swept, batches=batches)
    return swept


def _publish(ids: list[int]) -> bool:
    for start in range(0, len(ids), MESSAGE_IDS):
        if not WAKER.publish(ids[start : start + MESSAGE_IDS], priority=SWEEP_PRIORITY):
            return False
    return True


def _broker_has_room(*, deadline: float, first: bool) -> bool:
    """Wait until the broker's queue has room for another batch: False once the run's time
    is up (the first batch of a run may still go) or the broker is unreachable."""
    while True:
        if not first and time.monotonic() >= deadline:
            return False
        depth = WAKER.queue_depth()
        if depth is None:
            return False
        if depth < settings.PAM_OUTBOX_SWEEP_MAX_QUEUED:
            return True
        first = False
        time.sleep(max(0.0, min(ROOM_POLL_SECONDS, deadline - time.monotonic())))


def _overdue() -> QuerySet[WebhookDelivery]:
    """Overdue rows not in flight (for the gauge: rows waiting for an earlier webhook of
    their ticket are counted too)."""
    now = clock.now()
    return WebhookDelivery.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lte=now),
        status=DeliveryStatus.PENDING,
        next_attempt_at__lte=now - dt.timedelta(seconds=settings.PAM_OUTBOX_SWEEP_GRACE_SECONDS),
    )


# One statement: the `limit` oldest overdue rows not in flight, locked and made due now (a
# new grace period), each with whether it waits for an earlier pending webhook of its
# ticket (`tickets.outbox.order`: written so that stale statistics cannot make it slow).
# The waiting ones are not handed out: their turn comes when that webhook is done, which
# wakes them (and, should that wake be lost, a later sweep).
_TAKE_SQL = sql_names(
    """
WITH candidate AS MATERIALIZED (
    SELECT d.{d.id} AS id, d.{d.ticket} AS ticket_id
    FROM {d} d
    WHERE d.{d.status} = %(pending)s AND d.{d.next_attempt_at} <= %(overdue_at)s
      AND (d.{d.lease_until} IS NULL OR d.{d.lease_until} <= %(now)s)
    ORDER BY d.{d.next_attempt_at}
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), made_due AS (
    UPDATE {d} d SET {d.next_attempt_at} = %(now)s, {d.updated_at} = %(now)s
    FROM candidate WHERE d.{d.id} = candidate.id
)
SELECT candidate.id, {waits} AS waits
FROM candidate
ORDER BY candidate.id
""",
    waits=waits_sql(ticket="candidate.ticket_id", row_id="candidate.id"),
    d=WebhookDelivery,
    e=WebhookDelivery,
)


def _overdue_take(limit: int) -> tuple[list[int], int]:
    """Up to `limit` overdue rows, oldest due first, made due now (a new grace period):
    the ids of those to hand out (not waiting for an earlier webhook of their ticket), and
    how many were taken in all."""
    now = clock.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _TAKE_SQL,
            {
                "pending": DeliveryStatus.PENDING,
                "now": now,
                "overdue_at": now - dt.timedelta(seconds=settings.PAM_OUTBOX_SWEEP_GRACE_SECONDS),
                "limit": limit,
            },
        )
        rows = cursor.fetchall()
    return [delivery_id for delivery_id, waits in rows if not waits], len(rows)
