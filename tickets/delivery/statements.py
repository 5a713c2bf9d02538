"""The two statements of a webhook attempt, one round trip each (docs/webhooks.md).

Raw SQL because it pays: an attempt took nine statements through the ORM, each a round trip
to PostgreSQL, and compiling them cost more CPU than the HTTP call (docs/webhooks.md § What
held delivery back: 34 → 83-127 webhooks/s per pool process).

- `claim`: look at a row and either take it (set its lease, mark a dead worker's in-flight
  attempt interrupted, insert the new in-flight attempt, read the operator's URL and secret)
  or say why not (`Claim.verdict`), closing the `ticket_create` (or `ticket_reserve`) of a
  cancelled ticket;
- `delivered`: after a 2xx, complete the attempt, mark the row delivered, confirm the ticket
  of a `ticket_create` or `ticket_reserve` and find the ticket's next pending webhook.

Each is one statement (data-modifying CTEs), hence atomic. The rules they apply are those of
`tickets.delivery.attempts`; a failed answer is recorded there with the ORM.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from jackpot.core.sql import named_rows, sql_names
from operators.models import Operator
from operators.pam import PamAnswer
from tickets.lifecycle import CANCELLED_BEFORE_CREATE
from tickets.models import (
    DeliveryStatus,
    Ticket,
    TicketStatus,
    WebhookAttempt,
    WebhookDelivery,
)
from tickets.outbox.payloads import OPENING_ACTIONS

INTERRUPTED_ERROR = "the worker stopped before recording an answer (its lease ran out)"
IN_FLIGHT, INTERRUPTED = "in_flight", "interrupted"
CLAIMED = "claimed"

_DELIVERY_FIELDS = [field.attname for field in WebhookDelivery._meta.concrete_fields]
# What `operators.pam.pam_post` reads; the operator's other fields stay deferred.
_OPERATOR_FIELDS = [
    field.attname
    for field in Operator._meta.concrete_fields
    if field.attname in {"id", "name", "webhook_url", "secret_key_encrypted"}
]
_NAMES = {"d": WebhookDelivery, "e": WebhookDelivery, "t": Ticket, "a": WebhookAttempt}

NEXT_PENDING = (
    "SELECT min(e.{e.id}) FROM {e} e WHERE e.{e.ticket} = %(ticket_id)s"
    " AND e.{e.status} = %(pending)s AND e.{e.id} > %(id)s"
)
"""The ticket's next pending webhook after row `id`: it waited for this one."""

