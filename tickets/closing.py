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
from tickets.models import DeliveryStatus, TicketStatus
from tickets.webhook_sql import CLOSED_FIELDS, deliveries_insert, deliveries_kick

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


def _close_batch(*, now: dt.datetime, cutoff: dt.datetime, size: int) -> int:
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE tickets_ticket t SET closed_at = %(now)s, updated_at = %(now)s
            WHERE t.id IN (
                SELECT due.id FROM tickets_ticket due
                WHERE due.status = %(closed)s AND due.closed_at IS NULL
                  AND due.settled_at <= %(cutoff)s
                  AND NOT EXISTS (
                      SELECT 1 FROM tickets_webhookdelivery w
                      WHERE w.ticket_id = due.id
                        AND (w.status <> %(delivered)s OR w.delivered_at > %(cutoff)s)
                  )
                ORDER BY due.settled_at
                LIMIT %(size)s
                FOR UPDATE SKIP LOCKED
            )
            RETURNING t.id
            """,
            {
                "now": now,
                "cutoff": cutoff,
                "size": size,
                "closed": TicketStatus.CLOSED,
                "delivered": DeliveryStatus.DELIVERED,
            },
        )
        ticket_ids = [row[0] for row in cursor.fetchall()]
        queued = deliveries_insert(
            ticket_ids=ticket_ids,
            action="'ticket_closed'",
            dedupe_key="'closed:' || t.settlement_round",
            fields=CLOSED_FIELDS,
        )
        deliveries_kick(queued)
    return len(ticket_ids)
