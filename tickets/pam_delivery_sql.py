"""The two statements of a webhook attempt's common path, one round trip each.

`tickets.pam_delivery` keeps the rules (docs/webhooks.md § How a webhook travels); this
module holds the set-based SQL that applies them when nothing unusual happens, so an
attempt costs two statements instead of nine (each a round trip to PostgreSQL, and ORM
compiling that cost more CPU than the HTTP call):

- `claim_statement`: take a due row that is free, set its lease, mark a dead worker's
  in-flight attempt interrupted and insert the new in-flight attempt, and read the
  operator's webhook URL and secret;
- `delivered_statement`: after a 2xx, complete the attempt, mark the row delivered, confirm
  the ticket of a `ticket_create` and find the ticket's next pending webhook.

Each is one statement (data-modifying CTEs), hence atomic. When the claim takes nothing,
`pam_delivery` finds out why with the ORM (the rare path); a failed answer is recorded by
the ORM too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from operators.models import Operator
from operators.pam import PamAnswer
from tickets.models import (
    DeliveryStatus,
    TicketStatus,
    WebhookAction,
    WebhookAttempt,
    WebhookDelivery,
)

INTERRUPTED_ERROR = "the worker stopped before recording an answer (its lease ran out)"

_DELIVERY_FIELDS = [field.attname for field in WebhookDelivery._meta.concrete_fields]
_DELIVERY_COLUMNS = ", ".join(
    f"claimed.{field.column}" for field in WebhookDelivery._meta.concrete_fields
)
# What `operators.pam.pam_post` reads, in the model's order (as `Model.from_db` takes
# them); the operator's other fields stay deferred.
_OPERATOR_FIELDS = [
    field.attname
    for field in Operator._meta.concrete_fields
    if field.attname in {"id", "name", "webhook_url", "secret_key_encrypted"}
]

CLAIM_SQL = f"""
WITH target AS (
    SELECT d.id
    FROM tickets_webhookdelivery d
    LEFT JOIN tickets_ticket t ON t.id = d.ticket_id
    WHERE d.id = %(id)s
      AND d.status = %(pending)s
      AND d.next_attempt_at <= %(now)s
      AND (d.lease_until IS NULL OR d.lease_until <= %(now)s)
      AND NOT (d.action = %(create)s AND t.status IS NOT DISTINCT FROM %(cancelled)s)
      AND NOT EXISTS (
          SELECT 1 FROM tickets_webhookdelivery e
          WHERE e.ticket_id = d.ticket_id AND e.status = %(pending)s AND e.id < d.id
      )
    FOR UPDATE OF d SKIP LOCKED
), claimed AS (
    UPDATE tickets_webhookdelivery d
    SET attempts_count = d.attempts_count + 1,
        lease_until = %(lease_until)s,
        retry_deadline = CASE
            WHEN d.action = %(create)s AND d.retry_deadline IS NULL
            THEN d.created_at + make_interval(secs => %(window)s)
            ELSE d.retry_deadline END,
        updated_at = %(now)s
    FROM target
    WHERE d.id = target.id
    RETURNING d.*
), interrupted AS (
    UPDATE tickets_webhookattempt a
    SET outcome = 'interrupted', error = %(interrupted)s
    FROM claimed
    WHERE a.delivery_id = claimed.id AND a.outcome = 'in_flight'
), attempt AS (
    INSERT INTO tickets_webhookattempt (
        delivery_id, number, started_at, http_status, latency_ms, outcome, error,
        response_excerpt
    )
    SELECT claimed.id, claimed.attempts_count, %(now)s, NULL, 0, 'in_flight', '', ''
    FROM claimed
    RETURNING id
)
SELECT attempt.id, {", ".join(f"o.{name}" for name in _OPERATOR_FIELDS)}, {_DELIVERY_COLUMNS}
FROM claimed
CROSS JOIN attempt
JOIN operators_operator o ON o.id = claimed.operator_id
"""  # noqa: S608 - column names from the models, no input

# Lock order as everywhere else: the ticket first (a `ticket_create` only), then the row;
# `delivered` waits for `ticket_row` through its EXISTS.
DELIVERED_SQL = """
WITH ticket_row AS (
    SELECT t.id, t.status, t.needs_reconciliation
    FROM tickets_ticket t
    WHERE t.id = %(ticket_id)s AND %(confirms)s
    FOR UPDATE
), confirmed AS (
    UPDATE tickets_ticket t
    SET pam_confirmed_at = coalesce(t.pam_confirmed_at, %(now)s),
        user_id = coalesce(%(player_id)s, t.user_id),
        needs_reconciliation = t.needs_reconciliation OR t.status = %(cancelled)s,
        updated_at = %(now)s
    FROM ticket_row
    WHERE t.id = ticket_row.id
    RETURNING ticket_row.status, ticket_row.needs_reconciliation
), attempt AS (
    UPDATE tickets_webhookattempt
    SET http_status = %(http_status)s, latency_ms = %(latency_ms)s, outcome = %(outcome)s,
        error = '', response_excerpt = %(excerpt)s
    WHERE id = %(attempt_id)s
), delivered AS (
    UPDATE tickets_webhookdelivery d
    SET status = %(delivered)s, lease_until = NULL, last_error = '',
        delivered_at = coalesce(d.delivered_at, %(now)s), updated_at = %(now)s
    WHERE d.id = %(id)s
      AND d.status <> %(delivered)s
      AND (NOT %(confirms)s OR EXISTS (SELECT FROM ticket_row))
    RETURNING d.id
)
SELECT
    EXISTS (SELECT FROM delivered),
    (SELECT status FROM confirmed),
    (SELECT needs_reconciliation FROM confirmed),
    (SELECT min(e.id) FROM tickets_webhookdelivery e
     WHERE e.ticket_id = %(ticket_id)s AND e.status = %(pending)s AND e.id > %(id)s)
