"""The `data` objects of PAM webhooks, fields in the contract's documented order.

Implements contract.md § PAM webhooks and § Settlement (result webhooks). Bodies are sent
compact with nulls included; `webhook_body` renders the exact bytes that are signed and sent.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from tickets.models import Ticket


def _percent(value: Decimal) -> float:
    # Percentages are shown as JSON numbers (12.5, 10.0); they are never used for arithmetic
    # after leaving the engine.
    return float(value)


def ticket_create_data(ticket: Ticket) -> dict[str, Any]:
    return {
        "operator": ticket.operator.name,
        "ticket_id": ticket.id,
        "ticket_code": ticket.code,
        "player_id": ticket.token,
        "price": ticket.price,
        "stake": ticket.stake,
        "wht_amount": ticket.wht_amount,
        "wht": _percent(ticket.wht_percent),
        "ext_amount": ticket.ext_amount,
        "ext": _percent(ticket.ext_percent),
        "ext_type": ticket.ext_type,
        "gross_payout": ticket.gross_payout,
        "net_payout": ticket.net_payout,
        "currency": ticket.currency,
        "atag": ticket.atag,
        "rtag": ticket.rtag,
        "psp": ticket.psp,
        "ticket_type": ticket.type,
    }


def ticket_discard_data(ticket: Ticket, *, reason: str) -> dict[str, Any]:
    """`reason` is `pam_refused`, `pam_unreachable` or `staff_cancelled`."""
    return {
        "operator": ticket.operator.name,
        "ticket_id": ticket.id,
        "ticket_code": ticket.code,
        "player_id": ticket.token,
        "price": ticket.price,
        "currency": ticket.currency,
        "ticket_type": ticket.type,
        "reason": reason,
    }


def ticket_result_data(ticket: Ticket) -> dict[str, Any]:
    """Data of `ticket_win`, `ticket_lost` and `ticket_void` (the same fields for all three)."""
    return {
        "operator": ticket.operator.name,
        "ticket_id": ticket.id,
        "ticket_code": ticket.code,
        "player_id": ticket.token,
        "price": ticket.price,
        "stake": ticket.stake,
        "gross_payout": ticket.gross_payout,
        "wht_amount": ticket.wht_amount,
        "wht": _percent(ticket.wht_percent),
        "net_payout": ticket.net_payout,
        "currency": ticket.currency,
        "ticket_type": ticket.type,
    }


def ticket_closed_data(ticket: Ticket) -> dict[str, Any]:
    return {"operator": ticket.operator.name, "ticket_id": ticket.id}


def ticket_rollback_data(ticket: Ticket, *, reason: str) -> dict[str, Any]:
    return {"operator": ticket.operator.name, "ticket_id": ticket.id, "reason": reason}


def webhook_body(action: str, data: dict[str, Any]) -> bytes:
    """The exact compact body sent to the PAM: `{"action": ..., "data": {...}}`."""
    return json.dumps(
        {"action": action, "data": data}, separators=(",", ":"), ensure_ascii=False
    ).encode()
