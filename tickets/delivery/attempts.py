"""Sending one PAM webhook delivery: claim, POST, record, decide (docs/webhooks.md).

Implements the delivery half of contract.md § PAM webhooks. The database is the truth:

- `lease_until` is the claim: a worker sets it in a row-locked transaction before the HTTP
  call, so two workers never send one row at once, and a killed worker's row becomes
  claimable again once its lease runs out (the sweep re-queues it);
- every HTTP try is a `WebhookAttempt`, written `in_flight` at the claim and completed with
  the answer (one a dead worker never completed is marked `interrupted` at the next claim);
- `next_attempt_at` holds the retry schedule (no long Celery countdowns in Redis);
- a ticket's webhooks go out in the order they were queued: a row waits while an earlier row
  of the same ticket is pending (so `ticket_discard` never overtakes an in-flight
  `ticket_create`, nor `ticket_closed` its result webhook).

What a failure means depends on the action (`tickets.delivery.schedule`): `ticket_create` is retried
with backoff until `PAM_RETRY_WINDOW_SECONDS` after it was queued, then (or at once on a 4xx)
the ticket is cancelled and `ticket_discard` queued; `ticket_discard` is repeated every
`PAM_DISCARD_RETRY_MINUTES` until it succeeds; result webhooks are retried with backoff
forever; a `test` webhook is tried once.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from enum import StrEnum

import structlog
from django.conf import settings
from django.db import transaction

from jackpot.core import clock
from operators.pam import PamAnswer, PamOutcome, pam_post
from tickets.delivery import statements
from tickets.delivery.schedule import COUNTDOWN_WAKE_MAX_SECONDS, next_attempt_at
from tickets.lifecycle import DiscardReason, ticket_cancel
from tickets.models import (
    DeliveryStatus,
    Ticket,
    WebhookAttempt,
    WebhookDelivery,
)
from tickets.outbox import metrics
from tickets.outbox.payloads import OPENING_STATUS
from tickets.outbox.waking import SWEEP_PRIORITY, WAKER, wake

log = structlog.get_logger(__name__)

BATCH_BUDGET_SECONDS = 60.0
"""A batch task stops starting attempts after this long (a slow PAM), well within the task
time limits (CELERY_TASK_SOFT_TIME_LIMIT 100 s) even with a last attempt's timeouts."""


class AttemptOutcome(StrEnum):
    IN_FLIGHT = "in_flight"
    DELIVERED = "delivered"
    REFUSED = "refused"
    RETRYABLE = "retryable"
    INTERRUPTED = "interrupted"


def pam_call_deliver(*, delivery_id: int) -> str:
    """Make one attempt at a due delivery and record it; return what happened.

    Safe to call any number of times for one row, from any number of workers (duplicate
    wakes, sweep re-queues, redelivered tasks): only a worker that claims the row sends it.
    Returns `delivered`, `retry-scheduled`, `discard-scheduled` (ticket_create gave up),
    `failed`, `superseded` (the lease ran out during the call and another worker owns the
    row now), or the claim's verdict when nothing was sent (`statements.Claim`).
    """
    now = clock.now()
    claim = statements.claim(
        delivery_id=delivery_id,
        now=now,
        lease_until=now + dt.timedelta(seconds=settings.PAM_DELIVERY_LEASE_SECONDS),
        retry_window=dt.timedelta(seconds=settings.PAM_RETRY_WINDOW_SECONDS),
    )
    if claim.delivery is None or claim.attempt is None:
        if claim.next_pending_id is not None:  # it waited for the create closed just now
            wake([claim.next_pending_id])
        return claim.verdict
    try:
        answer = pam_post(operator=claim.delivery.operator, body=claim.delivery.body.encode())
    except Exception as exc:  # a bug or a broken secret must still end as a recorded attempt
        log.exception("pam_post_crashed", delivery_id=delivery_id)
        answer = PamAnswer(
            outcome=PamOutcome.RETRYABLE,
            http_status=None,
            latency_ms=0,
            error=f"engine error: {type(exc).__name__}: {exc}",
            excerpt="",
            player_id=None,
        )
    return _record(claim.delivery, claim.attempt, answer)


