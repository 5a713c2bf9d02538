"""A ticket's life after placement: cancelled by staff or because its PAM refused it.

Implements contract.md § PAM webhooks: a `ticket_create` the PAM refuses (4xx) or that
exhausts its retries cancels the ticket (`status cancelled`, `approved false`, `result void`)
and sends `ticket_discard` with the reason; staff may cancel an open ticket too
(`staff_cancelled`). The webhook is queued in the transaction that cancels the ticket.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import structlog
from django.db import transaction
from django.db.models import Q

from jackpot.core import clock
from tickets.models import (
    DeliveryStatus,
    Ticket,
    TicketResult,
    TicketStatus,
    WebhookAction,
    WebhookDelivery,
)
from tickets.outbox.payloads import TICKET_DISCARD
from tickets.outbox.queueing import enqueue

log = structlog.get_logger(__name__)

CANCELLED_BEFORE_CREATE = "the ticket was cancelled before ticket_create was delivered"


class DiscardReason(StrEnum):
    PAM_REFUSED = "pam_refused"
    PAM_UNREACHABLE = "pam_unreachable"
    STAFF_CANCELLED = "staff_cancelled"


class TicketNotCancellable(ValueError):
    """Staff asked to cancel a ticket that is not open (message says why)."""


def ticket_cancel(ticket: Ticket, *, reason: DiscardReason, now: dt.datetime) -> WebhookDelivery:
    """Cancel an open ticket and queue its `ticket_discard`.

    Precondition: inside a transaction holding the ticket's row lock, ticket is open and
    has its operator loaded. A `ticket_create` not yet sent (pending, not in flight) is
    stopped; one in flight finishes, and the discard waits for it (a ticket's webhooks go
    out in order).
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
    return enqueue(ticket=ticket, webhook=TICKET_DISCARD, reason=reason.value)


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
