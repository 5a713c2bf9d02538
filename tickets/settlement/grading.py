"""Grading a settlement round's tickets with set-based SQL, in batches.

Implements the grading rules of contract.md § Settlement for `tickets.settlement`: a
ticket's misses are the card's scored (not void) events its selections do not match, counted
in SQL from the round's frozen results (`betcards.grading.CardResults`); payouts come from
`tickets.settlement.tiers` and `operators.taxes`. A batch locks the next tickets by id,
and one transaction writes their grades and their webhooks, so each ticket is paid exactly
once; the selections' results follow in their own idempotent pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from betcards.grading import CardResults
from betcards.models import Betcard
from jackpot.core import clock
from jackpot.core.sql import named_rows, sql_names
from operators.taxes import SettlementTaxes, settlement_taxes
from tickets.models import (
    Selection,
    SelectionResult,
    Settlement,
    Ticket,
    TicketResult,
    TicketStatus,
)
from tickets.outbox.payloads import TICKET_RESULT, TICKET_ROLLBACK
from tickets.outbox.queueing import enqueue_for_tickets

# Raw SQL because it pays: grading a million tickets row by row through the ORM took hours;
# set-based statements take minutes (docs/settlement.md § 1,000,000 tickets).

Progress = Callable[[str, int, int], None]
"""Called as a run goes: (phase, items done by this run, items it had to do)."""

_NAMES = {"t": Ticket, "s": Selection}

# SQL templates (`jackpot.core.sql.sql_names`), over a ticket `t` and a selection `s`.
MISSES = (
    "%(scored)s - (SELECT count(*) FROM {s} s"
    " WHERE s.{s.ticket} = t.{t.id} AND s.{s.bet} = ANY(%(matching)s))"
)
"""A ticket's misses: the card's scored events its selections do not match."""
IN_ROUND = "t.{t.betcard} = %(card)s AND t.{t.settlement_round} = %(round)s"
"""The tickets of a card that a round graded."""
SELECTION_RESULT = (
    "CASE WHEN s.{s.bet} = ANY(%(void)s) THEN %(void_result)s"
    " WHEN s.{s.bet} = ANY(%(won)s) THEN %(won_result)s ELSE %(lost_result)s END"
)


def misses_params(results: CardResults) -> dict[str, Any]:
    """Parameters of MISSES: a void event is matched for everyone, so it is neither
    counted as scored nor among the matching bets."""
    return {"scored": results.scored_event_count, "matching": sorted(results.matching_bet_ids)}


def _to_grade(round_: Settlement) -> tuple[str, dict[str, Any]]:
    """Tickets this round still has to grade (a condition on `t`, with its parameters):
    open ones in round 1; in a resettlement, closed ones an earlier round graded, final
    ones (`closed_at` set) only on override."""
    if round_.number == 1:
        return "t.{t.status} = %(to_grade)s", {"to_grade": TicketStatus.OPEN}
    condition = "t.{t.status} = %(to_grade)s AND t.{t.settlement_round} < %(round)s"
    if not round_.override_closed:
        condition += " AND t.{t.closed_at} IS NULL"
    return condition, {"to_grade": TicketStatus.CLOSED, "round": round_.number}


def _execute(cursor: Any, template: str, params: dict[str, Any], **fragments: str) -> None:
    cursor.execute(sql_names(template, **_NAMES, **fragments), params)


def winners_by_misses(
    *, betcard: Betcard, round_: Settlement, results: CardResults
) -> dict[int, int]:
    """Tickets sharing the round's tiers, counted per number of misses (one query): every
    graded ticket in a resettlement, final ones included (their share of the tier is theirs
    even when they keep an old payout)."""
    if results.all_void:
        return {}
    counted = TicketStatus.OPEN if round_.number == 1 else TicketStatus.CLOSED
    with connection.cursor() as cursor:
        _execute(
            cursor,
            "SELECT misses, count(*) FROM (SELECT {misses} AS misses FROM {t} t"
            " WHERE t.{t.betcard} = %(card)s AND t.{t.status} = %(counted)s) graded"
            " WHERE misses <= %(last_tier)s GROUP BY misses",
            {
                **misses_params(results),
                "counted": counted,
                "card": betcard.pk,
                "last_tier": len(betcard.bonus_prizes),
            },
            misses=MISSES,
        )
        return dict(cursor.fetchall())


def to_grade_count(*, betcard: Betcard, round_: Settlement) -> int:
    """Tickets the round still has to grade (the progress bar's total)."""
    to_grade, params = _to_grade(round_)
    with connection.cursor() as cursor:
        _execute(
            cursor,
            "SELECT count(*) FROM {t} t WHERE t.{t.betcard} = %(card)s AND {to_grade}",
            {**params, "card": betcard.pk},
            to_grade=to_grade,
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

    Locks the next `size` tickets to grade after ticket id `after`, grades them, writes their
    payouts and queues their webhooks (a resettlement's changed tickets get
    `ticket_rollback` first), all in one transaction: a graded ticket leaves the to-grade
    set in the transaction that pays it. Returns (last ticket id, tickets graded, tickets
    whose outcome changed and were rolled back — 0 in round 1).
    """
    with transaction.atomic(durable=True):
        rows = _lock_next(betcard, round_, results, after=after, size=size)
        if not rows:
            return None
        graded = _grade_rows(rows, round_, shares)
        _write_grades(graded, round_)
        changed = [g.ticket_id for g in graded if g.changed]
        if round_.number > 1:
            enqueue_for_tickets(
                ticket_ids=changed,
                webhook=TICKET_ROLLBACK,
                dedupe_key_sql=f"'rollback:{int(round_.number)}'",
                reason=round_.reason,
            )
        enqueue_for_tickets(
            ticket_ids=changed,
            webhook=TICKET_RESULT,
            dedupe_key_sql=f"'result:{int(round_.number)}'",
        )
    return graded[-1].ticket_id, len(graded), len(changed) if round_.number > 1 else 0


def _lock_next(
    betcard: Betcard, round_: Settlement, results: CardResults, *, after: str, size: int
) -> list[Any]:
    to_grade, params = _to_grade(round_)
    with connection.cursor() as cursor:
        _execute(
            cursor,
            "SELECT t.{t.id} AS id, t.{t.stake} AS stake, t.{t.wht_percent} AS wht_percent,"
            " t.{t.result} AS result, t.{t.gross_payout} AS gross_payout,"
            " t.{t.wht_amount} AS wht_amount, {misses} AS misses"
            " FROM {t} t WHERE t.{t.betcard} = %(card)s AND {to_grade}"
            " AND t.{t.id} > %(after)s ORDER BY t.{t.id} LIMIT %(size)s FOR UPDATE OF t",
            {
                **params,
                **misses_params(results),
                "card": betcard.pk,
                "after": after,
                "size": size,
            },
            misses=MISSES,
            to_grade=to_grade,
        )
        return named_rows(cursor)


_WRITE_GRADES = """
    UPDATE {t} t
    SET {t.misses} = v.misses, {t.result} = v.result, {t.gross_payout} = v.gross,
        {t.wht_amount} = v.wht, {t.net_payout} = v.net, {t.status} = %(closed)s,
        {t.settled_at} = CASE WHEN v.changed THEN %(now)s ELSE t.{t.settled_at} END,
        {t.closed_at} = CASE WHEN v.changed THEN NULL ELSE t.{t.closed_at} END,
        {t.settlement_round} = %(round)s, {t.updated_at} = %(now)s
    FROM unnest(%(ids)s::varchar[], %(misses)s::int[], %(results)s::varchar[],
                %(gross)s::bigint[], %(wht)s::bigint[], %(net)s::bigint[],
                %(changed)s::boolean[]) AS v(id, misses, result, gross, wht, net, changed)
    WHERE t.{t.id} = v.id
"""


def _write_grades(graded: Sequence[_Graded], round_: Settlement) -> None:
    with connection.cursor() as cursor:
        _execute(
            cursor,
            _WRITE_GRADES,
            {
                "ids": [g.ticket_id for g in graded],
                "misses": [g.misses for g in graded],
                "results": [g.result for g in graded],
                "gross": [g.taxes.gross_payout for g in graded],
                "wht": [g.taxes.wht_amount for g in graded],
                "net": [g.taxes.net_payout for g in graded],
                "changed": [g.changed for g in graded],
                "closed": TicketStatus.CLOSED,
                "now": clock.now(),
                "round": round_.number,
            },
        )


def selections_params(
    *, betcard: Betcard, round_: Settlement, results: CardResults
) -> dict[str, Any]:
    """The parameters of `selections_chunk_mark` for this round."""
    return {
        "card": betcard.pk,
        "round": round_.number,
        "void": sorted(results.void_bet_ids),
        "won": sorted(results.winning_bet_ids),
        "void_result": SelectionResult.VOID,
        "won_result": SelectionResult.WON,
        "lost_result": SelectionResult.LOST,
        "event_ids": list(results.event_ids),
    }


def graded_count(params: dict[str, Any]) -> int:
    """Tickets this round graded (the selection results' progress total)."""
    with connection.cursor() as cursor:
        _execute(cursor, "SELECT count(*) FROM {t} t WHERE {in_round}", params, in_round=IN_ROUND)
        (total,) = cursor.fetchone()
    return int(total)


def selections_chunk_mark(
    params: dict[str, Any], *, after: str, up_to: str | None, chunk: int
) -> tuple[str | None, int, int]:
    """Write the selection results of the next `chunk` tickets the round graded with ids
    after `after` (and up to `up_to`, if given). Returns (the chunk's last ticket id, None
    when there was none; tickets in the chunk; selections changed).

    Idempotent (only rows whose result differs are written). One event per transaction: a
    heap page holds the selections of a few tickets, so each transaction rewrites about a
    thirteenth of a page, which the page's free room (fillfactor 70, migration 0008) takes
    in place: a HOT update that touches none of the table's indexes. Rewriting every row of
    a page at once would not fit and would insert into each index instead, several times
    slower at a million tickets.
    """
    with connection.cursor() as cursor:
        _execute(
            cursor,
            "SELECT max(id), count(*) FROM (SELECT t.{t.id} AS id FROM {t} t"
            " WHERE {in_round} AND t.{t.id} > %(after)s {up_to} ORDER BY t.{t.id}"
            " LIMIT %(chunk)s) chunk",
            {**params, "after": after, "up_to": up_to, "chunk": chunk},
            in_round=IN_ROUND,
            up_to="" if up_to is None else "AND t.{t.id} <= %(up_to)s",
        )
        last, count = cursor.fetchone()
    if last is None:
        return None, 0, 0
    changed = sum(
        _mark_event(params, after=after, last=last, event_id=event_id)
        for event_id in params["event_ids"]
    )
    return last, int(count), changed


def selections_mark(params: dict[str, Any], *, chunk: int, progress: Progress | None = None) -> int:
    """Write the results (`won`, `lost`, `void`) of the selections of the tickets the
    round graded (`selections_params`), chunk after chunk (`selections_chunk_mark`); return
    how many changed. Final tickets a resettlement kept are left alone."""
    total = graded_count(params)
    changed = done = 0
    after = ""
    while True:
        last, count, chunk_changed = selections_chunk_mark(
            params, after=after, up_to=None, chunk=chunk
        )
        if last is None:
            return changed
        after = last
        done += count
        changed += chunk_changed
        if progress is not None:
            progress("selection results", done, total)


def _mark_event(params: dict[str, Any], *, after: str, last: str, event_id: int) -> int:
    """Write one event's selection results for the tickets with ids in (after, last]."""
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        _execute(
            cursor,
            "UPDATE {s} s SET {s.result} = {selection_result} FROM {t} t"
            " WHERE {in_round} AND t.{t.id} > %(after)s AND t.{t.id} <= %(last)s"
            " AND s.{s.ticket} = t.{t.id} AND s.{s.event} = %(event)s"
            " AND s.{s.result} <> {selection_result}",
            {**params, "after": after, "last": last, "event": event_id},
            in_round=IN_ROUND,
            selection_result=SELECTION_RESULT,
        )
        return int(cursor.rowcount)


def _grade_rows(rows: list[Any], round_: Settlement, shares: dict[int, int]) -> list[_Graded]:
    """Each ticket's result and payout from its misses (rows of `_lock_next`)."""
    taxes_cache: dict[tuple[int, int, Decimal], SettlementTaxes] = {}
    graded = []
    for row in rows:
        gross = 0 if round_.all_void else shares.get(row.misses, 0)
        key = (gross, row.stake, row.wht_percent)
        taxes = taxes_cache.get(key)
        if taxes is None:
            taxes = taxes_cache[key] = settlement_taxes(
                gross_payout=gross, stake=row.stake, wht_percent=row.wht_percent
            )
        if round_.all_void:
            result = TicketResult.VOID
        else:
            result = TicketResult.WON if gross > 0 else TicketResult.LOST
        changed = round_.number == 1 or (row.result, row.gross_payout, row.wht_amount) != (
            result,
            taxes.gross_payout,
            taxes.wht_amount,
        )
        graded.append(_Graded(row.id, row.misses, result, taxes, changed))
    return graded