def pam_call_deliver_batch(
    *,
    delivery_ids: list[int],
    budget_seconds: float = BATCH_BUDGET_SECONDS,
    share_seconds: float | None = None,
) -> int:
    """Make one attempt at each delivery in turn, as `pam_call_deliver`; return how many
    were delivered.

    Fairness: once one operator's attempts have taken `share_seconds` of this task
    (PAM_OPERATOR_SHARE_SECONDS), its other rows in the batch are not tried here but put in
    a new message at the back of the queue (the sweep's priority), so a slow PAM gets turns
    like everyone else instead of holding the pool process for the whole batch; a fast
    PAM never uses up its share. Attempts stop once `budget_seconds` have passed: the rows
    not tried stay due and are handed out again by a later sweep, like rows whose wake was
    lost (as are deferred rows if the broker cannot take their message).
    """
    share = settings.PAM_OPERATOR_SHARE_SECONDS if share_seconds is None else share_seconds
    deadline = time.monotonic() + budget_seconds
    shares = _OperatorShares(delivery_ids, share_seconds=share)
    deferred: list[int] = []
    delivered = 0
    for number, delivery_id in enumerate(delivery_ids):
        if time.monotonic() >= deadline:
            log.warning("pam_batch_out_of_time", tried=number, left=len(delivery_ids) - number)
            break
        if shares.used_up(delivery_id):
            deferred.append(delivery_id)
            continue
        started = time.monotonic()
        delivered += pam_call_deliver(delivery_id=delivery_id) == "delivered"
        shares.spend(delivery_id, time.monotonic() - started)
    if deferred:
        log.info("pam_batch_operator_deferred", count=len(deferred), delivery_id=deferred[0])
        metrics.DEFERRED.inc(len(deferred))
        WAKER.publish(deferred, priority=SWEEP_PRIORITY)
    return delivered


class _OperatorShares:
    """How long each operator's attempts have taken in one batch task.

    A task that has not yet run for a share in all never asks whose rows it holds (the
    common case, a fast PAM: no query); the first time it has, one query finds the operator
    of every row of the batch, and the time already spent is counted to them.
    """

    def __init__(self, delivery_ids: list[int], *, share_seconds: float) -> None:
        self._ids = delivery_ids
        self._share = share_seconds
        self._started = time.monotonic()
        self._operators: dict[int, int] | None = None
        self._unattributed: list[tuple[int, float]] = []
        self._spent: defaultdict[int | None, float] = defaultdict(float)

    def used_up(self, delivery_id: int) -> bool:
        if self._operators is None:
            if time.monotonic() - self._started < self._share:
                return False
            self._operators = dict(
                WebhookDelivery.objects.filter(pk__in=self._ids).values_list("pk", "operator_id")
            )
            for tried_id, seconds in self._unattributed:
                self.spend(tried_id, seconds)
        return self._spent[self._operators.get(delivery_id)] >= self._share

    def spend(self, delivery_id: int, seconds: float) -> None:
        if self._operators is None:
            self._unattributed.append((delivery_id, seconds))
        else:
            self._spent[self._operators.get(delivery_id)] += seconds


def _record(delivery: WebhookDelivery, attempt: WebhookAttempt, answer: PamAnswer) -> str:
    now = clock.now()
    if answer.delivered:
        result = _record_delivered(delivery, attempt, answer, now=now)
    else:
        delivery, result = _record_failed(delivery, attempt, answer, now=now)
    metrics.ATTEMPTS.labels(delivery.action, answer.outcome.value).inc()
    metrics.ATTEMPT_SECONDS.labels(delivery.action).observe(answer.latency_ms / 1000)
    log.info(
        "pam_webhook_attempt",
        delivery_id=delivery.pk,
        ticket_id=delivery.ticket_id,
        action=delivery.action,
        attempt=attempt.number,
        outcome=answer.outcome.value,
        http_status=answer.http_status,
        latency_ms=answer.latency_ms,
        error=answer.error,
        result=result,
        next_attempt_at=(
            delivery.next_attempt_at.isoformat() if result == "retry-scheduled" else None
        ),
    )
    return result


