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
from dataclasses import dataclass
from enum import StrEnum

import structlog
from django.conf import settings
from django.db import transaction

from jackpot.core import clock
from operators.pam import PamAnswer, PamOutcome, pam_post_many
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
    [tried] = _attempts([delivery_id])
    return tried.result


def pam_call_deliver_batch(
    *,
    delivery_ids: list[int],
    budget_seconds: float = BATCH_BUDGET_SECONDS,
    share_seconds: float | None = None,
    at_once: int | None = None,
) -> int:
    """Make one attempt at each delivery, as `pam_call_deliver`, `at_once` rows at a time
    (PAM_REQUESTS_PER_PROCESS: claimed by one statement, sent concurrently, the 2xx
    answers recorded by one statement); return how many were delivered.

    Fairness: once one operator's answers have taken `share_seconds` of this task
    (PAM_OPERATOR_SHARE_SECONDS), its other rows in the batch are not tried here but put in
    a new message at the back of the queue (the sweep's priority), so a slow PAM gets turns
    like everyone else instead of holding the pool process for the whole batch; a fast
    PAM never uses up its share. Attempts stop once `budget_seconds` have passed: the rows
    not tried stay due and are handed out again by a later sweep, like rows whose wake was
    lost (as are deferred rows if the broker cannot take their message).
    """
    share = settings.PAM_OPERATOR_SHARE_SECONDS if share_seconds is None else share_seconds
    size = max(1, settings.PAM_REQUESTS_PER_PROCESS if at_once is None else at_once)
    deadline = time.monotonic() + budget_seconds
    ids = list(dict.fromkeys(delivery_ids))  # a row is claimed once per statement
    shares = _OperatorShares(ids, share_seconds=share)
    deferred: list[int] = []
    delivered = 0
    position = 0
    while position < len(ids):
        if time.monotonic() >= deadline:
            log.warning("pam_batch_out_of_time", tried=position, left=len(ids) - position)
            break
        turn: list[int] = []
        while position < len(ids) and len(turn) < size:
            delivery_id = ids[position]
            position += 1
            (deferred if shares.used_up(delivery_id) else turn).append(delivery_id)
        for delivery_id, tried in zip(turn, _attempts(turn), strict=True):
            delivered += tried.result == "delivered"
            shares.spend(delivery_id, tried.seconds)
    if deferred:
        log.info("pam_batch_operator_deferred", count=len(deferred), delivery_id=deferred[0])
        metrics.DEFERRED.inc(len(deferred))
        WAKER.publish(deferred, priority=SWEEP_PRIORITY)
    return delivered


@dataclass(frozen=True)
class _Tried:
    result: str
    seconds: float  # waiting for the PAM's answer (0 when nothing was sent)


def _attempts(delivery_ids: list[int]) -> list[_Tried]:
    """Claim these rows (distinct ids) in one statement, send the claimed ones at once,
    record the answers; what happened to each, in order."""
    if not delivery_ids:
        return []
    now = clock.now()
    claims = statements.claim_many(
        delivery_ids=delivery_ids,
        now=now,
        lease_until=now + dt.timedelta(seconds=settings.PAM_DELIVERY_LEASE_SECONDS),
        retry_window=dt.timedelta(seconds=settings.PAM_RETRY_WINDOW_SECONDS),
    )
    # A ticket's next webhook that waited for a `ticket_create` closed by the claim.
    wake(claim.next_pending_id for claim in claims if claim.next_pending_id is not None)
    sent = [
        (claim.delivery, claim.attempt)
        for claim in claims
        if claim.delivery is not None and claim.attempt is not None
    ]
    answers = pam_post_many([(delivery.operator, delivery.body.encode()) for delivery, _ in sent])
    results = _record([(*pair, answer) for pair, answer in zip(sent, answers, strict=True)])
    tried = {
        delivery.pk: _Tried(result, answer.latency_ms / 1000)
        for (delivery, _), answer, result in zip(sent, answers, results, strict=True)
    }
    return [
        tried.get(delivery_id) or _Tried(claim.verdict, 0.0)
        for delivery_id, claim in zip(delivery_ids, claims, strict=True)
    ]


class _OperatorShares:
    """How long each operator's answers have taken in one batch task (summed: answers
    awaited at once count each).

    A task whose answers have not yet taken a share in all never asks whose rows it holds
    (the common case, a fast PAM: no query); the first time they have, one query finds the
    operator of every row of the batch, and the time already spent is counted to them.
    """

    def __init__(self, delivery_ids: list[int], *, share_seconds: float) -> None:
        self._ids = delivery_ids
        self._share = share_seconds
        self._operators: dict[int, int] | None = None
        self._unattributed: list[tuple[int, float]] = []
        self._spent: defaultdict[int | None, float] = defaultdict(float)

    def used_up(self, delivery_id: int) -> bool:
        if self._operators is None:
            if sum(seconds for _, seconds in self._unattributed) < self._share:
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


_Answered = tuple[WebhookDelivery, WebhookAttempt, PamAnswer]


def _record(answered: list[_Answered]) -> list[str]:
    """Record each claimed row's answer: the 2xx ones in one statement, each failure in a
    short transaction of its own; what became of each row, in order."""
    now = clock.now()
    _record_delivered([one for one in answered if one[2].delivered], now=now)
    results: list[str] = []
    for claimed, attempt, answer in answered:
        if answer.delivered:
            delivery, result = claimed, "delivered"
        else:
            delivery, result = _record_failed(claimed, attempt, answer, now=now)
        results.append(result)
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
    return results


def _record_delivered(successes: list[_Answered], *, now: dt.datetime) -> None:
    """The PAM took these webhooks: one statement records them all. A `ticket_create`
    confirms its ticket; a ticket already discarded stays cancelled (contract): the late
    success is recorded and the ticket flagged for reconciliation."""
    if not successes:
        return
    rows = statements.delivered_many(
        [(delivery, attempt.pk, answer) for delivery, attempt, answer in successes], now=now
    )
    for (delivery, _, _), row in zip(successes, rows, strict=True):
        if row.newly_delivered:
            metrics.DELIVERY_LAG_SECONDS.labels(delivery.action).observe(
                (now - delivery.created_at).total_seconds()
            )
        if row.ticket_was_cancelled and not row.ticket_was_flagged:
            metrics.LATE_SUCCESSES.inc()
            log.warning("pam_ticket_create_late_success", ticket_id=delivery.ticket_id)
    # Each ticket's next webhook, which waited for this one: send it now.
    wake(row.next_pending_id for row in rows if row.next_pending_id is not None)


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
