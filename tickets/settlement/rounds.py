"""Settlement rounds: grade a betcard's tickets, pay the prize tiers, tell the PAM.

Implements contract.md § Settlement and operations.md `settle_betcard`. The money rules
live in `tickets.settlement.tiers` (tier shares) and `operators.taxes` (withholding tax);
event results in `betcards.grading`.

A settlement is a *round* (`Settlement` row): number 1 settles the card, each later round is
an explicit resettlement after a result correction. A round runs in steps, each in its own
transactions, so a million tickets settle in bounded memory and a killed run resumes:

1. start: freeze the card's results and the prize tiers (tickets per misses counted in one
   set-based query, shares computed by `tickets.settlement.tiers.prize_tiers`) in the round's rows;
2. batches (`tickets.settlement.grading.batch_grade`): lock the next tickets still to grade in id
   order, compute their misses in SQL, their payout in Python, and write tickets and
   result webhooks in one transaction; a graded ticket leaves the to-grade set in the
   transaction that pays it, so a rerun or a resumed run pays each ticket and queues each
   webhook exactly once;
3. selection results (`tickets.settlement.grading.selections_chunk_mark`), idempotent,
   written beside step 2 on a second connection as its batches commit
   (`tickets.settlement.marking.TrailingMarker`);
4. finish: mark the round finished and the card settled.

One run per card at a time: a run holds a database session lock for its card, and a second
run (a double click in the admin, a second command) is refused with SettlementRunning
instead of racing the first to mark the card settled.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import connection, transaction

from betcards.grading import CardResults, betcard_results
from betcards.models import Betcard, BetcardStatus, Market
from betcards.offers import offers_invalidate
from betcards.results import market_result_set
from jackpot.core import clock
from jackpot.core.errors import (
    BetcardNotSettled,
    ResettlementReasonMissing,
    ResultsMissing,
    SettlementRunning,
)
from jackpot.core.sql import session_lock
from tickets.models import Settlement, SettlementTier
from tickets.settlement.grading import (
    Progress,
    batch_grade,
    selections_mark,
    selections_params,
    to_grade_count,
    winners_by_misses,
)
from tickets.settlement.marking import TrailingMarker
from tickets.settlement.report import SettlementReport, settlement_report
from tickets.settlement.tiers import prize_tiers

BATCH_SIZE = 10_000
SELECTIONS_CHUNK = 50_000


# A killed run's database session may take a moment to end and free the card.
RUN_LOCK_WAIT_SECONDS = 10.0


@dataclass(frozen=True, kw_only=True)
class ResultCorrection:
    """A market's corrected result, applied (and audited) with the resettlement."""

    market: Market
    winning_bet_id: int | None
    void: bool = False


def betcard_settle(
    *, betcard: Betcard, progress: Progress | None = None, batch_size: int = BATCH_SIZE
) -> SettlementReport:
    """Settle the card, or resume its unfinished round; a settled card is left as it is.

    Raises ResultsMissing (changing nothing) while an event of the card has no result, and
    SettlementRunning while another run settles or resettles the card.
    """
    with _card_run(betcard, wait_seconds=RUN_LOCK_WAIT_SECONDS):
        latest = _latest_round(betcard)
        if latest is not None and latest.finished_at is not None:
            return settlement_report(betcard, latest, already_settled=True)
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
    Raises SettlementRunning while another run settles or resettles the card.
    """
    with _card_run(betcard, wait_seconds=RUN_LOCK_WAIT_SECONDS):
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
    _check_not_running(betcard)
    if _latest_round(betcard) is None:
        _check_complete(betcard, betcard_results(betcard=betcard))


def betcard_resettle_check(*, betcard: Betcard, reason: str) -> None:
    """Raise what `betcard_resettle` (without corrections) would refuse with, changing
    nothing: for interfaces that resettle in the background."""
    _check_not_running(betcard)
    if _resettle_latest_round(betcard, reason).finished_at is not None:
        _check_complete(betcard, betcard_results(betcard=betcard))


# ----------------------------------------------------------------------------- rounds


def run_lock_name(betcard: Betcard) -> str:
    """The name of the session lock a run holds on its card (jackpot.core.sql.session_lock)."""
    return f"tickets.settlement:{betcard.pk}"


@contextlib.contextmanager
def _card_run(betcard: Betcard, *, wait_seconds: float) -> Iterator[None]:
    """Hold the card's run lock for the whole run (its steps commit separately), or raise
    SettlementRunning."""
    with session_lock(run_lock_name(betcard), wait_seconds=wait_seconds) as taken:
        if not taken:
            raise SettlementRunning(code=betcard.code)
        yield


def _check_not_running(betcard: Betcard) -> None:
    with _card_run(betcard, wait_seconds=0):
        pass


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
    winners = winners_by_misses(betcard=betcard, round_=round_, results=results)
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
    total = to_grade_count(betcard=betcard, round_=round_)
    shares = {tier.misses: tier.share for tier in round_.tiers.all()}
    graded = rolled_back = 0
    after = ""
    params = selections_params(betcard=betcard, round_=round_, results=results)
    # Selection results are written beside the grading on a second connection, unless the
    # run is inside a caller's transaction (a test's), which a second one would not see.
    marker = None if connection.in_atomic_block else TrailingMarker(params, chunk=SELECTIONS_CHUNK)
    with marker or contextlib.nullcontext():
        while batch := batch_grade(betcard, round_, results, shares, after=after, size=batch_size):
            after, count, changed = batch
            graded += count
            rolled_back += changed
            if marker is not None:
                marker.graded_up_to(after)
            if progress is not None:
                progress("grading tickets", graded, total)
        if marker is not None:
            marker.finish(progress)
        else:
            selections_mark(params, chunk=SELECTIONS_CHUNK, progress=progress)
    with transaction.atomic(durable=True):
        Betcard.objects.filter(pk=betcard.pk).update(
            status=BetcardStatus.SETTLED, settled_at=clock.now(), updated_at=clock.now()
        )
        offers_invalidate(betcard_ids=[betcard.pk])  # the Bet Card API shows its status
        Settlement.objects.filter(pk=round_.pk, finished_at__isnull=True).update(
            finished_at=clock.now()
        )
    round_.refresh_from_db()
    return settlement_report(betcard, round_, graded_now=graded, rolled_back=rolled_back)
