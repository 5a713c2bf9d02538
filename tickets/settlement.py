"""Settlement: grade a betcard's tickets, pay the prize tiers, tell the PAM.

Implements contract.md § Settlement and operations.md `settle_betcard`. The money rules
(tier shares, withholding tax) live in `tickets.taxes`; event results in `betcards.grading`.

A settlement is a *round* (`Settlement` row): number 1 settles the card, each later round is
an explicit resettlement after a result correction. A round runs in three steps, each its
own transaction, so a million tickets settle in bounded memory and a killed run resumes:

1. start: freeze the card's results and the prize tiers (tickets per misses counted in one
   set-based query, shares computed by `taxes.prize_tiers`) in the round's rows;
2. batches: lock the next tickets still to grade in id order, compute their misses in SQL,
   their payout in Python, and write tickets, selections and result webhooks in one
   transaction; a graded ticket leaves the to-grade set in the transaction that pays it,
   so a rerun or a resumed run pays each ticket and queues each webhook exactly once;
3. finish: mark the round finished and the card settled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction

from betcards.grading import CardResults, betcard_results
from betcards.models import Betcard, BetcardStatus, Market
from betcards.results import market_result_set
from jackpot.core import clock
from jackpot.core.errors import ContractError
from tickets.models import Settlement, SettlementTier, TicketResult, TicketStatus
from tickets.taxes import SettlementTaxes, TierShare, prize_tiers, settlement_taxes
from tickets.webhook_sql import (
    RESULT_ACTION,
    RESULT_FIELDS,
    ROLLBACK_FIELDS,
    deliveries_insert,
    deliveries_kick,
)

BATCH_SIZE = 10_000

Progress = Callable[[int, int], None]
"""Called after each batch with (tickets graded by this run, tickets it had to grade)."""


class SettlementError(ContractError):
    """A settlement request the engine refuses; nothing was changed."""

    http_status = 409


class ResultsMissing(SettlementError):
    code = 150
    template = "Betcard `{code}` cannot be settled: events without a result: {events}"


class BetcardNotSettled(SettlementError):
    code = 151
    template = "Betcard `{code}` is not settled yet: settle it before correcting a result"


class ResettlementReasonMissing(SettlementError):
    code = 152
    template = "A resettlement of betcard `{code}` needs a reason"


@dataclass(frozen=True, kw_only=True)
class ResultCorrection:
    """A market's corrected result, applied (and audited) with the resettlement."""

    market: Market
    winning_bet_id: int | None
    void: bool = False


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


def betcard_settle(
    *, betcard: Betcard, progress: Progress | None = None, batch_size: int = BATCH_SIZE
) -> SettlementReport:
    """Settle the card, or resume its unfinished round; a settled card is left as it is.

    Raises ResultsMissing (changing nothing) while an event of the card has no result.
    """
    latest = _latest_round(betcard)
    if latest is not None and latest.finished_at is not None:
        return _report(betcard, latest, already_settled=True)
    if latest is None:
        results = betcard_results(betcard=betcard)
        _check_complete(betcard, results)
        latest = _round_start(betcard=betcard, results=results, number=1)
    return _round_run(betcard, latest, progress=progress, batch_size=batch_size)


def betcard_resettle(
    *,
    betcard: Betcard,
    reason: str,
    changed_by: User | None,
    override_closed: bool = False,
    corrections: Iterable[ResultCorrection] = (),
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
) -> SettlementReport:
    """Regrade a settled card after a result correction (contract.md § Settlement).

    `corrections` are applied first with `reason` in the result audit; results already
    changed in the admin or by an import are taken as they stand. Each ticket whose outcome
    changes gets `ticket_rollback` then its new result webhook. Tickets already closed
    (`ticket_closed` sent) are left alone unless `override_closed`, which the round records
    with the staff user and reason. An unfinished resettlement is resumed, not restarted.
    """
    latest = _resettle_latest_round(betcard, reason)
    if latest.finished_at is None:
        return _round_run(betcard, latest, progress=progress, batch_size=batch_size)
    with transaction.atomic(durable=True):
        for correction in corrections:
            market_result_set(
                market=correction.market,
                winning_bet=(
                    correction.market.bets.get(pk=correction.winning_bet_id)
                    if correction.winning_bet_id is not None
                    else None
                ),
                void=correction.void,
                changed_by=changed_by,
                source="resettlement",
                reason=reason,
            )
        results = betcard_results(betcard=betcard)
        _check_complete(betcard, results)
        round_ = _round_start(
            betcard=betcard,
            results=results,
            number=latest.number + 1,
            reason=reason,
            requested_by=changed_by,
            override_closed=override_closed,
        )
    return _round_run(betcard, round_, progress=progress, batch_size=batch_size)


def betcard_settle_check(*, betcard: Betcard) -> None:
    """Raise what `betcard_settle` would refuse with, changing nothing: for interfaces that
    settle in the background (the admin action queues `tickets.betcard_settle`)."""
    if _latest_round(betcard) is None:
        _check_complete(betcard, betcard_results(betcard=betcard))


