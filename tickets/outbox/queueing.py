"""Queueing webhooks: the one way into the outbox (contract.md § PAM webhooks).

A webhook is a pending `WebhookDelivery` row written in the same transaction as the change
it reports, and woken after commit (`tickets.outbox.waking`). At most one row exists per
ticket and dedupe key (the action, or e.g. `result:2` in a resettlement), so nothing is
queued twice. Three forms of the same thing:

- `enqueue`: one row, its body rendered in Python;
- `pending_row`: the row `enqueue` would write, unsaved, for placement, which inserts it in
  the one statement that writes the ticket (then wakes it itself);
- `enqueue_for_tickets`: one row per ticket in one statement, bodies rendered in SQL, for
  set-based writes (settlement, closing).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from jackpot.core import clock
from jackpot.core.sql import sql_names
from operators.models import Operator
from tickets.models import DeliveryStatus, Ticket, WebhookDelivery
from tickets.outbox import payloads
from tickets.outbox.payloads import Webhook
from tickets.outbox.waking import wake


def pending_row(
    *, ticket: Ticket, webhook: Webhook, dedupe_key: str | None = None, **params: str
) -> WebhookDelivery:
    """The unsaved pending row of `webhook` about `ticket` (its operator loaded); `params`
    fill the webhook's `%name` fields. The dedupe key defaults to the action."""
    action = payloads.action(webhook, ticket)
    return WebhookDelivery(
        ticket=ticket,
        operator_id=ticket.operator_id,
        action=action,
        dedupe_key=dedupe_key or action,
        body=payloads.body(webhook, ticket, **params).decode(),
        next_attempt_at=clock.now(),
    )


def enqueue(
    *, ticket: Ticket, webhook: Webhook, dedupe_key: str | None = None, **params: str
) -> WebhookDelivery:
    """Queue `webhook` about `ticket`; must run inside the transaction that changes the
    ticket. A worker is woken after commit."""
    delivery = pending_row(ticket=ticket, webhook=webhook, dedupe_key=dedupe_key, **params)
    delivery.save(force_insert=True)
    wake([delivery.pk])
    return delivery


# Raw SQL: one statement queues a settled card's result webhooks for a whole batch of
# tickets (docs/settlement.md: 1,000,000 tickets in minutes, not hours).
_INSERT_SQL = sql_names(
    """
INSERT INTO {d} (
    {d.ticket}, {d.operator}, {d.action}, {d.dedupe_key}, {d.body}, {d.status},
    {d.attempts_count}, {d.next_attempt_at}, {d.last_error}, {d.created_at}, {d.updated_at}
)
SELECT t.{t.id}, t.{t.operator}, {{action}}, {{dedupe_key}}, {{body}},
       %(pending)s, 0, %(now)s, '', %(now)s, %(now)s
FROM {t} t JOIN {o} o ON o.{o.id} = t.{t.operator}
WHERE t.{t.id} = ANY(%(ids)s)
ORDER BY t.{t.id}
ON CONFLICT ({d.ticket}, {d.dedupe_key}) WHERE {d.ticket} IS NOT NULL DO NOTHING
RETURNING {d.id}
""",
    d=WebhookDelivery,
    t=Ticket,
    o=Operator,
)


def enqueue_for_tickets(
    *, ticket_ids: Sequence[str], webhook: Webhook, dedupe_key_sql: str, **params: str
) -> list[int]:
    """Queue `webhook` for each of these tickets in one statement; return the new rows' ids.

    `dedupe_key_sql` is a SQL expression over the ticket `t` (e.g. `'result:2'`); a ticket
    that already has a row with that key keeps it (ON CONFLICT DO NOTHING), so a rerun never
    queues twice. Rows are written in ticket id order; a caller that queues two webhooks per
    ticket (`ticket_rollback`, then the new result) queues the first in an earlier call, so
    it also gets the smaller id and is sent first. Must run inside the transaction that
    changes the tickets; a small set is woken after commit, a large one left to the sweep.
    """
    if not ticket_ids:
        return []
    statement = _INSERT_SQL.format(
        action=payloads.action_sql(webhook),
        dedupe_key=dedupe_key_sql,
        body=payloads.body_sql(webhook),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            statement,
            {
                "ids": list(ticket_ids),
                "now": clock.now(),
                "pending": DeliveryStatus.PENDING,
                **params,
            },
        )
        queued = [row[0] for row in cursor.fetchall()]
    wake(queued)
    return queued