def _record_delivered(
    delivery: WebhookDelivery, attempt: WebhookAttempt, answer: PamAnswer, *, now: dt.datetime
) -> str:
    """The PAM took the webhook: one statement records it. A `ticket_create` confirms its
    ticket; a ticket already discarded stays cancelled (contract): the late success is
    recorded and the ticket flagged for reconciliation."""
    row = statements.delivered(delivery=delivery, attempt_id=attempt.pk, answer=answer, now=now)
    if row.newly_delivered:
        metrics.DELIVERY_LAG_SECONDS.labels(delivery.action).observe(
            (now - delivery.created_at).total_seconds()
        )
    if row.ticket_was_cancelled and not row.ticket_was_flagged:
        metrics.LATE_SUCCESSES.inc()
        log.warning("pam_ticket_create_late_success", ticket_id=delivery.ticket_id)
    if row.next_pending_id is not None:  # it was waiting for this one: send it now
        wake([row.next_pending_id])
    return "delivered"


def _record_failed(
    claimed: WebhookDelivery, attempt: WebhookAttempt, answer: PamAnswer, *, now: dt.datetime
) -> tuple[WebhookDelivery, str]:
    with transaction.atomic():
        # Only ticket_create/ticket_reserve change their ticket (cancel, discard). Lock order
        # everywhere: ticket, then its deliveries (staff cancel does the same).
        ticket = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("operator")
            .get(pk=claimed.ticket_id)
            if claimed.ticket_id is not None and claimed.action in OPENING_STATUS
            else None
        )
        delivery = WebhookDelivery.objects.select_for_update().get(pk=claimed.pk)
        _attempt_complete(attempt, answer)
        still_ours = (
            delivery.status == DeliveryStatus.PENDING
            and delivery.lease_until == claimed.lease_until
        )
        result = _on_failed(delivery, ticket, answer, now=now) if still_ours else "superseded"
    return delivery, result


def _attempt_complete(attempt: WebhookAttempt, answer: PamAnswer) -> None:
    attempt.http_status = answer.http_status
    attempt.latency_ms = answer.latency_ms
    attempt.outcome = AttemptOutcome(answer.outcome.value)
    attempt.error = answer.error
    attempt.response_excerpt = answer.excerpt
    attempt.save(
        update_fields=["http_status", "latency_ms", "outcome", "error", "response_excerpt"]
    )


def _on_failed(
    delivery: WebhookDelivery, ticket: Ticket | None, answer: PamAnswer, *, now: dt.datetime
) -> str:
    """Schedule the next try, or give up: the row fails, and a `ticket_create` (or
    `ticket_reserve`) that gives up cancels its open (or reserved) ticket and queues
    `ticket_discard`."""
    next_at = next_attempt_at(delivery, ticket, answer, now=now)
    if next_at is not None:
        delivery.next_attempt_at = next_at
        delivery.lease_until = None
        delivery.last_error = answer.error
        delivery.save(update_fields=["next_attempt_at", "lease_until", "last_error", "updated_at"])
        delay = (next_at - now).total_seconds()
        if delay <= COUNTDOWN_WAKE_MAX_SECONDS:
            wake([delivery.pk], countdown=delay)
        metrics.RETRIES_SCHEDULED.labels(delivery.action).inc()
        return "retry-scheduled"
    delivery.status = DeliveryStatus.FAILED
    delivery.lease_until = None
    delivery.last_error = answer.error
    delivery.save(update_fields=["status", "lease_until", "last_error", "updated_at"])
    if ticket is not None and ticket.status == OPENING_STATUS.get(delivery.action):
        reason = (
            DiscardReason.PAM_REFUSED
            if answer.outcome is PamOutcome.REFUSED
            else DiscardReason.PAM_UNREACHABLE
        )
        metrics.GAVE_UP.labels(delivery.action, reason.value).inc()
        log.warning("pam_ticket_create_gave_up", ticket_id=ticket.pk, reason=reason.value)
        ticket_cancel(ticket, reason=reason, now=now)  # queues ticket_discard, which wakes
        return "discard-scheduled"
    following = statements.next_pending(delivery)
    if following is not None:  # it waited for this one
        wake([following])
    return "failed"