def betcard_resettle_check(*, betcard: Betcard, reason: str) -> None:
    """Raise what `betcard_resettle` (without corrections) would refuse with, changing
    nothing: for interfaces that resettle in the background."""
    if _resettle_latest_round(betcard, reason).finished_at is not None:
        _check_complete(betcard, betcard_results(betcard=betcard))


# ----------------------------------------------------------------------------- rounds


def _resettle_latest_round(betcard: Betcard, reason: str) -> Settlement:
    """The round a resettlement follows (or resumes); refuses without a reason or before the
    card's first settlement finished."""
    if not reason.strip():
        raise ResettlementReasonMissing(code=betcard.code)
    latest = _latest_round(betcard)
    if latest is None or (latest.number == 1 and latest.finished_at is None):
        raise BetcardNotSettled(code=betcard.code)
    return latest


def _latest_round(betcard: Betcard) -> Settlement | None:
    return Settlement.objects.filter(betcard=betcard).order_by("-number").first()


def _check_complete(betcard: Betcard, results: CardResults) -> None:
    if not results.complete:
        raise ResultsMissing(
            code=betcard.code, events=", ".join(map(str, results.unresulted_event_ids))
        )


def _eligible_sql(round_: Settlement) -> str:
    """Tickets this round still has to grade (alias `t`)."""
    if round_.number == 1:
        return "t.status = 'open'"
    final = "" if round_.override_closed else " AND t.closed_at IS NULL"
    return f"t.status = 'closed' AND t.settlement_round < {int(round_.number)}{final}"


def _counted_sql(round_: Settlement) -> str:
    """Tickets that share this round's tiers: every graded ticket in a resettlement, final
    ones included (their share of the tier is theirs even when they keep an old payout)."""
    return "t.status = 'open'" if round_.number == 1 else "t.status = 'closed'"


MISSES_SQL = (
    "%(scored)s - (SELECT count(*) FROM tickets_selection s "
    "WHERE s.ticket_id = t.id AND s.bet_id = ANY(%(matching)s))"
)


def _misses_params(results: CardResults) -> dict[str, Any]:
    return {"scored": results.scored_event_count, "matching": sorted(results.matching_bet_ids)}


