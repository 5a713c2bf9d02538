"""Ticket reads for the API (contract.md § GET /be/tickets/{identifier})."""

from __future__ import annotations

from jackpot.core.errors import TicketNotFound
from operators.models import Operator
from tickets.identifiers import REFERENCE_PATTERN, identifier_lookup
from tickets.models import Selection, Ticket


def ticket_get_for_operator(
    *, operator: Operator, identifier: str
) -> tuple[Ticket, list[Selection]]:
    """The operator's ticket with this id, code or reference, with its selections in
    placement order (2 queries; 3 for a reference that has an id's or a code's shape).

    An id or a code is looked up as such first: ids, codes and references never collide
    (contract.md § Replays: a reference that equals another ticket's id or code finds that
    ticket). An unknown identifier and another operator's ticket raise the same
    TicketNotFound (102), so a caller cannot tell them apart.
    """
    tickets = Ticket.objects.filter(operator=operator).select_related("betcard")
    lookup = identifier_lookup(identifier)
    ticket = None if lookup is None else tickets.filter(**lookup).first()
    if ticket is None and REFERENCE_PATTERN.fullmatch(identifier):
        ticket = tickets.filter(reference=identifier).first()
    if ticket is None:
        raise TicketNotFound(identifier=identifier)
    ticket.operator = operator
    return ticket, list(ticket.selections.order_by("id"))
