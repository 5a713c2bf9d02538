"""Whether a betcard sells, to whom and when: the one home of these rules.

Implements the betcard checks of contract.md § POST /be/tickets that the contract leaves to
the engine, and its sales window: a card restricted to another operator is not offered
(120); a card sells only while `open` (121) and inside its sales window (122), which runs
from `opens_at` to `closes_at`, or, for a card without `closes_at`, to the first kick-off
among its events ("a jackpot closes at the first kick-off"). Placement, reservations, the
Bet Card API's `closes`, its list of cards on sale and its quick pick all ask here, so they
agree on every card.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from django.db.models import Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from betcards.models import Betcard, BetcardEvent, BetcardStatus
from jackpot.core.errors import BetcardNotOpen, BetcardOfOtherOperator, BetcardOutsideSalesWindow


class SellableCard(Protocol):
    """What these rules read of a card (a placement snapshot, an offer...)."""

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
    @property
    def first_start(self) -> dt.datetime | None: ...


@dataclass(frozen=True, slots=True)
class CardSale:
    """A Betcard row with its first kick-off: what these rules read of it."""

    code: str
    operator_id: int | None
    status: str
    opens_at: dt.datetime
    closes_at: dt.datetime | None
    first_start: dt.datetime | None

    @classmethod
    def of(cls, card: Betcard, starts: Iterable[dt.datetime]) -> CardSale:
        """`card` whose events start at `starts`."""
        return cls(
            code=card.code,
            operator_id=card.operator_id,
            status=card.status,
            opens_at=card.opens_at,
            closes_at=card.closes_at,
            first_start=min(starts, default=None),
        )


def sales_close(card: SellableCard) -> dt.datetime | None:
    """When the card stops selling: its `closes_at`, else its first kick-off (None: neither,
    a card without events)."""
    return card.closes_at if card.closes_at is not None else card.first_start


def sales_close_expression() -> Coalesce:
    """`sales_close` as an expression over Betcard rows, for querysets."""
    first_start = (
        BetcardEvent.objects.filter(betcard=OuterRef("pk"))
        .order_by()
        .values("betcard")
        .annotate(first=Min("event__starts_at"))
        .values("first")
    )
    return Coalesce("closes_at", Subquery(first_start))


def offered_to(operator_id: int) -> Q:
    """The cards offered to the operator: unrestricted, or restricted to it."""
    return Q(operator__isnull=True) | Q(operator_id=operator_id)


def on_sale_now(now: dt.datetime) -> Q:
    """Open cards inside their sales window at `now`, over a queryset annotated with
    `sales_close=sales_close_expression()`."""
    return Q(status=BetcardStatus.OPEN, opens_at__lte=now) & (
        Q(sales_close__isnull=True) | Q(sales_close__gt=now)
    )


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
