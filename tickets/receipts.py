"""One receipt per write: its first answer, found again by any key a repeat of it carries.

Implements contract.md § Replays (a request whose operator, timestamp and signature repeat
an earlier one's), § Idempotency (the `Idempotency-Key` header) and one purchase, one
ticket (the body's `reference`): a repeat is answered with the first answer, marked
`Replayed: true`, and creates nothing; a key sent again with another request is a 409
(128 for an Idempotency-Key, 132 for a reference).

- `WriteKeys` is what a write brings: what it asks (`fingerprint`) and its keys.
- The writer inserts the write's one `WriteReceipt` row in the statement (or transaction)
  that writes the ticket, first, with `ON CONFLICT DO NOTHING`: when any of its keys is
  taken, nothing else is written and the writer reports it (a concurrent copy waits on the
  unique index until the first commits). Nothing costs a query on a first request's way.
- `earlier_answer` finds the receipt a repeat matches and answers it (or raises the 409);
  it is asked after a write reported a taken key, and before a refusal is answered (a copy
  that arrives after its ticket changed things: a second `paid` is 117, a purchase on a
  card that has closed since is 121, yet both are repeats).

A signature is only accepted within the skew window, so its key is forgotten after it
(`receipts_forget`): the row goes too, unless it holds an Idempotency-Key or a reference,
which are kept for good.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q

from jackpot.core.errors import IdempotencyKeyReused, ReferenceReused
from jackpot.core.sql import execute_fetchone, insert_params, insert_select_sql
from tickets.models import Ticket, WriteEndpoint, WriteReceipt
from tickets.rendering import ticket_body

EXPIRY_MARGIN = dt.timedelta(minutes=1)


@dataclass(frozen=True, kw_only=True, slots=True)
class WriteKeys:
    """A write's identity for its repeats: what it asks and the keys it came with."""

    endpoint: WriteEndpoint
    fingerprint: str
    """What is asked, compared when a key repeats: SHA-256 of the body's content for a
    purchase (a reservation's hashed with its endpoint), the ticket identifier for `paid`."""
    signature: str | None = None
    """The request's `signature` header (None: not a signed HTTP request)."""
    idempotency_key: str | None = None
    reference: str | None = None
    target: str = ""
    """What the call acts on beyond its body: `paid`'s ticket identifier."""

    @property
    def keyed(self) -> bool:
        """Whether a repeat could be recognised (a signature, a key or a reference): only
        then is a receipt written."""
        return bool(self.signature or self.idempotency_key or self.reference)

    @property
    def signature_key(self) -> str | None:
        """The signature covers the timestamp and the body, not the path: the endpoint and
        its target are part of the key, so that two tickets paid in the same second (both
        sign `{timestamp}` alone), or one body sent to /reserve and to /tickets, are not
        taken for copies of each other."""
        if self.signature is None:
            return None
        return f"{self.endpoint}:{self.target}:{self.signature}"

    @property
    def scoped_idempotency_key(self) -> str | None:
        """Placements and reservations share a key space; `paid` calls have their own."""
        if self.idempotency_key is None:
            return None
        scope = "paid" if self.endpoint == WriteEndpoint.PAID else "purchase"
        return f"{scope}:{self.idempotency_key}"


def receipt_row(
    *, keys: WriteKeys, ticket: Ticket, response: bytes, now: dt.datetime
) -> WriteReceipt:
    """The write's receipt, to insert with its ticket."""
    signature = keys.signature_key
    return WriteReceipt(
        operator_id=ticket.operator_id,
        endpoint=keys.endpoint,
        fingerprint=keys.fingerprint,
        ticket_id=ticket.pk,
        response=response.decode(),
        created_at=now,
        signature=signature,
        signature_expires_at=None if signature is None else replay_expiry(now),
        idempotency_key=keys.scoped_idempotency_key,
        reference=keys.reference,
    )


def receipt_insert(receipt: WriteReceipt) -> bool:
    """Insert a receipt on its own (the placement's is part of its write statement); False,
    with nothing written, when an earlier write holds one of its keys."""
    return (
        execute_fetchone(
            f"{insert_select_sql(WriteReceipt)} ON CONFLICT DO NOTHING RETURNING 1",
            insert_params(receipt),
        )
        is not None
    )


def replay_expiry(now: dt.datetime) -> dt.datetime:
    """When a copy of a request answered now can no longer pass the skew check: its
    timestamp is at most the skew ahead of now, and is accepted until the skew after it."""
    return now + 2 * dt.timedelta(seconds=settings.SIGNATURE_MAX_SKEW_SECONDS) + EXPIRY_MARGIN


@dataclass(frozen=True, slots=True)
class EarlierAnswer:
    ticket: Ticket
    body: bytes


def earlier_answer(*, operator_id: int, keys: WriteKeys) -> EarlierAnswer | None:
    """The first answer to the write that `keys` repeat, or None when none does.

    Checked in the order signature, Idempotency-Key, reference: a repeated signature is a
    copy of the same request; a repeated Idempotency-Key or reference with another
    `fingerprint` raises IdempotencyKeyReused (128) or ReferenceReused (132)."""
    signature, key = keys.signature_key, keys.scoped_idempotency_key
    wanted = [
        Q(**{field: value})
        for field, value in (
            ("signature", signature),
            ("idempotency_key", key),
            ("reference", keys.reference),
        )
        if value is not None
    ]
    if not wanted:
        return None
    found = list(
        WriteReceipt.objects.filter(
            functools.reduce(operator.or_, wanted), operator_id=operator_id
        ).select_related("ticket__betcard", "ticket__operator")
    )
    for receipt in found:
        if signature is not None and receipt.signature == signature:
            return _answer(receipt)
    for receipt in found:
        if key is not None and receipt.idempotency_key == key:
            if receipt.fingerprint != keys.fingerprint:
                what = "ticket" if keys.endpoint == WriteEndpoint.PAID else "request body"
                raise IdempotencyKeyReused(key=keys.idempotency_key, what=what)
            return _answer(receipt)
    for receipt in found:
        if keys.reference is not None and receipt.reference == keys.reference:
            if receipt.fingerprint != keys.fingerprint:
                raise ReferenceReused(reference=keys.reference)
            return _answer(receipt)
    return None


def _answer(receipt: WriteReceipt) -> EarlierAnswer:
    ticket = receipt.ticket
    # A key carried from before receipts kept the answer: the ticket as it was answered.
    body = receipt.response.encode() or ticket_body(ticket, ticket.betcard.code)
    return EarlierAnswer(ticket=ticket, body=body)


def receipts_forget(*, now: dt.datetime) -> int:
    """Forget the signatures no replay can use any more; returns how many. A receipt with
    no other key goes with its signature."""
    expired = WriteReceipt.objects.filter(signature_expires_at__lte=now)
    deleted, _ = expired.filter(idempotency_key__isnull=True, reference__isnull=True).delete()
    kept = expired.update(signature=None, signature_expires_at=None)
    return deleted + kept
