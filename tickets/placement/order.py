"""What placement takes and gives: the validated order and the placed ticket."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tickets.models import Ticket


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
    reference: str | None = None
    """The operator's own id of this purchase: one purchase, one ticket (tickets.receipts)."""

    @property
    def bet_ids(self) -> list[int]:
        return [pick.bet_id for pick in self.events]


@dataclass(frozen=True, slots=True)
class PlacedTicket:
    """The ticket and the exact answer; `replayed` when the answer repeats an earlier one
    (the `Replayed: true` header)."""

    ticket: Ticket
    body: bytes
    replayed: bool
