"""PAM webhook bodies built inside PostgreSQL, for set-based writes (settlement at scale).

Mirrors `tickets.webhook_payloads` field for field: the SQL text built here must render the
same bytes as `webhook_body(action, ticket_*_data(ticket))` (a test compares them). jsonb and
`json_build_object` would reorder keys or add spaces, so bodies are concatenated text with
each value rendered by `to_json(...)`, which escapes strings exactly as Python's json does
with `ensure_ascii=False`.

Expressions read the ticket as alias `t` and its operator as alias `o`.
"""

from __future__ import annotations

from django.db import connection, transaction

from jackpot.core import clock
from tickets.models import DeliveryStatus
from tickets.pam_outbox import delivery_kick

# Up to this many new rows in one transaction are kicked one by one after commit.
KICK_MAX_PER_BATCH = 1_000


def _text(column: str) -> str:
    return f"to_json(({column})::text)::text"


def _integer(column: str) -> str:
    return f"({column})::text"


def _percent(column: str) -> str:
    # Python renders float(Decimal("10.00")) as 10.0 and float(Decimal("12.50")) as 12.5.
    return (
        f"(CASE WHEN {column} = trunc({column}) THEN trunc({column})::text || '.0' "
        f"ELSE trim_scale({column})::text END)"
    )


RESULT_FIELDS = (
    ("operator", _text("o.name")),
    ("ticket_id", _text("t.id")),
    ("ticket_code", _text("t.code")),
    ("player_id", _text("t.token")),
    ("price", _integer("t.price")),
    ("stake", _integer("t.stake")),
    ("gross_payout", _integer("t.gross_payout")),
    ("wht_amount", _integer("t.wht_amount")),
    ("wht", _percent("t.wht_percent")),
    ("net_payout", _integer("t.net_payout")),
    ("currency", _text("t.currency")),
    ("ticket_type", _text("t.type")),
)
CLOSED_FIELDS = (("operator", _text("o.name")), ("ticket_id", _text("t.id")))
ROLLBACK_FIELDS = (*CLOSED_FIELDS, ("reason", _text("%(reason)s")))

# The result webhook is named by the ticket's result (contract.md § Settlement).
RESULT_ACTION = (
    "(CASE t.result WHEN 'won' THEN 'ticket_win' WHEN 'lost' THEN 'ticket_lost' "
    "WHEN 'void' THEN 'ticket_void' END)"
)


def body_sql(action: str, fields: tuple[tuple[str, str], ...]) -> str:
    """A SQL text expression for `{"action":...,"data":{...}}`; `action` is a SQL expression."""
    data = " || ',' || ".join(f"'\"{name}\":' || {value}" for name, value in fields)
    return f"""'{{"action":' || {_text(action)} || ',"data":{{' || {data} || '}}}}'"""


def deliveries_insert(
    *,
    ticket_ids: list[str],
    action: str,
    dedupe_key: str,
    fields: tuple[tuple[str, str], ...],
    reason: str = "",
) -> list[int]:
    """Queue one pending webhook per ticket in one statement; return the new rows' ids.

    `action` and `dedupe_key` are SQL expressions over `t`. A ticket that already has a row
    with the same dedupe key keeps it (ON CONFLICT DO NOTHING), so a rerun never queues
    twice. Rows are written in ticket id order; callers write a ticket's earlier webhook
    (e.g. `ticket_rollback`) in an earlier statement, so it also gets the smaller id.
    Must run inside the transaction that changes the tickets.
    """
    if not ticket_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO tickets_webhookdelivery (
                ticket_id, operator_id, action, dedupe_key, body, status, attempts_count,
                next_attempt_at, last_error, created_at, updated_at
            )
            SELECT t.id, t.operator_id, {action}, {dedupe_key}, {body_sql(action, fields)},
                   %(pending)s, 0, %(now)s, '', %(now)s, %(now)s
            FROM tickets_ticket t JOIN operators_operator o ON o.id = t.operator_id
            WHERE t.id = ANY(%(ids)s)
            ORDER BY t.id
            ON CONFLICT (ticket_id, dedupe_key) WHERE ticket_id IS NOT NULL DO NOTHING
            RETURNING id
            """,  # noqa: S608 - only our own constant SQL fragments are interpolated
            {
                "ids": ticket_ids,
                "now": clock.now(),
                "pending": DeliveryStatus.PENDING,
                "reason": reason,
            },
        )
        return [row[0] for row in cursor.fetchall()]


def deliveries_kick(delivery_ids: list[int]) -> None:
    """After commit, ask workers to send a small batch of new rows at once.

    A large batch is left to the outbox sweep: publishing one task per row would fill the
    broker with up to a million messages while workers drain them at the PAM's pace.
    """
    if len(delivery_ids) > KICK_MAX_PER_BATCH:
        return

    def kick_all() -> None:
        for delivery_id in delivery_ids:
            delivery_kick(delivery_id)

    transaction.on_commit(kick_all)
