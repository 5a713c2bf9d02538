"""`ticket_closed`: a settled ticket becomes final (contract.md § Settlement).

The webhook follows `TICKET_CLOSED_DELAY_HOURS` (default 24) after the ticket's result, and
only once every earlier webhook of the ticket has been delivered that long ago: a result
still retrying, or a rollback and its new result, push the closing back. From then on the
ticket is final; only a resettlement with a staff override may change it again.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, transaction

from jackpot.core import clock
from jackpot.core.sql import sql_names
from tickets.models import DeliveryStatus, Ticket, TicketStatus, WebhookDelivery
from tickets.outbox.payloads import TICKET_CLOSED
from tickets.outbox.queueing import enqueue_for_tickets

CLOSE_BATCH = 2_000


def tickets_close_due(
    *, now: dt.datetime | None = None, batch_size: int = CLOSE_BATCH, max_batches: int = 50
) -> int:
    """Close the tickets that are due and queue their `ticket_closed`; return how many.

    Each batch is one transaction (tickets locked with SKIP LOCKED, so concurrent runs share
    the work); a run stops after `max_batches`, and the next beat tick goes on.
    """
    now = now or clock.now()
    cutoff = now - dt.timedelta(hours=settings.TICKET_CLOSED_DELAY_HOURS)
    closed = 0
    for _ in range(max_batches):
        count = _close_batch(now=now, cutoff=cutoff, size=batch_size)
        closed += count
        if count < batch_size:
            break
    return closed


# Raw SQL: one statement picks and closes a batch (UPDATE ... WHERE id IN (... SKIP LOCKED)),
# where the ORM would read the ids, then update them, in two round trips per batch.
_CLOSE_DUE_SQL = sql_names(
    """
    UPDATE {t} t SET {t.closed_at} = %(now)s, {t.updated_at} = %(now)s
    WHERE t.{t.id} IN (
        SELECT due.{t.id} FROM {t} due
        WHERE due.{t.status} = %(closed)s AND due.{t.closed_at} IS NULL
          AND due.{t.settled_at} <= %(cutoff)s
          AND NOT EXISTS (
              SELECT FROM {w} w
              WHERE w.{w.ticket} = due.{t.id}
                AND (w.{w.status} <> %(delivered)s OR w.{w.delivered_at} > %(cutoff)s)
          )
        ORDER BY due.{t.settled_at}
        LIMIT %(size)s
        FOR UPDATE SKIP LOCKED
    )
    RETURNING t.{t.id}
    """,
    t=Ticket,
    w=WebhookDelivery,
)
_DEDUPE_KEY_SQL = sql_names("'closed:' || t.{t.settlement_round}", t=Ticket)


def _close_batch(*, now: dt.datetime, cutoff: dt.datetime, size: int) -> int:
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        cursor.execute(
            _CLOSE_DUE_SQL,
            {
                "now": now,
                "cutoff": cutoff,
                "size": size,
                "closed": TicketStatus.CLOSED,
                "delivered": DeliveryStatus.DELIVERED,
            },
        )
        ticket_ids = [row[0] for row in cursor.fetchall()]
        enqueue_for_tickets(
            ticket_ids=ticket_ids, webhook=TICKET_CLOSED, dedupe_key_sql=_DEDUPE_KEY_SQL
        )
    return len(ticket_ids)
