"""What each PAM webhook says: one table of fields per webhook, rendered two ways.

Implements the bodies of contract.md § PAM webhooks and § Settlement: `{"action": ...,
"data": {...}}`, sent compact, fields in the contract's order, nulls included.

Each webhook is one `Webhook`: its action name and its fields, each naming the ticket (or
operator) attribute it shows and how it is written. From that one table,

- `body(webhook, ticket)` renders the exact bytes in Python (placement, cancellations), and
- `body_sql(webhook)` renders a SQL text expression over a ticket `t` and its operator `o`
  that builds the same bytes inside PostgreSQL, for set-based writes (settlement queues a
  result webhook for a million tickets in a few statements).

jsonb and `json_build_object` would reorder keys or add spaces, so the SQL body is text
concatenation with each value written by `to_json(...)`, which escapes strings as Python's
json does with `ensure_ascii=False` (tests compare both renderings byte for byte).
"""

from __future__ import annotations

import json
import operator as op
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from jackpot.core.sql import sql_names
from operators.models import Operator
from tickets.models import Ticket, TicketResult, TicketStatus, WebhookAction


class Kind(Enum):
    """How a value is written in JSON."""

    TEXT = "text"
    INTEGER = "integer"
    PERCENT = "percent"  # a Decimal percentage shown as a JSON number: 12.5, 10.0


@dataclass(frozen=True, slots=True)
class Field:
    """One key of a webhook's `data`: `source` is a Ticket field name, `operator.<field>`,
    or `%<name>` for a value given when the webhook is queued (e.g. `%reason`)."""

    key: str
    source: str
    kind: Kind

    def python(self, ticket: Ticket, params: Mapping[str, str]) -> Any:
        if self.source.startswith("%"):
            return params[self.source[1:]]
        value = op.attrgetter(self.source)(ticket)
        if value is None:
            return None
        if self.kind is Kind.PERCENT:
            # Percentages have at most 2 decimals and 3 integer digits: exact as floats.
            return float(value)
        return int(value) if self.kind is Kind.INTEGER else str(value)

    def sql(self) -> str:
        if self.source.startswith("%"):
            column = f"%({self.source[1:]})s"
        elif self.source.startswith("operator."):
            column = sql_names("o.{o." + self.source.removeprefix("operator.") + "}", o=Operator)
        else:
            column = sql_names("t.{t." + self.source + "}", t=Ticket)
        return f"coalesce({_SQL_VALUE[self.kind].format(column)}, 'null')"


_SQL_VALUE = {
    Kind.TEXT: "to_json(({})::text)::text",
    Kind.INTEGER: "({})::text",
    # Python writes float(Decimal("10.00")) as 10.0 and float(Decimal("12.50")) as 12.5.
    Kind.PERCENT: (
        "(CASE WHEN {0} = trunc({0}) THEN trunc({0})::text || '.0' ELSE trim_scale({0})::text END)"
    ),
}


@dataclass(frozen=True, slots=True)
class Webhook:
    """A webhook's action (None: named by the ticket's result) and its data fields."""

    action: str | None
    fields: tuple[Field, ...]


def _fields(*specs: tuple[str, str, Kind]) -> tuple[Field, ...]:
    return tuple(Field(key, source, kind) for key, source, kind in specs)


TEXT, INTEGER, PERCENT = Kind.TEXT, Kind.INTEGER, Kind.PERCENT
_TICKET = (
    ("operator", "operator.name", TEXT),
    ("ticket_id", "id", TEXT),
    ("ticket_code", "code", TEXT),
    ("player_id", "token", TEXT),
    ("price", "price", INTEGER),
)

TICKET_CREATE = Webhook(
    WebhookAction.TICKET_CREATE,
    _fields(
        *_TICKET,
        ("stake", "stake", INTEGER),
        ("wht_amount", "wht_amount", INTEGER),
        ("wht", "wht_percent", PERCENT),
        ("ext_amount", "ext_amount", INTEGER),
        ("ext", "ext_percent", PERCENT),
        ("ext_type", "ext_type", TEXT),
        ("gross_payout", "gross_payout", INTEGER),
        ("net_payout", "net_payout", INTEGER),
        ("currency", "currency", TEXT),
        ("atag", "atag", TEXT),
        ("rtag", "rtag", TEXT),
        ("psp", "psp", TEXT),
        ("ticket_type", "type", TEXT),
        ("reference", "reference", TEXT),
    ),
)
"""Takes the price out of the player's wallet. `reference` is the purchase's own id, as the
operator sent it (null when none)."""

TICKET_RESERVE = Webhook(WebhookAction.TICKET_RESERVE, TICKET_CREATE.fields)
"""A reservation (pay later): the data of `ticket_create`, and no money moves."""

