"""What a settlement run did, and the card's figures after it (contract.md § Settlement:
"the remainder is reported, never lost or invented")."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from betcards.grading import betcard_results
from betcards.models import Betcard
from tickets.models import Settlement
from tickets.taxes import TierShare


@dataclass(frozen=True, kw_only=True)
class SettlementReport:
    """What a settlement run did, and the card's figures after it (all money in cents)."""

    betcard_code: str
    round: int
    all_void: bool
    tiers: tuple[TierShare, ...]
    already_settled: bool
    results_changed: bool  # results differ from the ones this round graded: resettle
    graded_now: int
    rolled_back: int  # tickets given ticket_rollback then a new result, this round
    kept_final: int  # closed (final) tickets a resettlement left as they were
    tickets: int  # graded tickets of the card
    won: int
    lost: int
    void: int
    cancelled: int  # not graded
    gross_payout: int
    wht_amount: int
    net_payout: int
    refunds: int  # prices refunded by ticket_void

    @property
    def prize_pool(self) -> int:
        return sum(tier.amount for tier in self.tiers)

    @property
    def remainder(self) -> int:
        """Cents of the tiers not paid: floor remainders and tiers without winners."""
        return sum(tier.remainder for tier in self.tiers)

    @property
    def unbalanced(self) -> int:
        """pool − paid − remainder: 0 unless final tickets kept an old share (resettlement)
        or a ticket was cancelled after the tiers were frozen."""
        return self.prize_pool - self.gross_payout - self.remainder


def settlement_report(
    betcard: Betcard,
    round_: Settlement,
    *,
    already_settled: bool = False,
    graded_now: int = 0,
    rolled_back: int = 0,
) -> SettlementReport:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE status = 'closed'),
                   count(*) FILTER (WHERE status = 'closed' AND result = 'won'),
                   count(*) FILTER (WHERE status = 'closed' AND result = 'lost'),
                   count(*) FILTER (WHERE status = 'closed' AND result = 'void'),
                   count(*) FILTER (WHERE status = 'cancelled'),
                   coalesce(sum(gross_payout) FILTER (WHERE status = 'closed'), 0),
                   coalesce(sum(wht_amount) FILTER (WHERE status = 'closed'), 0),
                   coalesce(sum(net_payout) FILTER (WHERE status = 'closed'), 0),
                   coalesce(sum(price) FILTER (WHERE status = 'closed' AND result = 'void'), 0),
                   count(*) FILTER (WHERE status = 'closed' AND settlement_round < %(round)s)
            FROM tickets_ticket WHERE betcard_id = %(card)s
            """,
            {"card": betcard.pk, "round": round_.number},
        )
        row = cursor.fetchone()
    tickets, won, lost, void, cancelled, gross, wht, net, refunds, kept_final = map(int, row)
    return SettlementReport(
        betcard_code=betcard.code,
        round=round_.number,
        all_void=round_.all_void,
        tiers=tuple(
            TierShare(
                misses=t.misses,
                amount=t.amount,
                winners=t.winners,
                share=t.share,
                remainder=t.remainder,
            )
            for t in round_.tiers.order_by("misses")
        ),
        already_settled=already_settled,
        results_changed=betcard_results(betcard=betcard).as_json() != round_.results,
        graded_now=graded_now,
        rolled_back=rolled_back,
        kept_final=kept_final,
        tickets=tickets,
        won=won,
        lost=lost,
        void=void,
        cancelled=cancelled,
        gross_payout=gross,
        wht_amount=wht,
        net_payout=net,
        refunds=refunds,
    )
