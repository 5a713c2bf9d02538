"""The two statements of webhook attempts, one round trip each for a turn of rows
(docs/webhooks.md).

Raw SQL because it pays: an attempt took nine statements through the ORM, each a round trip
to PostgreSQL, and compiling them cost more CPU than the HTTP call (docs/webhooks.md § What
held delivery back: 34 → 83-127 webhooks/s per pool process). A batch task's turn of rows
(PAM_REQUESTS_PER_PROCESS) shares each statement.

- `claim_many`: look at each row and either take it (set its lease, mark a dead worker's
  in-flight attempt interrupted, insert the new in-flight attempt, read the operator's URL
  and secret) or say why not (`Claim.verdict`), closing the `ticket_create` (or
  `ticket_reserve`) of a cancelled ticket;
- `delivered_many`: after 2xx answers, complete each attempt, mark the row delivered,
  confirm the ticket of a `ticket_create` or `ticket_reserve` and find the ticket's next
  pending webhook.

Each is one statement (data-modifying CTEs), hence atomic. The rules they apply are those of
`tickets.delivery.attempts`; a failed answer is recorded there with the ORM.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
from tickets.outbox.order import next_pending_sql, waits_sql
from tickets.outbox.payloads import OPENING_ACTIONS

INTERRUPTED_ERROR = "the worker stopped before recording an answer (its lease ran out)"
IN_FLIGHT, INTERRUPTED = "in_flight", "interrupted"
CLAIMED = "claimed"

_DELIVERY_FIELDS = [field.attname for field in WebhookDelivery._meta.concrete_fields]
# What `operators.pam.pam_post` reads; the operator's other fields stay deferred.
_OPERATOR_FIELDS = [
    field.attname
    for field in Operator._meta.concrete_fields
    if field.attname
    in {
        "id",
        "name",
        "webhook_url",
        "secret_key_encrypted",
        "previous_secret_key_encrypted",
        "previous_secret_valid_until",
        "signing",
    }
]
_NAMES = {"d": WebhookDelivery, "e": WebhookDelivery, "t": Ticket, "a": WebhookAttempt}

_NEXT_PENDING_SQL = sql_names(
    next_pending_sql(ticket="%(ticket_id)s", row_id="%(id)s"), e=WebhookDelivery
)
"""The ticket's next pending webhook after row `id`: it waited for this one."""

_CLAIM_SQL = sql_names(
    """
WITH wanted AS (
    SELECT w.id, w.position FROM unnest(%(ids)s::bigint[]) WITH ORDINALITY AS w(id, position)
), candidate AS (
    SELECT d.{d.id} AS id, d.{d.ticket} AS ticket_id, d.{d.status} AS status,
           d.{d.lease_until} AS lease_until, d.{d.next_attempt_at} AS next_attempt_at,
           d.{d.action} AS action, t.{t.status} AS ticket_status,
           {waits} AS waits
    FROM {d} d LEFT JOIN {t} t ON t.{t.id} = d.{d.ticket}
    WHERE d.{d.id} IN (SELECT id FROM wanted)
    ORDER BY d.{d.id}
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
    RETURNING {a.id} AS id, {a.delivery} AS delivery_id
)
SELECT
    wanted.id AS wanted_id,
    coalesce(
        verdict.verdict,
        CASE WHEN EXISTS (SELECT FROM {e} e WHERE e.{e.id} = wanted.id)
             THEN 'in-flight' ELSE 'missing' END
    ) AS verdict,
    (SELECT ({closed_next}) FROM closed WHERE closed.id = wanted.id) AS next_pending_id,
    attempt.id AS attempt_id, {operator_columns}, {delivery_columns}
FROM wanted
LEFT JOIN verdict ON verdict.id = wanted.id
LEFT JOIN claimed ON claimed.{d.id} = wanted.id
LEFT JOIN attempt ON attempt.delivery_id = wanted.id
LEFT JOIN {o} o ON o.{o.id} = claimed.{d.operator}
ORDER BY wanted.position
""",
    waits=waits_sql(ticket="d.{d.ticket}", row_id="d.{d.id}"),
    closed_next=next_pending_sql(ticket="closed.ticket_id", row_id="closed.id"),
    **_NAMES,
    o=Operator,
    operator_columns=", ".join(f"o.{{o.{name}}} AS o_{name}" for name in _OPERATOR_FIELDS),
    delivery_columns=", ".join(f"claimed.{{d.{name}}} AS d_{name}" for name in _DELIVERY_FIELDS),
)