@transaction.atomic
def _round_start(
    *,
    betcard: Betcard,
    results: CardResults,
    number: int,
    reason: str = "",
    requested_by: User | None = None,
    override_closed: bool = False,
) -> Settlement:
    """Freeze the round's results and tiers. The card row lock serialises concurrent starts."""
    Betcard.objects.select_for_update().get(pk=betcard.pk)
    existing = Settlement.objects.filter(betcard=betcard, number=number).first()
    if existing is not None:
        return existing
    round_ = Settlement.objects.create(
        betcard=betcard,
        number=number,
        all_void=results.all_void,
        results=results.as_json(),
        reason=reason,
        requested_by=requested_by,
        override_closed=override_closed,
        started_at=clock.now(),
    )
    winners: dict[int, int] = {}
    if not results.all_void:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT misses, count(*) FROM (
                    SELECT {MISSES_SQL} AS misses FROM tickets_ticket t
                    WHERE t.betcard_id = %(card)s AND {_counted_sql(round_)}
                ) graded
                WHERE misses <= %(last_tier)s
                GROUP BY misses
                """,  # noqa: S608 - constant SQL fragments only
                {
                    **_misses_params(results),
                    "card": betcard.pk,
                    "last_tier": len(betcard.bonus_prizes),
                },
            )
            winners = dict(cursor.fetchall())
    SettlementTier.objects.bulk_create(
        SettlementTier(
            settlement=round_,
            misses=tier.misses,
            amount=tier.amount,
            winners=tier.winners,
            share=tier.share,
            remainder=tier.remainder,
        )
        for tier in prize_tiers(
            prize=betcard.prize, bonus_prizes=betcard.bonus_prizes, winners_by_misses=winners
        )
    )
    return round_


def _round_run(
    betcard: Betcard, round_: Settlement, *, progress: Progress | None, batch_size: int
) -> SettlementReport:
    results = CardResults.from_json(round_.results)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM tickets_ticket t "  # noqa: S608 - constant SQL fragments
            f"WHERE t.betcard_id = %s AND {_eligible_sql(round_)}",
            [betcard.pk],
        )
        (total,) = cursor.fetchone()
    shares = {tier.misses: tier.share for tier in round_.tiers.all()}
    graded = rolled_back = 0
    after = ""
    while True:
        batch = _batch_grade(betcard, round_, results, shares, after=after, size=batch_size)
        if batch is None:
            break
        after, count, changed = batch
        graded += count
        rolled_back += changed
        if progress is not None:
            progress(graded, total)
    with transaction.atomic(durable=True):
        Betcard.objects.filter(pk=betcard.pk).update(
            status=BetcardStatus.SETTLED, settled_at=clock.now(), updated_at=clock.now()
        )
        Settlement.objects.filter(pk=round_.pk, finished_at__isnull=True).update(
            finished_at=clock.now()
        )
    round_.refresh_from_db()
    return _report(betcard, round_, graded_now=graded, rolled_back=rolled_back)


# ----------------------------------------------------------------------------- batches


@dataclass(frozen=True, slots=True)
class _Graded:
    ticket_id: str
    misses: int
    result: str
    taxes: SettlementTaxes
    changed: bool  # outcome differs from the ticket's current one (always, in round 1)


def _batch_grade(
    betcard: Betcard,
    round_: Settlement,
    results: CardResults,
    shares: dict[int, int],
    *,
    after: str,
    size: int,
) -> tuple[str, int, int] | None:
    """Grade and pay the next batch in one transaction; None when nothing is left.

    Returns (last ticket id, tickets graded, tickets whose outcome changed and were rolled
    back — 0 in round 1).
    """
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT t.id, t.stake, t.wht_percent, t.result, t.gross_payout, t.wht_amount,
                   {MISSES_SQL} AS misses
            FROM tickets_ticket t
            WHERE t.betcard_id = %(card)s AND {_eligible_sql(round_)} AND t.id > %(after)s
            ORDER BY t.id
            LIMIT %(size)s
            FOR UPDATE OF t
            """,  # noqa: S608 - constant SQL fragments only
            {**_misses_params(results), "card": betcard.pk, "after": after, "size": size},
        )
        rows = cursor.fetchall()
        if not rows:
            return None
        graded = _grade_rows(rows, round_, shares)
        now = clock.now()
        cursor.execute(
            """
            UPDATE tickets_ticket t
            SET misses = v.misses, result = v.result, gross_payout = v.gross,
                wht_amount = v.wht, net_payout = v.net, status = %(closed)s,
                settled_at = CASE WHEN v.changed THEN %(now)s ELSE t.settled_at END,
                closed_at = CASE WHEN v.changed THEN NULL ELSE t.closed_at END,
                settlement_round = %(round)s, updated_at = %(now)s
            FROM unnest(%(ids)s::varchar[], %(misses)s::int[], %(results)s::varchar[],
                        %(gross)s::bigint[], %(wht)s::bigint[], %(net)s::bigint[],
                        %(changed)s::boolean[]) AS v(id, misses, result, gross, wht, net, changed)
            WHERE t.id = v.id
            """,
            {
                "ids": [g.ticket_id for g in graded],
                "misses": [g.misses for g in graded],
                "results": [g.result for g in graded],
                "gross": [g.taxes.gross_payout for g in graded],
                "wht": [g.taxes.wht_amount for g in graded],
                "net": [g.taxes.net_payout for g in graded],
                "changed": [g.changed for g in graded],
                "closed": TicketStatus.CLOSED,
                "now": now,
                "round": round_.number,
            },
        )
        ids = [g.ticket_id for g in graded]
        cursor.execute(
            """
            UPDATE tickets_selection s
            SET result = CASE WHEN s.bet_id = ANY(%(void)s) THEN 'void'
                              WHEN s.bet_id = ANY(%(won)s) THEN 'won' ELSE 'lost' END
            WHERE s.ticket_id = ANY(%(ids)s)
            """,
            {
                "ids": ids,
                "void": sorted(results.void_bet_ids),
                "won": sorted(results.winning_bet_ids),
            },
        )
        changed = [g.ticket_id for g in graded if g.changed]
        queued = []
        if round_.number > 1:
            queued += deliveries_insert(
                ticket_ids=changed,
                action="'ticket_rollback'",
                dedupe_key=f"'rollback:{int(round_.number)}'",
                fields=ROLLBACK_FIELDS,
                reason=round_.reason,
            )
        queued += deliveries_insert(
            ticket_ids=changed,
            action=RESULT_ACTION,
            dedupe_key=f"'result:{int(round_.number)}'",
            fields=RESULT_FIELDS,
        )
        deliveries_kick(queued)
    return ids[-1], len(ids), len(changed) if round_.number > 1 else 0


def _grade_rows(
    rows: list[tuple[Any, ...]], round_: Settlement, shares: dict[int, int]
) -> list[_Graded]:
    taxes_cache: dict[tuple[int, int, Decimal], SettlementTaxes] = {}
    graded = []
    for ticket_id, stake, wht_percent, old_result, old_gross, old_wht, misses in rows:
        gross = 0 if round_.all_void else shares.get(misses, 0)
        key = (gross, stake, wht_percent)
        taxes = taxes_cache.get(key)
        if taxes is None:
            taxes = taxes_cache[key] = settlement_taxes(
                gross_payout=gross, stake=stake, wht_percent=wht_percent
            )
        if round_.all_void:
            result = TicketResult.VOID
        else:
            result = TicketResult.WON if gross > 0 else TicketResult.LOST
        changed = round_.number == 1 or (old_result, old_gross, old_wht) != (
            result,
            taxes.gross_payout,
            taxes.wht_amount,
        )
        graded.append(_Graded(ticket_id, misses, result, taxes, changed))
    return graded


# ----------------------------------------------------------------------------- report


def _report(
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
