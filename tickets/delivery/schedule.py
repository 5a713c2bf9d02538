"""When a webhook is tried again: after a failed attempt, or when staff say "now".

Implements contract.md § PAM webhooks: "Network errors, timeouts and 5xx answers are retried
with exponential backoff and jitter for a bounded time; a definite refusal (4xx) or
exhausted retries cancel the ticket ... A `ticket_discard` that fails is repeated every 30
minutes until it succeeds." The schedule lives in the row (`next_attempt_at`), not in
Celery countdowns: a long countdown would sit unacknowledged in a worker's memory.
"""

from __future__ import annotations

import datetime as dt
import random

import structlog
from django.conf import settings
from django.db import transaction

from jackpot.core import clock
from jackpot.core.errors import DeliveryNotRetryable
from operators.pam import PamAnswer, PamOutcome
from tickets.models import DeliveryStatus, Ticket, WebhookAction, WebhookDelivery
from tickets.outbox.payloads import OPENING_STATUS
from tickets.outbox.waking import wake

log = structlog.get_logger(__name__)

COUNTDOWN_WAKE_MAX_SECONDS = 60.0
"""A retry sooner than this also gets a wake with a countdown; later ones are left to the
sweep."""

_rng = random.Random()  # noqa: S311 - jitter, not cryptography


def next_attempt_at(
    delivery: WebhookDelivery, ticket: Ticket | None, answer: PamAnswer, *, now: dt.datetime
) -> dt.datetime | None:
    """When to try again after a failed attempt; None gives up (the row becomes `failed`).

    `ticket_create` (and `ticket_reserve`) is retried with backoff until its
    `retry_deadline` (queued + PAM_RETRY_WINDOW_SECONDS; the last try is made at the
    deadline itself), and given up at once on a refusal or when its ticket is no longer open
    (reserved); `ticket_discard` and `ticket_refund` (money owed to a player) are repeated
    every PAM_DISCARD_RETRY_MINUTES until they succeed; result webhooks are retried with
    backoff forever; a `test` webhook is tried once.
    """
    action = delivery.action
    if action == WebhookAction.TEST:
        return None
    if action in (WebhookAction.TICKET_DISCARD, WebhookAction.TICKET_REFUND):
        return now + dt.timedelta(minutes=settings.PAM_DISCARD_RETRY_MINUTES)
    later = now + dt.timedelta(seconds=retry_delay(attempt=delivery.attempts_count))
    if action not in OPENING_STATUS:
        return later
    deadline = delivery.retry_deadline
    if (
        answer.outcome is PamOutcome.REFUSED
        or (ticket is not None and ticket.status != OPENING_STATUS[action])
        or (deadline is not None and now >= deadline)
    ):
        return None
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


def delivery_retry_now(*, delivery_id: int) -> None:
    """Make a delivery due now and wake a worker for it (back-office "retry now").

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
        opening_status = OPENING_STATUS.get(delivery.action)
        if opening_status is not None and ticket is not None and ticket.status != opening_status:
            raise DeliveryNotRetryable(
                f"Ticket {ticket.code} is {ticket.status}: its {delivery.action} must not be sent"
            )
        delivery.status = DeliveryStatus.PENDING
        delivery.next_attempt_at = now
        delivery.save(update_fields=["status", "next_attempt_at", "updated_at"])
        wake([delivery.pk])
    log.info("pam_delivery_retry_now", delivery_id=delivery_id, action=delivery.action)
