"""What a settlement run did, and the card's figures after it (contract.md § Settlement:
"the remainder is reported, never lost or invented")."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, Sum

from betcards.grading import betcard_results
from betcards.models import Betcard
from tickets.models import Settlement, Ticket, TicketResult, TicketStatus
from tickets.settlement.tiers import TierShare


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
    closed = Q(status=TicketStatus.CLOSED)
    figures = Ticket.objects.filter(betcard=betcard).aggregate(
        tickets=Count("pk", filter=closed),
        won=Count("pk", filter=closed & Q(result=TicketResult.WON)),
        lost=Count("pk", filter=closed & Q(result=TicketResult.LOST)),
        void=Count("pk", filter=closed & Q(result=TicketResult.VOID)),
        cancelled=Count("pk", filter=Q(status=TicketStatus.CANCELLED)),
        gross=Sum("gross_payout", filter=closed, default=0),
        wht=Sum("wht_amount", filter=closed, default=0),
        net=Sum("net_payout", filter=closed, default=0),
        refunds=Sum("price", filter=closed & Q(result=TicketResult.VOID), default=0),
        kept_final=Count("pk", filter=closed & Q(settlement_round__lt=round_.number)),
    )
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
        kept_final=figures["kept_final"],
        tickets=figures["tickets"],
        won=figures["won"],
        lost=figures["lost"],
        void=figures["void"],
        cancelled=figures["cancelled"],
        gross_payout=int(figures["gross"]),
        wht_amount=int(figures["wht"]),
        net_payout=int(figures["net"]),
        refunds=int(figures["refunds"]),
    )
