"""Ticket reads for the API (contract.md § GET /be/tickets/{identifier})."""

from __future__ import annotations

from jackpot.core.errors import TicketNotFound
from operators.models import Operator
from tickets.identifiers import identifier_lookup
from tickets.models import Selection, Ticket


def ticket_get_for_operator(
    *, operator: Operator, identifier: str
) -> tuple[Ticket, list[Selection]]:
    """The operator's ticket with this id or code, with its selections in placement order
    (2 queries).

    An unknown identifier and another operator's ticket raise the same TicketNotFound (102),
    so a caller cannot tell them apart. Anything that is neither an id nor a code shape is
    unknown without a query.
    """
    lookup = identifier_lookup(identifier)
    if lookup is None:
        raise TicketNotFound(identifier=identifier)
    ticket = Ticket.objects.filter(operator=operator, **lookup).select_related("betcard").first()
    if ticket is None:
        raise TicketNotFound(identifier=identifier)
    ticket.operator = operator
    return ticket, list(ticket.selections.order_by("id"))
