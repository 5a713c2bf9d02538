"""What the webhook tests expect and look at, shared by the unit and worker tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from tickets.models import WebhookAttempt, WebhookDelivery

# contract.md § PAM webhooks, in the documented order.
CREATE_FIELDS = [
    "operator", "ticket_id", "ticket_code", "player_id", "price", "stake", "wht_amount",
    "wht", "ext_amount", "ext", "ext_type", "gross_payout", "net_payout", "currency", "atag",
    "rtag", "psp", "ticket_type",
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


def wait_until(condition: Callable[[], bool], *, timeout: float = 15.0, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
