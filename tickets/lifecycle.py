"""A ticket's life after placement: paid, expired, cancelled by staff or because its PAM
refused it.

Implements contract.md § PAM webhooks and § Pay later:

- a `ticket_create` or `ticket_reserve` the PAM refuses (4xx) or that exhausts its retries
  cancels the ticket (`status cancelled`, `approved false`, `result void`) and sends
  `ticket_discard` with the reason;
- a reservation becomes `open` when the operator reports it paid before it expires
  (`ticket_pay`), or is cancelled with `ticket_discard` reason `reservation_expired` by the
  sweep once it has (`reservations_expire`); both decide under the ticket's row lock and
  compare its expiry with the same clock, so a `paid` racing the expiry has one winner;
- staff may cancel a reserved or open ticket (`staff_cancelled`): `ticket_refund` when the
  player's money was taken (its `ticket_create` delivered, or the reservation paid), else
  `ticket_discard` (nothing was taken yet: a pending one is stopped, an in-flight one is
  undone after it).

The webhook is queued in the transaction that changes the ticket.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import structlog
from django.db import transaction
from django.db.models import Q

from jackpot.core import clock
from jackpot.core.errors import (
    ContractError,
    TicketNotCancellable,
    TicketNotFound,
    TicketNotReserved,
)
from operators.models import Operator
from tickets.identifiers import identifier_lookup
from tickets.models import (
    DeliveryStatus,
    Ticket,
    TicketResult,
    TicketStatus,
    WebhookDelivery,
)
from tickets.outbox.payloads import OPENING_ACTIONS, TICKET_DISCARD, TICKET_REFUND, Webhook
from tickets.outbox.queueing import enqueue
from tickets.receipts import WriteKeys, earlier_answer, receipt_insert, receipt_row
from tickets.rendering import ticket_body

log = structlog.get_logger(__name__)

CANCELLED_BEFORE_CREATE = (
    "the ticket was cancelled before its ticket_create (or ticket_reserve) was delivered"
)


class DiscardReason(StrEnum):
    PAM_REFUSED = "pam_refused"
    PAM_UNREACHABLE = "pam_unreachable"
    RESERVATION_EXPIRED = "reservation_expired"
    STAFF_CANCELLED = "staff_cancelled"


CANCELLABLE = (TicketStatus.RESERVED, TicketStatus.OPEN)
_CANCEL_FIELDS = ["status", "approved", "result", "cancel_reason", "updated_at"]


def money_taken(ticket: Ticket) -> bool:
    """Whether cancelling the ticket must give the player's money back (`ticket_refund`):
    it is open and its `ticket_create` was delivered, or it was a reservation since paid."""
    return ticket.status == TicketStatus.OPEN and (
        ticket.paid_at is not None or ticket.pam_confirmed_at is not None
    )


def ticket_cancel(
    ticket: Ticket, *, reason: DiscardReason, now: dt.datetime, webhook: Webhook = TICKET_DISCARD
) -> WebhookDelivery:
    """Cancel a reserved or open ticket and queue its `ticket_discard` (or `webhook`).

    Precondition: inside a transaction holding the ticket's row lock, the ticket reserved
    or open, its operator loaded. A `ticket_create` or `ticket_reserve` not yet sent
    (pending, not in flight) is stopped; one in flight finishes, and the discard waits for
    it (a ticket's webhooks go out in order).
    """
    ticket.status = TicketStatus.CANCELLED
    ticket.approved = False
    ticket.result = TicketResult.VOID
    ticket.cancel_reason = reason.value
    ticket.updated_at = now
    ticket.save(update_fields=_CANCEL_FIELDS)
    WebhookDelivery.objects.filter(
        ticket=ticket, action__in=OPENING_ACTIONS, status=DeliveryStatus.PENDING
    ).filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now)).update(
        status=DeliveryStatus.FAILED,
        lease_until=None,
        last_error=CANCELLED_BEFORE_CREATE,
        updated_at=now,
    )
    return enqueue(ticket=ticket, webhook=webhook, reason=reason.value)


def staff_cancel_webhook(ticket: Ticket) -> Webhook:
    """What cancelling this ticket sends: `ticket_refund` if its money was taken, else
    `ticket_discard` (the back office says which before staff confirm)."""
    return TICKET_REFUND if money_taken(ticket) else TICKET_DISCARD


def ticket_cancel_by_staff(*, ticket: Ticket) -> str:
    """Cancel a reserved or open ticket from the back office (reason `staff_cancelled`);
    returns the webhook queued, `ticket_refund` or `ticket_discard`.

    Raises TicketNotCancellable for any other status. `ticket` is updated in place.
    """
    now = clock.now()
    with transaction.atomic():
        locked = _locked(ticket.pk)
        if locked.status not in CANCELLABLE:
            raise TicketNotCancellable(
                f"Ticket {locked.code} is {locked.status}, neither reserved nor open"
            )
        webhook = staff_cancel_webhook(locked)
        ticket_cancel(locked, reason=DiscardReason.STAFF_CANCELLED, now=now, webhook=webhook)
    for field in _CANCEL_FIELDS:
        setattr(ticket, field, getattr(locked, field))
    log.info("pam_ticket_cancelled_by_staff", ticket_id=ticket.pk, webhook=webhook.action)
    return str(webhook.action)


def _locked(ticket_id: str) -> Ticket:
    return (
        Ticket.objects.select_for_update(of=("self",)).select_related("operator").get(pk=ticket_id)
    )


# ----------------------------------------------------------------------------- pay later
def reservation_open(ticket: Ticket, now: dt.datetime) -> bool:
    """A reservation that may still be paid: reserved, and not yet at its expiry."""
    return (
        ticket.status == TicketStatus.RESERVED
        and ticket.reserved_until is not None
        and now < ticket.reserved_until
    )


@dataclass(frozen=True, slots=True)
class PaidTicket:
    ticket_id: str
    body: bytes
    replayed: bool


def ticket_pay(*, operator: Operator, identifier: str, receipt: WriteKeys) -> PaidTicket:
    """The operator reports a reservation paid: it becomes `open`, `approved`, and the answer
    is the ticket. No webhook follows (the operator took the payment itself).

    Raises TicketNotFound (102) for an unknown or another operator's ticket, and
    TicketNotReserved (117) for any other status or a reservation whose time has passed even
    if the sweep has not cancelled it yet; both decide under the ticket's row lock, with the
    same clock. A repeat of the call (its signature, or its Idempotency-Key: `receipt`) gets
    the first answer, `replayed` (`tickets.receipts`); the key reused for another ticket is
    a 409.
    """
    try:
        return _pay(operator, identifier, receipt)
    except (ContractError, _KeyTaken):
        earlier = earlier_answer(operator_id=operator.pk, keys=receipt)  # or 128
        if earlier is None:
            raise
        return PaidTicket(ticket_id=earlier.ticket.pk, body=earlier.body, replayed=True)


class _KeyTaken(Exception):
    """The call's receipt could not be written: an earlier call holds one of its keys (the
    payment is rolled back with it)."""


def _pay(operator: Operator, identifier: str, keys: WriteKeys) -> PaidTicket:
    lookup = identifier_lookup(identifier)
    if lookup is None:
        raise TicketNotFound(identifier=identifier)
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("betcard")
            .filter(operator=operator, **lookup)
            .first()
        )
        if ticket is None:
            raise TicketNotFound(identifier=identifier)
        now = clock.now()
        if not reservation_open(ticket, now):
            raise TicketNotReserved()
        ticket.operator = operator
        ticket.status = TicketStatus.OPEN
        ticket.approved = True
        ticket.paid_at = now
        ticket.updated_at = now
        ticket.save(update_fields=["status", "approved", "paid_at", "updated_at"])
        body = ticket_body(ticket, ticket.betcard.code)
        if keys.keyed and not receipt_insert(
            receipt_row(keys=keys, ticket=ticket, response=body, now=now)
        ):
            raise _KeyTaken
    log.info("ticket_reservation_paid", ticket_id=ticket.pk)
    return PaidTicket(ticket_id=ticket.pk, body=body, replayed=False)


def reservations_expire(*, now: dt.datetime, batch_size: int = 500) -> int:
    """Cancel every reservation whose time has come (`ticket_discard` reason
    `reservation_expired`); returns how many. Each batch is its own transaction; a
    reservation being paid right now is skipped (its row is locked) and looked at again
    by the next run, when it is open or still due."""
    expired = 0
    while True:
        with transaction.atomic():
            due = list(
                Ticket.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("operator")
                .filter(status=TicketStatus.RESERVED, reserved_until__lte=now)
                .order_by("reserved_until")[:batch_size]
            )
            for ticket in due:
                ticket_cancel(ticket, reason=DiscardReason.RESERVATION_EXPIRED, now=now)
        expired += len(due)
        if len(due) < batch_size:
            break
    if expired:
        log.info("ticket_reservations_expired", count=expired)
    return expired