_MONEY_BACK = _fields(
    *_TICKET,
    ("currency", "currency", TEXT),
    ("ticket_type", "type", TEXT),
    ("reason", "%reason", TEXT),
)
TICKET_DISCARD = Webhook(WebhookAction.TICKET_DISCARD, _MONEY_BACK)
"""Undoes a `ticket_create` or `ticket_reserve` that did not go through, or a reservation
that expired; `reason` is a `DiscardReason`."""

TICKET_REFUND = Webhook(WebhookAction.TICKET_REFUND, _MONEY_BACK)
"""Gives the price back for an open ticket whose money was taken (its `ticket_create`
delivered, or a reservation paid) that staff cancel; `reason` is `staff_cancelled`."""

OPENING_STATUS: dict[str, str] = {
    WebhookAction.TICKET_CREATE: TicketStatus.OPEN,
    WebhookAction.TICKET_RESERVE: TicketStatus.RESERVED,
}
"""The webhooks that open a ticket at the PAM, and the status the ticket has while theirs is
the word that counts: refused or given up in that status, the ticket is cancelled and a
`ticket_discard` follows (contract.md § PAM webhooks)."""
OPENING_ACTIONS = list(OPENING_STATUS)

TICKET_RESULT = Webhook(
    None,
    _fields(
        *_TICKET,
        ("stake", "stake", INTEGER),
        ("gross_payout", "gross_payout", INTEGER),
        ("wht_amount", "wht_amount", INTEGER),
        ("wht", "wht_percent", PERCENT),
        ("net_payout", "net_payout", INTEGER),
        ("currency", "currency", TEXT),
        ("ticket_type", "type", TEXT),
    ),
)
"""`ticket_win`, `ticket_lost` or `ticket_void` by the ticket's result (same fields)."""

TICKET_CLOSED = Webhook(
    WebhookAction.TICKET_CLOSED,
    _fields(("operator", "operator.name", TEXT), ("ticket_id", "id", TEXT)),
)
TICKET_ROLLBACK = Webhook(
    WebhookAction.TICKET_ROLLBACK,
    _fields(
        ("operator", "operator.name", TEXT), ("ticket_id", "id", TEXT), ("reason", "%reason", TEXT)
    ),
)

WEBHOOKS: dict[str, Webhook] = {
    WebhookAction.TICKET_CREATE: TICKET_CREATE,
    WebhookAction.TICKET_RESERVE: TICKET_RESERVE,
    WebhookAction.TICKET_DISCARD: TICKET_DISCARD,
    WebhookAction.TICKET_REFUND: TICKET_REFUND,
    WebhookAction.TICKET_WIN: TICKET_RESULT,
    WebhookAction.TICKET_LOST: TICKET_RESULT,
    WebhookAction.TICKET_VOID: TICKET_RESULT,
    WebhookAction.TICKET_ROLLBACK: TICKET_ROLLBACK,
    WebhookAction.TICKET_CLOSED: TICKET_CLOSED,
}
"""Every webhook a PAM receives, by action, with its fields (the schema's `webhooks`, the
PAM conformance kit)."""

RESULT_ACTIONS = {
    TicketResult.WON: WebhookAction.TICKET_WIN,
    TicketResult.LOST: WebhookAction.TICKET_LOST,
    TicketResult.VOID: WebhookAction.TICKET_VOID,
}
"""The result webhook's name by the ticket's result (contract.md § Settlement)."""


# ----------------------------------------------------------------------------- Python
def action(webhook: Webhook, ticket: Ticket) -> str:
    return webhook.action or RESULT_ACTIONS[TicketResult(ticket.result)]


def body(webhook: Webhook, ticket: Ticket, **params: str) -> bytes:
    """The exact compact body sent to the PAM. `ticket.operator` must be loaded."""
    data = {field.key: field.python(ticket, params) for field in webhook.fields}
    return json.dumps(
        {"action": action(webhook, ticket), "data": data}, separators=(",", ":"), ensure_ascii=False
    ).encode()


# ----------------------------------------------------------------------------- SQL
def action_sql(webhook: Webhook) -> str:
    """The action name as a SQL expression over the ticket `t`."""
    if webhook.action is not None:
        return f"'{webhook.action}'"
    cases = " ".join(f"WHEN '{result}' THEN '{name}'" for result, name in RESULT_ACTIONS.items())
    return sql_names("(CASE t.{t.result} " + cases + " END)", t=Ticket)


def body_sql(webhook: Webhook) -> str:
    """A SQL text expression for the body `body()` renders, over `t` and `o`; its `%<name>`
    fields are the statement's parameters of that name."""
    data = " || ',' || ".join(f"'\"{field.key}\":' || {field.sql()}" for field in webhook.fields)
    action_json = f"to_json(({action_sql(webhook)})::text)::text"
    return f"""'{{"action":' || {action_json} || ',"data":{{' || {data} || '}}}}'"""
