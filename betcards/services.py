"""Betcard rules the back office enforces: what a sold card may still change, and its status;
blocking markets and disabling teams.

A ticket is a contract on the card as it was sold (contract.md § Domain words: "a fixed list
of events, a price, a currency, a prize and ordered bonus_prizes"), so once a betcard has a
ticket those can no longer change. Opening and closing move a card between `draft`, `open`
and `closed`; `settled` is reached only through settlement.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from django.db import transaction
from django.db.models import Model, QuerySet

from betcards.models import Betcard, BetcardStatus, Market, Team
from betcards.offers import offers_invalidate
from jackpot.core.errors import BetcardLocked, BetcardStatusInvalid

_Row = TypeVar("_Row", bound=Model)

# Fields a ticket was sold on; "events" stands for the card's event list.
LOCKED_FIELDS = ("events", "currency", "price", "prize", "bonus_prizes", "min_events")


def betcard_is_locked(*, betcard: Betcard) -> bool:
    return betcard.pk is not None and betcard.tickets.exists()


def betcard_assert_editable(*, betcard: Betcard, changing: Iterable[str]) -> None:
    """Raise BetcardLocked when `changing` names a locked field and the card has tickets.

    `changing` are field names (and "events" for the event list); others are ignored.
    """
    locked = [name for name in LOCKED_FIELDS if name in set(changing)]
    if not locked or betcard.pk is None:
        return
    tickets = betcard.tickets.count()
    if tickets:
        raise BetcardLocked(tickets=tickets, fields=locked)


def betcard_open(*, betcard: Betcard) -> bool:
    """Open a draft or closed card for sales; False when it was already open.

    Raises BetcardStatusInvalid for a settled card or a card without events.
    """
    return _move(betcard, to=BetcardStatus.OPEN)


def betcard_close(*, betcard: Betcard) -> bool:
    """Stop sales of an open card (it can be reopened); False when it was not open.

    Raises BetcardStatusInvalid for a settled card.
    """
    return _move(betcard, to=BetcardStatus.CLOSED)


def _move(betcard: Betcard, *, to: BetcardStatus) -> bool:
    with transaction.atomic():
        card = Betcard.objects.select_for_update().get(pk=betcard.pk)
        if card.status == BetcardStatus.SETTLED:
            raise BetcardStatusInvalid(f"Betcard {card.code} is settled: its status is final")
        if to == BetcardStatus.CLOSED and card.status != BetcardStatus.OPEN:
            return False
        if card.status == to:
            return False
        if to == BetcardStatus.OPEN and not card.card_events.exists():
            raise BetcardStatusInvalid(f"Betcard {card.code} has no events: add some first")
        card.status = to
        card.save(update_fields=["status", "updated_at"])
    betcard.status = to
    return True


def teams_set_active(*, teams: QuerySet[Team], active: bool) -> list[Team]:
    """Enable (or disable) these teams; returns those that changed, as changed.

    A disabled team's events refuse placements (code 105).
    """
    return _flag_set(teams, field="is_active", value=active, shown_as="team_ids")


def markets_set_blocked(*, markets: QuerySet[Market], blocked: bool) -> list[Market]:
    """Block (or unblock) these markets; returns those that changed, as changed.

    A blocked market refuses placements (code 109). A placement holding one of them
    `FOR SHARE` commits first: the UPDATE waits for its lock (tickets.placement).
    """
    return _flag_set(markets, field="is_blocked", value=blocked, shown_as="market_ids")


def _flag_set(rows: QuerySet[_Row], *, field: str, value: bool, shown_as: str) -> list[_Row]:
    """Set a flag of these rows with one UPDATE (no model signals), and give the cards that
    show them a new version (`offers_invalidate(**{shown_as: ids})`) in the same
    transaction, which also drops placement's kept cards (betcards.snapshots) when it
    commits. The rows that changed, as changed."""
    with transaction.atomic():
        changed = list(rows.exclude(**{field: value}))
        ids = [row.pk for row in changed]
        rows.model._default_manager.filter(pk__in=ids).update(**{field: value})
        offers_invalidate(**{shown_as: ids})
    for row in changed:
        setattr(row, field, value)
    return changed