_CLAIM_SQL = sql_names(
    """
WITH candidate AS (
    SELECT d.{d.id} AS id, d.{d.ticket} AS ticket_id, d.{d.status} AS status,
           d.{d.lease_until} AS lease_until, d.{d.next_attempt_at} AS next_attempt_at,
           d.{d.action} AS action, t.{t.status} AS ticket_status,
           EXISTS (
               SELECT FROM {e} e
               WHERE e.{e.ticket} = d.{d.ticket} AND e.{e.status} = %(pending)s
                 AND e.{e.id} < d.{d.id}
           ) AS waits
    FROM {d} d LEFT JOIN {t} t ON t.{t.id} = d.{d.ticket}
    WHERE d.{d.id} = %(id)s
    FOR UPDATE OF d SKIP LOCKED
), verdict AS (
    SELECT id, ticket_id, CASE
        WHEN status <> %(pending)s THEN 'already-' || status
        WHEN lease_until > %(now)s THEN 'in-flight'
        WHEN next_attempt_at > %(now)s THEN 'not-due'
        WHEN waits THEN 'waiting-for-earlier'
        WHEN action = ANY(%(opening)s) AND ticket_status = %(cancelled)s THEN 'ticket-cancelled'
        ELSE 'claimed' END AS verdict
    FROM candidate
), closed AS (
    UPDATE {d} d
    SET {d.status} = %(failed)s, {d.lease_until} = NULL,
        {d.last_error} = %(cancelled_error)s, {d.updated_at} = %(now)s
    FROM verdict WHERE d.{d.id} = verdict.id AND verdict.verdict = 'ticket-cancelled'
    RETURNING verdict.id, verdict.ticket_id
), claimed AS (
    UPDATE {d} d
    SET {d.attempts_count} = d.{d.attempts_count} + 1,
        {d.lease_until} = %(lease_until)s,
        {d.retry_deadline} = CASE
            WHEN d.{d.action} = ANY(%(opening)s) AND d.{d.retry_deadline} IS NULL
            THEN d.{d.created_at} + make_interval(secs => %(window)s)
            ELSE d.{d.retry_deadline} END,
        {d.updated_at} = %(now)s
    FROM verdict WHERE d.{d.id} = verdict.id AND verdict.verdict = 'claimed'
    RETURNING d.*
), interrupted AS (
    UPDATE {a} a SET {a.outcome} = %(interrupted)s, {a.error} = %(interrupted_error)s
    FROM claimed
    WHERE a.{a.delivery} = claimed.{d.id} AND a.{a.outcome} = %(in_flight)s
), attempt AS (
    INSERT INTO {a} (
        {a.delivery}, {a.number}, {a.started_at}, {a.http_status}, {a.latency_ms},
        {a.outcome}, {a.error}, {a.response_excerpt}
    )
    SELECT claimed.{d.id}, claimed.{d.attempts_count}, %(now)s, NULL, 0, %(in_flight)s, '', ''
    FROM claimed
    RETURNING {a.id} AS id
)
SELECT
    coalesce(
        (SELECT verdict FROM verdict),
        CASE WHEN EXISTS (SELECT FROM {e} e WHERE e.{e.id} = %(id)s)
             THEN 'in-flight' ELSE 'missing' END
    ) AS verdict,
    (SELECT min(e.{e.id}) FROM {e} e JOIN closed ON e.{e.ticket} = closed.ticket_id
     WHERE e.{e.status} = %(pending)s AND e.{e.id} > closed.id) AS next_pending_id,
    attempt.id AS attempt_id, {operator_columns}, {delivery_columns}
FROM (SELECT) AS one
LEFT JOIN claimed ON true
LEFT JOIN attempt ON true
LEFT JOIN {o} o ON o.{o.id} = claimed.{d.operator}
""",
    **_NAMES,
    o=Operator,
    operator_columns=", ".join(f"o.{{o.{name}}} AS o_{name}" for name in _OPERATOR_FIELDS),
    delivery_columns=", ".join(f"claimed.{{d.{name}}} AS d_{name}" for name in _DELIVERY_FIELDS),
)

_NEXT_PENDING_SQL = sql_names(NEXT_PENDING, e=WebhookDelivery)

# Lock order as everywhere else: the ticket first (a `ticket_create` only), then the row;
# `delivered` waits for `ticket_row` through its EXISTS.
_DELIVERED_SQL = sql_names(
    """
WITH ticket_row AS (
    SELECT t.{t.id} AS id, t.{t.status} AS status,
           t.{t.needs_reconciliation} AS needs_reconciliation
    FROM {t} t
    WHERE t.{t.id} = %(ticket_id)s AND %(confirms)s
    FOR UPDATE
), confirmed AS (
    UPDATE {t} t
    SET {t.pam_confirmed_at} = coalesce(t.{t.pam_confirmed_at}, %(now)s),
        {t.user_id} = coalesce(%(player_id)s, t.{t.user_id}),
        {t.needs_reconciliation} = t.{t.needs_reconciliation} OR t.{t.status} = %(cancelled)s,
        {t.updated_at} = %(now)s
    FROM ticket_row
    WHERE t.{t.id} = ticket_row.id
    RETURNING ticket_row.status, ticket_row.needs_reconciliation
), attempt AS (
    UPDATE {a}
    SET {a.http_status} = %(http_status)s, {a.latency_ms} = %(latency_ms)s,
        {a.outcome} = %(outcome)s, {a.error} = '', {a.response_excerpt} = %(excerpt)s
    WHERE {a.id} = %(attempt_id)s
), delivered AS (
    UPDATE {d} d
    SET {d.status} = %(delivered)s, {d.lease_until} = NULL, {d.last_error} = '',
        {d.delivered_at} = coalesce(d.{d.delivered_at}, %(now)s), {d.updated_at} = %(now)s
    WHERE d.{d.id} = %(id)s
      AND d.{d.status} <> %(delivered)s
      AND (NOT %(confirms)s OR EXISTS (SELECT FROM ticket_row))
    RETURNING d.{d.id}
)
SELECT
    EXISTS (SELECT FROM delivered) AS newly_delivered,
    (SELECT status FROM confirmed) AS ticket_status,
    (SELECT needs_reconciliation FROM confirmed) AS was_flagged,
    ({next_pending}) AS next_pending_id
""",
    **_NAMES,
    next_pending=NEXT_PENDING,
)