# Lock order as everywhere else: the tickets first (those of a `ticket_create` or
# `ticket_reserve`, in id order), then the rows; `delivered` reads all of `ticket_row` (a
# hashed IN) before it locks its first row.
_DELIVERED_SQL = sql_names(
    """
WITH answer AS (
    SELECT * FROM unnest(
        %(ids)s::bigint[], %(ticket_ids)s::text[], %(confirms)s::boolean[],
        %(attempt_ids)s::bigint[], %(http_statuses)s::integer[], %(latencies)s::integer[],
        %(outcomes)s::text[], %(excerpts)s::text[], %(player_ids)s::text[]
    ) WITH ORDINALITY AS x(
        id, ticket_id, confirms, attempt_id, http_status, latency_ms, outcome, excerpt,
        player_id, position
    )
), ticket_row AS (
    SELECT t.{t.id} AS id, t.{t.status} AS status,
           t.{t.needs_reconciliation} AS needs_reconciliation
    FROM {t} t
    WHERE t.{t.id} IN (SELECT ticket_id FROM answer WHERE confirms)
    ORDER BY t.{t.id}
    FOR UPDATE
), confirmed AS (
    UPDATE {t} t
    SET {t.pam_confirmed_at} = coalesce(t.{t.pam_confirmed_at}, %(now)s),
        {t.user_id} = coalesce(answer.player_id, t.{t.user_id}),
        {t.needs_reconciliation} = t.{t.needs_reconciliation} OR t.{t.status} = %(cancelled)s,
        {t.updated_at} = %(now)s
    FROM ticket_row JOIN answer ON answer.ticket_id = ticket_row.id AND answer.confirms
    WHERE t.{t.id} = ticket_row.id
    RETURNING ticket_row.id, ticket_row.status, ticket_row.needs_reconciliation
), attempt AS (
    UPDATE {a} a
    SET {a.http_status} = answer.http_status, {a.latency_ms} = answer.latency_ms,
        {a.outcome} = answer.outcome, {a.error} = '', {a.response_excerpt} = answer.excerpt
    FROM answer
    WHERE a.{a.id} = answer.attempt_id
), delivered AS (
    UPDATE {d} d
    SET {d.status} = %(delivered)s, {d.lease_until} = NULL, {d.last_error} = '',
        {d.delivered_at} = coalesce(d.{d.delivered_at}, %(now)s), {d.updated_at} = %(now)s
    FROM answer
    WHERE d.{d.id} = answer.id
      AND d.{d.status} <> %(delivered)s
      AND (NOT answer.confirms OR answer.ticket_id IN (SELECT id FROM ticket_row))
    RETURNING d.{d.id}
)
SELECT
    answer.id IN (SELECT id FROM delivered) AS newly_delivered,
    confirmed.status AS ticket_status,
    confirmed.needs_reconciliation AS was_flagged,
    ({next_pending}) AS next_pending_id
FROM answer
LEFT JOIN confirmed ON answer.confirms AND confirmed.id = answer.ticket_id
ORDER BY answer.position
""",
    next_pending=next_pending_sql(ticket="answer.ticket_id", row_id="answer.id"),
    **_NAMES,
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


def claim_many(
    *,
    delivery_ids: Sequence[int],
    now: dt.datetime,
    lease_until: dt.datetime,
    retry_window: dt.timedelta,
) -> list[Claim]:
    """Take each row (distinct ids) if it is pending, due, free, not behind an earlier
    pending webhook of its ticket and not the `ticket_create` of a cancelled ticket (which
    is closed instead); a row another worker holds locked is `in-flight`. A `ticket_create`
    gets its `retry_deadline` (queued + `retry_window`) at its first claim. One statement
    for all: one `Claim` per id, in order."""
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL,
            {
                "ids": list(delivery_ids),
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
        rows = named_rows(cursor)
    return [_claim_from(row, now=now) for row in rows]


def _claim_from(row: Any, *, now: dt.datetime) -> Claim:
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


def delivered_many(
    answers: Sequence[tuple[WebhookDelivery, int, PamAnswer]], *, now: dt.datetime
) -> list[Delivered]:
    """Record 2xx answers, each given as (claimed row, its attempt's id, answer): complete
    the attempt, mark the row delivered (its first `delivered_at` kept), and for a
    `ticket_create` or `ticket_reserve` confirm its ticket (`pam_confirmed_at`, the PAM's
    player id, `needs_reconciliation` when the ticket was already cancelled). One statement
    for all: one `Delivered` per answer, in order. Rows of distinct tickets (a ticket has
    one claimable row at a time)."""
    columns: dict[str, list[Any]] = {
        name: []
        for name in (
            "ids", "ticket_ids", "confirms", "attempt_ids", "http_statuses", "latencies",
            "outcomes", "excerpts", "player_ids",
        )
    }  # fmt: skip
    for delivery, attempt_id, answer in answers:
        columns["ids"].append(delivery.pk)
        columns["ticket_ids"].append(delivery.ticket_id)
        columns["confirms"].append(
            delivery.action in OPENING_ACTIONS and delivery.ticket_id is not None
        )
        columns["attempt_ids"].append(attempt_id)
        columns["http_statuses"].append(answer.http_status)
        columns["latencies"].append(answer.latency_ms)
        columns["outcomes"].append(answer.outcome.value)
        columns["excerpts"].append(answer.excerpt)
        columns["player_ids"].append(answer.player_id)
    with connection.cursor() as cursor:
        cursor.execute(
            _DELIVERED_SQL,
            {
                **columns,
                "now": now,
                "pending": DeliveryStatus.PENDING,
                "delivered": DeliveryStatus.DELIVERED,
                "cancelled": TicketStatus.CANCELLED,
            },
        )
        rows = named_rows(cursor)
    return [
        Delivered(
            newly_delivered=bool(row.newly_delivered),
            ticket_was_cancelled=(
                None if row.ticket_status is None else row.ticket_status == TicketStatus.CANCELLED
            ),
            ticket_was_flagged=row.was_flagged,
            next_pending_id=row.next_pending_id,
        )
        for row in rows
    ]


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
