"""What the webhook tests expect and look at, shared by the unit and worker tests."""

from __future__ import annotations

from tests.support.worker import wait_until
from tickets.models import WebhookAttempt, WebhookDelivery

__all__ = ["CREATE_FIELDS", "DISCARD_FIELDS", "attempts_of", "wait_until"]

# contract.md § PAM webhooks, in the documented order.
CREATE_FIELDS = [
    "operator", "ticket_id", "ticket_code", "player_id", "price", "stake", "wht_amount",
    "wht", "ext_amount", "ext", "ext_type", "gross_payout", "net_payout", "currency", "atag",
    "rtag", "psp", "ticket_type", "reference",
]  # fmt: skip
DISCARD_FIELDS = [
    "operator", "ticket_id", "ticket_code", "player_id", "price", "currency", "ticket_type",
    "reason",
]  # fmt: skip


def attempts_of(delivery: WebhookDelivery) -> list[tuple[int, int | None, str]]:
    """(number, HTTP status, outcome) of every attempt, in order."""
    return [
        (attempt.number, attempt.http_status, attempt.outcome)
        for attempt in WebhookAttempt.objects.filter(delivery=delivery).order_by("number")
    ]
