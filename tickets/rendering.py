"""The ticket API's answers: the contract's ticket fields, in its order, rendered with orjson
(contract.md § POST /be/tickets "Response 200", § GET /be/tickets/{identifier})."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol

import orjson

from jackpot.core.clock import format_in_zone, format_utc
from tickets.models import Selection, Ticket


class Pick(Protocol):
    """What a ticket's answer shows of one selection: a `Selection`, or a listed ticket's
    `tickets.listing.PickedBet` row."""

    @property
    def event_id(self) -> int: ...
    @property
    def bet_id(self) -> int: ...
    @property
    def odds_submitted(self) -> Decimal: ...
    @property
    def odds_accepted(self) -> Decimal: ...
    @property
    def result(self) -> str: ...


def _percent(value: Decimal | None) -> float | None:
    # Percentages have at most 2 decimals and 3 integer digits: exact as JSON numbers
    # (12.5, 10.0), as the contract shows them.
    return None if value is None else float(value)


def _odds(value: Decimal) -> orjson.Fragment:
    # The combined odds can exceed a float's precision; written as the exact decimal text.
    return orjson.Fragment(format(value, "f"))


def ticket_representation(ticket: Ticket, betcard_code: str) -> dict[str, Any]:
    """The contract's ticket fields, in its order. `ticket.operator` must be loaded."""
    zone_name = ticket.operator.timezone
    return {
        "id": ticket.id,
        "code": ticket.code,
        "price": ticket.price,
        "stake": ticket.stake,
        "currency": ticket.currency,
        "gross_payout": ticket.gross_payout,
        "net_payout": ticket.net_payout,
        "wht_amount": ticket.wht_amount,
        "wht": _percent(ticket.wht_percent),
        "ext_amount": ticket.ext_amount,
        "ext": _percent(ticket.ext_percent),
        "ext_type": ticket.ext_type,
        "status": ticket.status,
        "result": ticket.result,
        "approved": ticket.approved,
        "source": ticket.source,
        "type": ticket.type,
        "atag": ticket.atag,
        "rtag": ticket.rtag,
        "aff_instant_comm_amt": ticket.aff_comm_amount,
        "aff_instant_comm_pct": _percent(ticket.aff_comm_percent),
        "user_id": ticket.user_id or ticket.token,
        "psp": ticket.psp,
        "created": format_utc(ticket.created_at),
        "operator_time_created": format_in_zone(ticket.created_at, zone_name),
        "updated": format_utc(ticket.updated_at),
        "operator_time_updated": format_in_zone(ticket.updated_at, zone_name),
        "odds": _odds(ticket.odds),
        "betcard_code": betcard_code,
        "prize": ticket.prize,
        "bonus_prizes": ticket.bonus_prizes,
    }


def ticket_body(ticket: Ticket, betcard_code: str) -> bytes:
    """The POST /be/tickets 200 body (a `TicketRenderer` for `ticket_place`)."""
    return orjson.dumps(ticket_representation(ticket, betcard_code))


def ticket_detail_body(ticket: Ticket, selections: Sequence[Selection]) -> bytes:
    """The GET body: the ticket plus `events` (id, bet, odds submitted and accepted, result).

    `ticket.operator` and `ticket.betcard` must be loaded.
    """
    return orjson.dumps(_detail(ticket, ticket.betcard.code, selections))


def tickets_list_body(tickets: Sequence[tuple[Ticket, str, Sequence[Pick]]]) -> bytes:
    """GET /be/tickets: an array of `ticket_detail_body`'s objects (ticket, its card's code,
    its selections)."""
    return orjson.dumps([_detail(*listed) for listed in tickets])


def _detail(ticket: Ticket, betcard_code: str, selections: Sequence[Pick]) -> dict[str, Any]:
    representation = ticket_representation(ticket, betcard_code)
    representation["events"] = [
        {
            "id": selection.event_id,
            "bet": selection.bet_id,
            "odds": float(selection.odds_submitted),
            "odds_accepted": float(selection.odds_accepted),
            "result": selection.result,
        }
        for selection in selections
    ]
    return representation
