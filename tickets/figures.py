"""Live sales figures of betcards for the back office (contract.md § Taxes at creation).

One grouped query for any number of cards, so a list page costs the same whatever its size.
It reads only the covering index `ticket_betcard_status_idx` (betcard, status + price,
stake, excise): an index-only scan of the cards' tickets, about 60 ms per 200,000 tickets on
the 2-core reference machine (benchmarks/admin_lists.py).
Cancelled tickets were never sold (their price went back to the player), and reservations
are not paid yet, so both are left out of the sums and counted apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, Sum

from jackpot.core import clock
from operators.models import Operator
from tickets.models import Ticket, TicketStatus


@dataclass(frozen=True, kw_only=True)
class BetcardFigures:
    """Money in cents of the card's currency."""

    tickets_sold: int = 0
    tickets_reserved: int = 0
    tickets_cancelled: int = 0
    total_price: int = 0
    total_stake: int = 0
    excise: int = 0


NO_FIGURES = BetcardFigures()


def betcard_figures(*, betcard_ids: Iterable[int]) -> dict[int, BetcardFigures]:
    """Figures per betcard id; cards without tickets are absent (use NO_FIGURES)."""
    ids = list(betcard_ids)
    if not ids:
        return {}
    sold = Q(status__in=[TicketStatus.OPEN, TicketStatus.CLOSED])
    # Count a column of the index (never null), not the id, so the scan stays index-only.
    rows = (
        Ticket.objects.filter(betcard_id__in=ids)
        .order_by()
        .values("betcard_id")
        .annotate(
            sold=Count("price", filter=sold),
            reserved=Count("price", filter=Q(status=TicketStatus.RESERVED)),
            cancelled=Count("price", filter=Q(status=TicketStatus.CANCELLED)),
            price=Sum("price", filter=sold, default=0),
            stake=Sum("stake", filter=sold, default=0),
            excise=Sum("ext_amount", filter=sold, default=0),
        )
    )
    return {
        row["betcard_id"]: BetcardFigures(
            tickets_sold=row["sold"],
            tickets_reserved=row["reserved"],
            tickets_cancelled=row["cancelled"],
            total_price=row["price"],
            total_stake=row["stake"],
            excise=row["excise"],
        )
        for row in rows
    }


@dataclass(frozen=True, kw_only=True)
class PlayerSpend:
    token: str
    tickets: int
    spent: int  # cents, tickets not cancelled


def top_players_today(*, operator: Operator, count: int) -> list[PlayerSpend]:
    """The players who spent most today (the operator's calendar day; tickets not
    cancelled, reservations included, as the daily limit counts them), one grouped query
    over the operator's tickets of the day (index `ticket_operator_created_idx`)."""
    start, end = clock.local_day(clock.now(), operator.timezone)
    rows = (
        Ticket.objects.filter(operator=operator, created_at__gte=start, created_at__lt=end)
        .exclude(status=TicketStatus.CANCELLED)
        .order_by()
        .values("token")
        .annotate(tickets=Count("pk"), spent=Sum("price"))
        .order_by("-spent", "token")[:count]
    )
    return [
        PlayerSpend(token=row["token"], tickets=row["tickets"], spent=row["spent"]) for row in rows
    ]