"""


@dataclass(frozen=True, kw_only=True)
class ClaimedRow:
    """A row this worker now holds: its lease is set and its in-flight attempt inserted.

    `operator` has only the fields `pam_post` reads loaded."""

    delivery: WebhookDelivery
    operator: Operator
    attempt: WebhookAttempt


@dataclass(frozen=True, kw_only=True)
class DeliveredRow:
    """What `delivered_statement` changed and found.

    `newly_delivered` is false when another worker had already marked the row delivered;
    `ticket_was_cancelled` and `ticket_was_flagged` describe a `ticket_create`'s ticket as
    it was before the confirmation (None otherwise); `next_pending_id` is the ticket's next
    webhook, which waited for this one."""

    newly_delivered: bool
    ticket_was_cancelled: bool | None
    ticket_was_flagged: bool | None
    next_pending_id: int | None


def claim_statement(
    *, delivery_id: int, now: dt.datetime, lease_until: dt.datetime, retry_window: dt.timedelta
) -> ClaimedRow | None:
    """Claim the row if it is pending, due, free, not behind an earlier pending webhook of
    its ticket and not the `ticket_create` of a cancelled ticket; None otherwise (or when
    another worker holds its row lock). A `ticket_create` gets its `retry_deadline`
    (queued + `retry_window`) at its first claim."""
    with connection.cursor() as cursor:
        cursor.execute(
            CLAIM_SQL,
            {
                "id": delivery_id,
                "now": now,
                "lease_until": lease_until,
                "window": retry_window.total_seconds(),
                "pending": DeliveryStatus.PENDING.value,
                "create": WebhookAction.TICKET_CREATE.value,
                "cancelled": TicketStatus.CANCELLED.value,
                "interrupted": INTERRUPTED_ERROR,
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    attempt_id = row[0]
    operator_values = row[1 : 1 + len(_OPERATOR_FIELDS)]
    delivery = WebhookDelivery.from_db(
        "default", _DELIVERY_FIELDS, row[1 + len(_OPERATOR_FIELDS) :]
    )
    operator = Operator.from_db("default", _OPERATOR_FIELDS, operator_values)
    delivery.operator = operator
    attempt = WebhookAttempt.from_db(  # the model's field order
        "default",
        ["id", "delivery_id", "number", "started_at", "http_status", "latency_ms", "outcome"],
        [attempt_id, delivery.pk, delivery.attempts_count, now, None, 0, "in_flight"],
    )
    return ClaimedRow(delivery=delivery, operator=operator, attempt=attempt)


def delivered_statement(
    *, delivery: WebhookDelivery, attempt_id: int, answer: PamAnswer, now: dt.datetime
) -> DeliveredRow:
    """Record a 2xx: complete the attempt, mark the row delivered (its first `delivered_at`
    kept), and for a `ticket_create` confirm its ticket (`pam_confirmed_at`, the PAM's
    player id, `needs_reconciliation` when the ticket was already cancelled)."""
    confirms = delivery.action == WebhookAction.TICKET_CREATE and delivery.ticket_id is not None
    with connection.cursor() as cursor:
        cursor.execute(
            DELIVERED_SQL,
            {
                "id": delivery.pk,
                "ticket_id": delivery.ticket_id,
                "confirms": confirms,
                "attempt_id": attempt_id,
                "http_status": answer.http_status,
                "latency_ms": answer.latency_ms,
                "outcome": answer.outcome.value,
                "excerpt": answer.excerpt,
                "player_id": answer.player_id,
                "now": now,
                "pending": DeliveryStatus.PENDING.value,
                "delivered": DeliveryStatus.DELIVERED.value,
                "cancelled": TicketStatus.CANCELLED.value,
            },
        )
        [(newly_delivered, ticket_status, was_flagged, next_pending_id)] = cursor.fetchall()
    return DeliveredRow(
        newly_delivered=bool(newly_delivered),
        ticket_was_cancelled=(
            None if ticket_status is None else ticket_status == TicketStatus.CANCELLED
        ),
        ticket_was_flagged=was_flagged,
        next_pending_id=next_pending_id,
    )
