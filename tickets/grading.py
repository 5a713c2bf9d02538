"""Grading a settlement round's tickets with set-based SQL, in batches.

Implements the grading rules of contract.md § Settlement for `tickets.settlement`: a
ticket's misses are the card's scored (not void) events its selections do not match, counted
in SQL from the round's frozen results (`betcards.grading.CardResults`); payouts come from
`tickets.taxes`. A batch locks the next tickets by id, and one transaction writes their
grades and their webhooks, so each ticket is paid exactly once; the selections' results
follow in their own idempotent pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from betcards.grading import CardResults
from betcards.models import Betcard
from jackpot.core import clock
from tickets.models import Settlement, TicketResult, TicketStatus
from tickets.taxes import SettlementTaxes, settlement_taxes
from tickets.webhook_sql import (
    RESULT_ACTION,
    RESULT_FIELDS,
    ROLLBACK_FIELDS,
    deliveries_insert,
    deliveries_kick,
)

Progress = Callable[[str, int, int], None]
"""Called as a run goes: (phase, items done by this run, items it had to do)."""


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


def misses_params(results: CardResults) -> dict[str, Any]:
    """Parameters of MISSES_SQL: a void event is matched for everyone, so it is neither
    counted as scored nor among the matching bets."""
    return {"scored": results.scored_event_count, "matching": sorted(results.matching_bet_ids)}


def winners_by_misses(
    *, betcard: Betcard, round_: Settlement, results: CardResults
) -> dict[int, int]:
    """Tickets sharing the round's tiers, counted per number of misses (one query)."""
    if results.all_void:
        return {}
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
                **misses_params(results),
                "card": betcard.pk,
                "last_tier": len(betcard.bonus_prizes),
            },
        )
        return dict(cursor.fetchall())


def to_grade_count(*, betcard: Betcard, round_: Settlement) -> int:
    """Tickets the round still has to grade (the progress bar's total)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM tickets_ticket t "  # noqa: S608 - constant SQL fragments
            f"WHERE t.betcard_id = %s AND {_eligible_sql(round_)}",
            [betcard.pk],
        )
        (total,) = cursor.fetchone()
    return int(total)


@dataclass(frozen=True, slots=True)
class _Graded:
    ticket_id: str
    misses: int
    result: str
    taxes: SettlementTaxes
    changed: bool  # outcome differs from the ticket's current one (always, in round 1)


def batch_grade(
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
            {**misses_params(results), "card": betcard.pk, "after": after, "size": size},
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


SELECTION_RESULT_SQL = (
    "CASE WHEN s.bet_id = ANY(%(void)s) THEN 'void' "
    "WHEN s.bet_id = ANY(%(won)s) THEN 'won' ELSE 'lost' END"
)


def selections_mark(
    *,
    betcard: Betcard,
    round_: Settlement,
    results: CardResults,
    chunk: int,
    progress: Progress | None = None,
) -> int:
    """Write the results (`won`, `lost`, `void`) of the selections of the tickets this
    round graded; return how many changed. Final tickets a resettlement kept are left alone.

    Idempotent (only rows whose result differs are written), so a resumed round simply runs
    it again. One event per transaction: a heap page holds the selections of a few tickets,
    so each transaction rewrites about a thirteenth of a page, which the page's free room
    (fillfactor 70, migration 0008) takes in place: a HOT update that touches none of the
    table's indexes. Rewriting every row of a page at once would not fit and would insert
    into each index instead, several times slower at a million tickets.
    """
    params = {"void": sorted(results.void_bet_ids), "won": sorted(results.winning_bet_ids)}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM tickets_ticket WHERE betcard_id = %s AND settlement_round = %s",
            [betcard.pk, round_.number],
        )
        (total,) = cursor.fetchone()
    changed = done = 0
    after = ""
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT max(id), count(*) FROM (SELECT id FROM tickets_ticket WHERE "
                "betcard_id = %s AND settlement_round = %s AND id > %s ORDER BY id LIMIT %s) c",
                [betcard.pk, round_.number, after, chunk],
            )
            last, count = cursor.fetchone()
        if last is None:
            return changed
        for event_id in results.event_ids:
            with transaction.atomic(durable=True), connection.cursor() as cursor:
                cursor.execute(
                    f"""
                    UPDATE tickets_selection s SET result = {SELECTION_RESULT_SQL}
                    FROM tickets_ticket t
                    WHERE t.betcard_id = %(card)s AND t.settlement_round = %(round)s
                      AND t.id > %(after)s AND t.id <= %(last)s
                      AND s.ticket_id = t.id AND s.event_id = %(event)s
                      AND s.result <> {SELECTION_RESULT_SQL}
                    """,  # noqa: S608 - constant SQL fragments only
                    {
                        **params,
                        "card": betcard.pk,
                        "round": round_.number,
                        "after": after,
                        "last": last,
                        "event": event_id,
                    },
                )
                changed += cursor.rowcount
        after = last
        done += count
        if progress is not None:
            progress("selection results", done, total)


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
