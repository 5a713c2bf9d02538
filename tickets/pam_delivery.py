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

What a failure means depends on the action (`_next_attempt_at`): `ticket_create` is retried
with backoff until `PAM_RETRY_WINDOW_SECONDS` after it was queued, then (or at once on a 4xx)
the ticket is cancelled and `ticket_discard` queued; `ticket_discard` is repeated every
`PAM_DISCARD_RETRY_MINUTES` until it succeeds; result webhooks are retried with backoff
forever; a `test` webhook is tried once.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from dataclasses import dataclass
from enum import StrEnum

import structlog
from django.conf import settings
from django.db import transaction

from jackpot.core import clock
from operators.pam import PamAnswer, PamOutcome, pam_post
from tickets import pam_metrics as metrics
from tickets.models import (
    DeliveryStatus,
    Ticket,
    TicketStatus,
    WebhookAction,
    WebhookAttempt,
    WebhookDelivery,
)
from tickets.pam_delivery_sql import INTERRUPTED_ERROR, claim_statement, delivered_statement
from tickets.pam_outbox import (
    CANCELLED_BEFORE_CREATE,
    DiscardReason,
    delivery_kick_after_commit,
    ticket_cancel,
    waits_for_earlier,
)

log = structlog.get_logger(__name__)

# A retry sooner than this also gets a Celery countdown kick; later ones are left to the
# sweep, because a long countdown sits unacknowledged in a worker's memory (acks_late).
COUNTDOWN_KICK_MAX_SECONDS = 60.0
# A batch task stops starting attempts after this long (a slow PAM), well within the task
# time limits (CELERY_TASK_SOFT_TIME_LIMIT 100 s) even with a last attempt's timeouts.
BATCH_BUDGET_SECONDS = 60.0

_rng = random.Random()  # noqa: S311 - jitter, not cryptography


class AttemptOutcome(StrEnum):
    IN_FLIGHT = "in_flight"
    DELIVERED = "delivered"
    REFUSED = "refused"
    RETRYABLE = "retryable"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, kw_only=True)
class _Claim:
    delivery: WebhookDelivery
    attempt: WebhookAttempt


def pam_call_deliver(*, delivery_id: int) -> str:
    """Make one attempt at a due delivery and record it; return what happened.

    Safe to call any number of times for one row, from any number of workers (duplicate
    kicks, sweep re-queues, redelivered tasks): only a worker that claims the row sends it.
    Returns `delivered`, `retry-scheduled`, `discard-scheduled` (ticket_create gave up),
    `failed`, or why nothing was sent: `already-delivered`, `already-failed`, `in-flight`,
    `not-due`, `waiting-for-earlier`, `ticket-cancelled`, `missing`, `superseded` (the
    lease ran out during the call and another worker owns the row now).
    """
    now = clock.now()
    claim = _claim_common(delivery_id, now=now) or _claim(delivery_id, now=now)
    if isinstance(claim, str):
        return claim
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
    return _record(claim, answer)


def pam_call_deliver_batch(
    *, delivery_ids: list[int], budget_seconds: float = BATCH_BUDGET_SECONDS
) -> int:
    """Make one attempt at each delivery in turn, as `pam_call_deliver` (the sweep hands
    rows out in batches); return how many were delivered.

    Attempts stop once `budget_seconds` have passed: the rows not tried stay due and are
    handed out again by a later sweep, like rows whose kick was lost.
    """
    deadline = time.monotonic() + budget_seconds
    delivered = 0
    for number, delivery_id in enumerate(delivery_ids):
        if time.monotonic() >= deadline:
            log.warning("pam_batch_out_of_time", tried=number, left=len(delivery_ids) - number)
            break
        delivered += pam_call_deliver(delivery_id=delivery_id) == "delivered"
    return delivered


def _claim_common(delivery_id: int, *, now: dt.datetime) -> _Claim | None:
    """The claim in one statement (`tickets.pam_delivery_sql`); None when the row cannot be
    taken as it is, and `_claim` then says why (or takes it, if it just became free)."""
    claimed = claim_statement(
        delivery_id=delivery_id,
        now=now,
        lease_until=now + dt.timedelta(seconds=settings.PAM_DELIVERY_LEASE_SECONDS),
        retry_window=dt.timedelta(seconds=settings.PAM_RETRY_WINDOW_SECONDS),
    )
    if claimed is None:
        return None
    return _Claim(delivery=claimed.delivery, attempt=claimed.attempt)


