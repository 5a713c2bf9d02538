"""Replays and a paid call's Idempotency-Key: a repeated write gets its first answer.

Implements contract.md § Replays: a request whose operator, timestamp and signature repeat an
earlier one's is answered with the first response and creates nothing, for every write
(placement, reservation, paid). The signature is an HMAC of the timestamp and the body, so
it names one request; a replay is only accepted within the signature's skew window, after
which its receipt is deleted.

- A successful write stores a receipt (`signature_key`) in the statement or transaction
  that writes the ticket, under a unique index per operator. A second copy racing the first
  waits on that index and fails; it then answers with the first one's receipt. Nothing
  costs a query on the way of a first request.
- A copy that arrives later is refused by a check (its ticket exists now: 117 for a second
  `paid`; for a placement, whatever a check says): before answering an error, the write
  looks for the receipt and answers with it if there is one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Q

from tickets.models import Ticket, WriteEndpoint, WriteReceipt

RECEIPT_CONSTRAINT = "write_receipt_once"

TicketRenderer = Callable[[Ticket, str], bytes]
"""`render(ticket, betcard_code)` → the exact 200 body of a write; kept for its repeats."""
EXPIRY_MARGIN = dt.timedelta(minutes=1)


def signature_key(signature: str, endpoint: WriteEndpoint, target: str = "") -> str:
    """A request's replay key. The signature covers the timestamp and the body, not the
    path: the endpoint and its target (the ticket a `paid` is for) are part of the key, so
    that two tickets paid in the same second (both sign `{timestamp}` alone) or the same
    body sent to /reserve and to /tickets are not taken for copies of each other."""
    return f"signature:{endpoint}:{target}:{signature}"


def paid_key(idempotency_key: str) -> str:
    return f"paid:{idempotency_key}"


def replay_expiry(now: dt.datetime) -> dt.datetime:
    """When a copy of a request answered now can no longer pass the skew check: its
    timestamp is at most the skew ahead of now, and is accepted until the skew after it."""
    return now + 2 * dt.timedelta(seconds=settings.SIGNATURE_MAX_SKEW_SECONDS) + EXPIRY_MARGIN


def receipt_new(
    *,
    ticket: Ticket,
    key: str,
    endpoint: WriteEndpoint,
    response: bytes,
    now: dt.datetime,
    fingerprint: str = "",
    expires: bool = True,
) -> WriteReceipt:
    return WriteReceipt(
        operator_id=ticket.operator_id,
        key=key,
        endpoint=endpoint,
        fingerprint=fingerprint,
        ticket_id=ticket.pk,
        response=response.decode(),
        created_at=now,
        expires_at=replay_expiry(now) if expires else None,
    )


def receipt_get(*, operator_id: int, key: str) -> WriteReceipt | None:
    return WriteReceipt.objects.filter(operator_id=operator_id, key=key).first()


def receipts_forget(*, now: dt.datetime) -> int:
    """Delete the signature receipts no replay can use any more; returns how many."""
    deleted, _ = WriteReceipt.objects.filter(
        Q(expires_at__isnull=False) & Q(expires_at__lte=now)
    ).delete()
    return deleted


def violation(error: IntegrityError) -> tuple[str | None, str | None]:
    """(table, constraint) of a unique violation reported by psycopg, else (None, None)."""
    diag = getattr(error.__cause__, "diag", None)
    if diag is None:
        return None, None
    return diag.table_name, diag.constraint_name