@dataclass(frozen=True, kw_only=True)
class Claim:
    """What `claim` did: `verdict` is `claimed`, or why nothing was sent (`already-delivered`,
    `already-failed`, `in-flight`, `not-due`, `waiting-for-earlier`, `ticket-cancelled`,
    `missing`). A claimed row has its lease set and its in-flight `attempt` inserted, and
    `delivery.operator` has only the fields `pam_post` reads loaded. `next_pending_id`: the
    ticket's next webhook, which waited for the `ticket_create` closed here."""

    verdict: str
    delivery: WebhookDelivery | None = None
    attempt: WebhookAttempt | None = None
    next_pending_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class Delivered:
    """What `delivered` changed and found.

    `newly_delivered` is false when another worker had already marked the row delivered;
    `ticket_was_cancelled` and `ticket_was_flagged` describe a `ticket_create`'s ticket as
    it was before the confirmation (None otherwise); `next_pending_id` is the ticket's next
    webhook, which waited for this one."""

    newly_delivered: bool
    ticket_was_cancelled: bool | None
    ticket_was_flagged: bool | None
    next_pending_id: int | None


def claim(
    *, delivery_id: int, now: dt.datetime, lease_until: dt.datetime, retry_window: dt.timedelta
) -> Claim:
    """Take the row if it is pending, due, free, not behind an earlier pending webhook of
    its ticket and not the `ticket_create` of a cancelled ticket (which is closed instead);
    a row another worker holds locked is `in-flight`. A `ticket_create` gets its
    `retry_deadline` (queued + `retry_window`) at its first claim."""
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL,
            {
                "id": delivery_id,
                "now": now,
                "lease_until": lease_until,
                "window": retry_window.total_seconds(),
                "pending": DeliveryStatus.PENDING,
                "failed": DeliveryStatus.FAILED,
                "opening": OPENING_ACTIONS,
                "cancelled": TicketStatus.CANCELLED,
                "cancelled_error": CANCELLED_BEFORE_CREATE,
                "in_flight": IN_FLIGHT,
                "interrupted": INTERRUPTED,
                "interrupted_error": INTERRUPTED_ERROR,
            },
        )
        [row] = named_rows(cursor)
    if row.verdict != CLAIMED:
        return Claim(verdict=row.verdict, next_pending_id=row.next_pending_id)
    delivery = WebhookDelivery.from_db(
        connection.alias, _DELIVERY_FIELDS, [getattr(row, f"d_{n}") for n in _DELIVERY_FIELDS]
    )
    delivery.operator = Operator.from_db(
        connection.alias, _OPERATOR_FIELDS, [getattr(row, f"o_{n}") for n in _OPERATOR_FIELDS]
    )
    attempt = WebhookAttempt(
        id=row.attempt_id,
        delivery=delivery,
        number=delivery.attempts_count,
        started_at=now,
        latency_ms=0,
        outcome=IN_FLIGHT,
    )
    return Claim(verdict=CLAIMED, delivery=delivery, attempt=attempt)


def delivered(
    *, delivery: WebhookDelivery, attempt_id: int, answer: PamAnswer, now: dt.datetime
) -> Delivered:
    """Record a 2xx: complete the attempt, mark the row delivered (its first `delivered_at`
    kept), and for a `ticket_create` confirm its ticket (`pam_confirmed_at`, the PAM's
    player id, `needs_reconciliation` when the ticket was already cancelled)."""
    confirms = delivery.action in OPENING_ACTIONS and delivery.ticket_id is not None
    with connection.cursor() as cursor:
        cursor.execute(
            _DELIVERED_SQL,
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
                "pending": DeliveryStatus.PENDING,
                "delivered": DeliveryStatus.DELIVERED,
                "cancelled": TicketStatus.CANCELLED,
            },
        )
        [row] = named_rows(cursor)
    return Delivered(
        newly_delivered=bool(row.newly_delivered),
        ticket_was_cancelled=(
            None if row.ticket_status is None else row.ticket_status == TicketStatus.CANCELLED
        ),
        ticket_was_flagged=row.was_flagged,
        next_pending_id=row.next_pending_id,
    )


def next_pending(delivery: WebhookDelivery) -> int | None:
    """The id of the ticket's next pending webhook after `delivery`, if any."""
    if delivery.ticket_id is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            _NEXT_PENDING_SQL,
            {"ticket_id": delivery.ticket_id, "pending": DeliveryStatus.PENDING, "id": delivery.pk},
        )
        (found,) = cursor.fetchone()
    return found  # type: ignore[no-any-return]
