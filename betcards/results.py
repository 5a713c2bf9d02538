"""Market results (contract.md § Settlement): a winning bet or void, with an audit trail.

Entered by staff in the admin or by `import_catalogue`; every change writes a
`MarketResultChange` row saying who, when, from where and why.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from betcards.models import Bet, Market, MarketResultChange
from jackpot.core import clock
from jackpot.core.errors import ResultInvalid


def market_result_set(
    *,
    market: Market,
    winning_bet: Bet | None,
    void: bool,
    changed_by: User | None = None,
    source: str,
    reason: str = "",
) -> bool:
    """Set (or clear, with `winning_bet=None, void=False`) a market's result.

    Returns False and writes nothing when the result is unchanged, so re-importing the same
    document adds no audit rows. Settled cards are resettled by the settlement service,
    which calls this inside its own transaction.
    """
    if void and winning_bet is not None:
        raise ResultInvalid(f"market {market.pk}: a void result has no winning bet")
    if winning_bet is not None and winning_bet.market_id != market.pk:
        raise ResultInvalid(f"market {market.pk}: bet {winning_bet.pk} is not one of its bets")
    new_winner_id = winning_bet.pk if winning_bet is not None else None
    if market.is_void == void and market.winning_bet_id == new_winner_id:
        return False
    with transaction.atomic():
        market.winning_bet = winning_bet
        market.is_void = void
        market.result_set_at = clock.now()
        market.result_set_by = changed_by
        market.save(update_fields=["winning_bet", "is_void", "result_set_at", "result_set_by"])
        MarketResultChange.objects.create(
            market=market,
            winning_bet=winning_bet,
            is_void=void,
            changed_by=changed_by,
            source=source,
            reason=reason,
        )
    return True
