"""What placement takes and gives: the validated order and the placed ticket."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tickets.models import Ticket
from tickets.receipts import TicketRenderer

__all__ = ["EventPick", "PlacedTicket", "TicketOrder", "TicketRenderer"]


@dataclass(frozen=True, slots=True)
class EventPick:
    event_id: int
    bet_id: int
    odds: Decimal


@dataclass(frozen=True, kw_only=True, slots=True)
class TicketOrder:
    """A validated POST /be/tickets body (built by `tickets.api.parsing`)."""

    operator: str
    token: str
    psp: str | None
    price: int
    currency: str
    atag: str | None
    rtag: str | None
    source: str
    type: str
    odds_diff: Decimal
    events: tuple[EventPick, ...]
    betcard_code: str
    prize: int
    bonus_prizes: tuple[int, ...]

    @property
    def bet_ids(self) -> list[int]:
        return [pick.bet_id for pick in self.events]


@dataclass(frozen=True, slots=True)
class PlacedTicket:
    ticket: Ticket
    body: bytes
    replayed: bool
