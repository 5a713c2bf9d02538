"""An operator's tickets, newest first, a page at a time (contract.md § GET /be/tickets).

Keyset paging: a page is the `limit` tickets with the highest ids below `before` (ids are
time-ordered: their first 8 hex digits are the creation second), never an OFFSET, so the
1,000th page costs what the first does. Each page is 3 queries whatever its size: the ids,
the tickets with their cards' codes, their selections (as plain rows: building 1,300 model
instances for a page of 100 13-event tickets took half of its time).

Every filter rides an index that is already in id order (tickets/models/tickets.py):
`(operator, status, id)`, `(operator, betcard, status, id)` and `(operator, player, status,
id)`, where the player is the `user_id` as answered (the PAM's, else the token). One status
is one ordered index range; several are merged: each gives its first `limit + 1` ids and
the page takes the highest of them (UNION ALL), so no filter ever sorts a player's or a
card's whole history. A time range becomes an id range too, on top of the exact
`created_at` test. `skip_types` leaves out known types: skipping them all reads nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.db.models import F, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, NullIf

from betcards.models import Betcard
from operators.models import Operator
from tickets.models import TICKET_TYPES, Selection, Ticket, TicketStatus


class PickedBet(NamedTuple):
    """One selection of a listed ticket, as `tickets.rendering` answers it."""

    event_id: int
    bet_id: int
    odds_submitted: Decimal
    odds_accepted: Decimal
    result: str


_PICKED_BET_FIELDS = ("ticket_id", *PickedBet._fields)


@dataclass(frozen=True, kw_only=True, slots=True)
class TicketFilters:
    user_id: str | None = None
    skip_types: tuple[str, ...] = ()
    betcard_code: str | None = None
    statuses: tuple[str, ...] = ()
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None
    before: str | None = None  # a ticket id: only older tickets (the next page)
    reference: str | None = None  # the purchase's own id: its ticket, or none


@dataclass(frozen=True, slots=True)
class TicketPage:
    tickets: list[tuple[Ticket, str, list[PickedBet]]]  # ticket, its card's code, its bets
    next_before: str | None  # the `before` of the next page; None on the last one


def tickets_list(*, operator: Operator, filters: TicketFilters, limit: int) -> TicketPage:
    types = [kind for kind in TICKET_TYPES if kind not in filters.skip_types]
    if not types:
        return TicketPage([], None)
    matching = _matching(operator, filters, types)
    statuses = filters.statuses or tuple(TicketStatus.values)
    parts = [
        matching.filter(status=status).order_by("-id").values_list("id", flat=True)[: limit + 1]
        for status in statuses
    ]
    merged = parts[0] if len(parts) == 1 else parts[0].union(*parts[1:], all=True)
    ids = list(merged.order_by("-id")[: limit + 1]) if len(parts) > 1 else list(merged)
    page_ids, more = ids[:limit], len(ids) > limit
    tickets = list(
        Ticket.objects.filter(pk__in=page_ids)
        .annotate(card_code=F("betcard__code"))
        .order_by("-id")
    )
    chosen: defaultdict[str, list[PickedBet]] = defaultdict(list)
    if tickets:
        rows = (
            Selection.objects.filter(ticket_id__in=page_ids)
            .order_by("id")
            .values_list(*_PICKED_BET_FIELDS)
        )
        for ticket_id, *bet in rows:
            chosen[ticket_id].append(PickedBet(*bet))
    for ticket in tickets:
        ticket.operator = operator
    return TicketPage(
        [(ticket, ticket.card_code, chosen[ticket.pk]) for ticket in tickets],
        page_ids[-1] if more else None,
    )


def _matching(operator: Operator, filters: TicketFilters, types: list[str]) -> QuerySet[Ticket]:
    tickets = Ticket.objects.filter(operator=operator)
    if len(types) < len(TICKET_TYPES):
        tickets = tickets.filter(type__in=types)
    if filters.user_id is not None:
        tickets = tickets.alias(player=PLAYER).filter(player=filters.user_id)
    if filters.betcard_code is not None:
        card = Betcard.objects.filter(code=filters.betcard_code).values("pk")[:1]
        tickets = tickets.filter(betcard_id=Subquery(card))
    if filters.reference is not None:
        tickets = tickets.filter(reference=filters.reference)
    if filters.created_from is not None:
        tickets = tickets.filter(
            created_at__gte=filters.created_from, id__gte=_id_prefix(filters.created_from)
        )
    if filters.created_to is not None:
        # created_at < to: the id's second is at most to's (rounded down).
        after = _id_prefix(filters.created_to + dt.timedelta(seconds=1))
        tickets = tickets.filter(created_at__lt=filters.created_to, id__lt=after)
    if filters.before is not None:
        tickets = tickets.filter(id__lt=filters.before)
    return tickets


PLAYER = Coalesce(NullIf("user_id", Value("")), "token")
"""The player a ticket's `user_id` names as answered (tickets.rendering): the PAM's
player id once known, else the token. Written as the index `ticket_operator_player_idx`."""


def _id_prefix(moment: dt.datetime) -> str:
    """The id prefix of tickets created in `moment`'s second (contract.md § Ticket id)."""
    return f"{math.floor(moment.timestamp()) & 0xFFFFFFFF:08x}"