def _claim(delivery_id: int, *, now: dt.datetime) -> _Claim | str:
    """The claim with the ORM, step by step: what a row that `_claim_common` did not take
    is waiting for (or, for the `ticket_create` of a cancelled ticket, its closing)."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("operator", "ticket")
            .annotate(waits_for_earlier=waits_for_earlier())
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            exists = WebhookDelivery.objects.filter(pk=delivery_id).exists()
            return "in-flight" if exists else "missing"
        refusal = _claim_refusal(delivery, now=now)
        if refusal:
            return refusal
        if delivery.action == WebhookAction.TICKET_CREATE and delivery.retry_deadline is None:
            delivery.retry_deadline = delivery.created_at + dt.timedelta(
                seconds=settings.PAM_RETRY_WINDOW_SECONDS
            )
        if delivery.attempts_count:
            delivery.attempts.filter(outcome=AttemptOutcome.IN_FLIGHT).update(
                outcome=AttemptOutcome.INTERRUPTED, error=INTERRUPTED_ERROR
            )
        delivery.attempts_count += 1
        delivery.lease_until = now + dt.timedelta(seconds=settings.PAM_DELIVERY_LEASE_SECONDS)
        delivery.save(
            update_fields=["attempts_count", "lease_until", "retry_deadline", "updated_at"]
        )
        attempt = WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts_count,
            started_at=now,
            latency_ms=0,
            outcome=AttemptOutcome.IN_FLIGHT,
        )
    return _Claim(delivery=delivery, attempt=attempt)


def _claim_refusal(delivery: WebhookDelivery, *, now: dt.datetime) -> str | None:
    if delivery.status != DeliveryStatus.PENDING:
        return f"already-{delivery.status}"  # already-delivered, already-failed
    if delivery.lease_until is not None and delivery.lease_until > now:
        return "in-flight"
    if delivery.next_attempt_at > now:
        return "not-due"
    if delivery.waits_for_earlier:  # type: ignore[attr-defined]  # annotated by _claim
        return "waiting-for-earlier"
    ticket = delivery.ticket
    if (
        delivery.action == WebhookAction.TICKET_CREATE
        and ticket is not None
        and ticket.status == TicketStatus.CANCELLED
    ):
        _delivery_close(delivery, status=DeliveryStatus.FAILED, error=CANCELLED_BEFORE_CREATE)
        delivery.save(update_fields=["status", "lease_until", "last_error", "updated_at"])
        _kick_next_of_ticket(delivery)
        return "ticket-cancelled"
    return None


def _record(claim: _Claim, answer: PamAnswer) -> str:
    now = clock.now()
    delivery = claim.delivery
    if answer.delivered:
        result = _record_delivered(claim, answer, now=now)
    else:
        delivery, result = _record_failed(claim, answer, now=now)
    metrics.ATTEMPTS.labels(delivery.action, answer.outcome.value).inc()
    metrics.ATTEMPT_SECONDS.labels(delivery.action).observe(answer.latency_ms / 1000)
    log.info(
        "pam_webhook_attempt",
        delivery_id=delivery.pk,
        ticket_id=delivery.ticket_id,
        action=delivery.action,
        attempt=claim.attempt.number,
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


def _record_delivered(claim: _Claim, answer: PamAnswer, *, now: dt.datetime) -> str:
    """The PAM took the webhook: one statement records it (`delivered_statement`). A
    `ticket_create` confirms its ticket; a ticket already discarded stays cancelled
    (contract): the late success is recorded and the ticket flagged for reconciliation."""
    delivery = claim.delivery
    row = delivered_statement(
        delivery=delivery, attempt_id=claim.attempt.pk, answer=answer, now=now
    )
    if row.newly_delivered:
        metrics.DELIVERY_LAG_SECONDS.labels(delivery.action).observe(
            (now - delivery.created_at).total_seconds()
        )
    if row.ticket_was_cancelled and not row.ticket_was_flagged:
        metrics.LATE_SUCCESSES.inc()
        log.warning("pam_ticket_create_late_success", ticket_id=delivery.ticket_id)
    if row.next_pending_id is not None:  # it was waiting for this one: send it now
        delivery_kick_after_commit(row.next_pending_id)
    return "delivered"


def _record_failed(
    claim: _Claim, answer: PamAnswer, *, now: dt.datetime
) -> tuple[WebhookDelivery, str]:
    claimed = claim.delivery
    with transaction.atomic():
        # Only ticket_create changes its ticket (cancel and discard). Lock order
        # everywhere: ticket, then its deliveries (staff cancel does the same).
        ticket = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("operator")
            .get(pk=claimed.ticket_id)
            if claimed.ticket_id is not None and claimed.action == WebhookAction.TICKET_CREATE
            else None
        )
        delivery = WebhookDelivery.objects.select_for_update().get(pk=claimed.pk)
        _attempt_complete(claim.attempt, answer)
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
    next_at = _next_attempt_at(delivery, ticket, answer, now=now)
    if next_at is not None:
        delivery.next_attempt_at = next_at
        delivery.lease_until = None
        delivery.last_error = answer.error
        delivery.save(update_fields=["next_attempt_at", "lease_until", "last_error", "updated_at"])
        delay = (next_at - now).total_seconds()
        if delay <= COUNTDOWN_KICK_MAX_SECONDS:
            delivery_kick_after_commit(delivery.pk, countdown=delay)
        metrics.RETRIES_SCHEDULED.labels(delivery.action).inc()
        return "retry-scheduled"
    _delivery_close(delivery, status=DeliveryStatus.FAILED, error=answer.error)
    delivery.save(update_fields=["status", "lease_until", "last_error", "updated_at"])
    if (
        delivery.action == WebhookAction.TICKET_CREATE
        and ticket is not None
        and ticket.status == TicketStatus.OPEN
    ):
        reason = (
            DiscardReason.PAM_REFUSED
            if answer.outcome is PamOutcome.REFUSED
            else DiscardReason.PAM_UNREACHABLE
        )
        metrics.GAVE_UP.labels(delivery.action, reason.value).inc()
        log.warning("pam_ticket_create_gave_up", ticket_id=ticket.pk, reason=reason.value)
        ticket_cancel(ticket, reason=reason, now=now)  # queues ticket_discard, which kicks
        return "discard-scheduled"
    _kick_next_of_ticket(delivery)
    return "failed"


def _next_attempt_at(
    delivery: WebhookDelivery, ticket: Ticket | None, answer: PamAnswer, *, now: dt.datetime
) -> dt.datetime | None:
    """When to try again after a failed attempt; None gives up (the row becomes `failed`)."""
    action = delivery.action
    if action == WebhookAction.TEST:
        return None
    if action == WebhookAction.TICKET_DISCARD:
        return now + dt.timedelta(minutes=settings.PAM_DISCARD_RETRY_MINUTES)
    later = now + dt.timedelta(seconds=retry_delay(attempt=delivery.attempts_count))
    if action != WebhookAction.TICKET_CREATE:
        return later
    deadline = delivery.retry_deadline
    if (
        answer.outcome is PamOutcome.REFUSED
        or (ticket is not None and ticket.status != TicketStatus.OPEN)
        or (deadline is not None and now >= deadline)
    ):
        return None
    # The last try is made at the deadline itself, so the window is used to its end.
    return later if deadline is None else min(later, deadline)


def retry_delay(*, attempt: int, rng: random.Random = _rng) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    Exponential backoff with "equal jitter": the cap doubles from PAM_RETRY_BASE_SECONDS up
    to PAM_RETRY_MAX_DELAY_SECONDS, and the wait is uniform in [cap/2, cap], so retries
    from many tickets failing together spread out but never come sooner than half the cap.
    """
    exponent = min(max(attempt - 1, 0), 32)
    cap = min(
        float(settings.PAM_RETRY_MAX_DELAY_SECONDS),
        float(settings.PAM_RETRY_BASE_SECONDS) * 2.0**exponent,
    )
    return cap / 2 + rng.uniform(0, cap / 2)


def _delivery_close(delivery: WebhookDelivery, *, status: DeliveryStatus, error: str) -> None:
    delivery.status = status
    delivery.lease_until = None
    delivery.last_error = error


def _kick_next_of_ticket(delivery: WebhookDelivery) -> None:
    """A ticket's next pending webhook was waiting for this one: send it now."""
    if delivery.ticket_id is None:
        return
    following = (
        WebhookDelivery.objects.filter(
            ticket_id=delivery.ticket_id, status=DeliveryStatus.PENDING, pk__gt=delivery.pk
        )
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if following is not None:
        delivery_kick_after_commit(following)
