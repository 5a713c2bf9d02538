"""The PAM webhook outbox (contract.md § PAM webhooks).

A webhook is a `WebhookDelivery` row written in the same transaction as the change it
reports; after commit a Celery task is asked to send it (a latency optimisation only: the
periodic sweep sends any due row whose kick was lost).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from jackpot.core import clock
from tickets.models import Ticket, WebhookDelivery
from tickets.webhook_payloads import webhook_body


def delivery_enqueue(
    *, ticket: Ticket, action: str, data: dict[str, Any], dedupe_key: str | None = None
) -> WebhookDelivery:
    """Write a pending delivery row; must run inside the transaction that changes the ticket.

    `data` comes from `tickets.webhook_payloads`. `dedupe_key` defaults to the action name:
    at most one row per ticket and key exists (a resettlement uses e.g. `ticket_win:2`).
    """
    delivery = WebhookDelivery.objects.create(
        ticket=ticket,
        operator_id=ticket.operator_id,
        action=action,
        dedupe_key=dedupe_key or action,
        body=webhook_body(action, data).decode(),
        next_attempt_at=clock.now(),
    )
    transaction.on_commit(lambda: delivery_kick(delivery.pk))
    return delivery


def delivery_kick(delivery_id: int) -> None:
    """Ask a worker to send the delivery now. Never raises: the sweep is the safety net."""
    # Filled in by the PAM webhook issue: publish tickets.pam_call_deliver safely.
