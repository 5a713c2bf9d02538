"""Idempotent placements (contract.md § Idempotency): a repeated key replays the first answer.

The key is unique per operator on the ticket itself (`ticket_idempotency_key_once_per_operator`),
and the first answer's exact body is stored with it (cheaper than pretix's separate table of
API calls, same semantics). Two concurrent requests with one key race on that unique index:
the loser's insert fails and it answers as a replay of the winner.
"""

from __future__ import annotations

from jackpot.core.errors import IdempotencyKeyReused
from operators.models import Operator
from tickets.models import Ticket
from tickets.placement.order import PlacedTicket, TicketRenderer

IDEMPOTENCY_CONSTRAINT = "ticket_idempotency_key_once_per_operator"


def placement_for_key(
    operator: Operator, key: str, fingerprint: str, render: TicketRenderer
) -> PlacedTicket | None:
    """The operator's placement made with `key`, replayed; None when the key is unused.
    Raises IdempotencyKeyReused (409) when it was used with another body (`fingerprint`)."""
    earlier = (
        Ticket.objects.filter(operator=operator, idempotency_key=key)
        .select_related("betcard")
        .first()
    )
    if earlier is None:
        return None
    if earlier.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(key=key)
    earlier.operator = operator
    body = (
        earlier.placement_response.encode()
        if earlier.placement_response is not None
        else render(earlier, earlier.betcard.code)
    )
    return PlacedTicket(ticket=earlier, body=body, replayed=True)
