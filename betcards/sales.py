"""Whether a betcard sells, to whom and when: the one home of these rules.

Implements the betcard checks of contract.md § POST /be/tickets that the contract leaves to
the engine: a card restricted to another operator is not offered (120), a card sells only
while `open` (121) and inside its sales window (122). Placement, reservations and the Bet
Card API's quick pick all ask here, so they refuse a card alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from betcards.models import BetcardStatus
from jackpot.core.errors import BetcardNotOpen, BetcardOfOtherOperator, BetcardOutsideSalesWindow


class SellableCard(Protocol):
    """What these rules read of a card (a snapshot or a model row)."""

    @property
    def code(self) -> str: ...
    @property
    def operator_id(self) -> int | None: ...
    @property
    def status(self) -> str: ...
    @property
    def opens_at(self) -> dt.datetime: ...
    @property
    def closes_at(self) -> dt.datetime | None: ...


def sales_close(card: SellableCard) -> dt.datetime | None:
    """When the card stops selling: its `closes_at`; None: no end set."""
    return card.closes_at


def check_offered(card: SellableCard, *, operator_id: int, operator_name: str) -> None:
    """120: a card restricted to another operator is not offered to this one."""
    if card.operator_id is not None and card.operator_id != operator_id:
        raise BetcardOfOtherOperator(betcard_code=card.code, operator=operator_name)


def check_on_sale(card: SellableCard, *, now: dt.datetime) -> None:
    """121 unless the card is `open`, then 122 outside `opens_at` ≤ now < its close."""
    if card.status != BetcardStatus.OPEN:
        raise BetcardNotOpen(betcard_code=card.code)
    closes = sales_close(card)
    if now < card.opens_at or (closes is not None and now >= closes):
        raise BetcardOutsideSalesWindow(betcard_code=card.code)
