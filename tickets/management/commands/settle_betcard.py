"""`manage.py settle_betcard CODE`: settle a betcard, or resettle it after a correction.

Interface only (operations.md `settle_betcard`, docs/settlement.md): parses, calls
`tickets.settlement`, prints the report. Exit status 1 with the reason when refused.
"""

from __future__ import annotations

import dataclasses
import json
from argparse import ArgumentParser
from typing import IO, Any, cast

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from betcards.models import Betcard, Market
from jackpot.core.errors import SettlementError
from tickets.settlement.report import SettlementReport
from tickets.settlement.rounds import (
    BATCH_SIZE,
    ResultCorrection,
    betcard_resettle,
    betcard_settle,
)


def _market_bet(value: str) -> tuple[int, int]:
    market, _, bet = value.partition(":")
    return int(market), int(bet)


class Command(BaseCommand):
    help = "Grade every open ticket of a betcard, pay the prize tiers and queue result webhooks."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("code", help="Betcard code, e.g. ABC123")
        parser.add_argument(
            "--resettle",
            action="store_true",
            help="Regrade a settled card after a result correction (needs --reason)",
        )
        parser.add_argument("--reason", default="", help="Why the card is resettled (audited)")
        parser.add_argument(
            "--override-closed",
            action="store_true",
            help="Staff override: also regrade tickets already closed (final)",
        )
        parser.add_argument(
            "--winning-bet",
            action="append",
            default=[],
            type=_market_bet,
            metavar="MARKET:BET",
            help="With --resettle: correct a market's result to this winning bet (repeatable)",
        )
        parser.add_argument(
            "--void",
            action="append",
            default=[],
            type=int,
            metavar="MARKET",
            help="With --resettle: correct a market's result to void (repeatable)",
        )
        parser.add_argument("--by", help="Username of the staff member asking (audited)")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
        parser.add_argument("--json", action="store_true", help="Print the report as JSON")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        betcard = Betcard.objects.filter(code=options["code"]).first()
        if betcard is None:
            raise CommandError(f"Betcard `{options['code']}` is not found")
        corrections = [
            ResultCorrection(market=self._market(m), winning_bet_id=bet)
            for m, bet in options["winning_bet"]
        ] + [
            ResultCorrection(market=self._market(m), winning_bet_id=None, void=True)
            for m in options["void"]
        ]
        if corrections and not options["resettle"]:
            raise CommandError("--winning-bet and --void correct results: add --resettle")
        staff = User.objects.filter(username=options["by"]).first() if options["by"] else None
        if options["by"] and staff is None:
            raise CommandError(f"No user named `{options['by']}`")
        with _ProgressBar(enabled=not options["no_progress"]) as update:
            try:
                if options["resettle"]:
                    report = betcard_resettle(
                        betcard=betcard,
                        reason=options["reason"],
                        changed_by=staff,
                        override_closed=options["override_closed"],
                        corrections=corrections,
                        progress=update,
                        batch_size=options["batch_size"],
                    )
                else:
                    report = betcard_settle(
                        betcard=betcard, progress=update, batch_size=options["batch_size"]
                    )
            except SettlementError as exc:
                raise CommandError(exc.message) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report_json(report)))
        else:
            report_print(report, Console(file=cast(IO[str], self.stdout), soft_wrap=True))

    @staticmethod
    def _market(market_id: int) -> Market:
        market = Market.objects.filter(pk=market_id).first()
        if market is None:
            raise CommandError(f"Market `{market_id}` is not found")
        return market


class _ProgressBar:
    """A rich progress bar on standard error, fed by the service's progress callback."""

    def __init__(self, *, enabled: bool) -> None:
        self._bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=not enabled,
        )
        self._task = self._bar.add_task("grading tickets", total=None)

    def __enter__(self) -> _ProgressBar:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def __call__(self, phase: str, done: int, total: int) -> None:
        self._bar.update(self._task, description=phase, completed=done, total=total)


def report_json(report: SettlementReport) -> dict[str, Any]:
    data = dataclasses.asdict(report)
    data.update(
        prize_pool=report.prize_pool, remainder=report.remainder, unbalanced=report.unbalanced
    )
    return data


def report_print(report: SettlementReport, console: Console) -> None:
    if report.already_settled:
        console.print(f"Betcard {report.betcard_code} is already settled: nothing changed.")
    if report.results_changed:
        console.print(
            "[bold]Results changed since this round was graded: "
            "resettle with --resettle --reason TEXT.[/bold]"
        )
    title = f"Betcard {report.betcard_code}, settlement round {report.round}"
    if report.all_void:
        title += " (every event void: tickets voided and refunded)"
    table = Table(title=title)
    for column in ("misses", "tier prize", "winners", "share", "remainder"):
        table.add_column(column, justify="right")
    for tier in report.tiers:
        remainder = f"{tier.remainder}" + (" (no winners)" if not tier.winners else "")
        table.add_row(
            str(tier.misses), str(tier.amount), str(tier.winners), str(tier.share), remainder
        )
    console.print(table)
    console.print(
        f"graded now {report.graded_now}; tickets {report.tickets}: won {report.won}, "
        f"lost {report.lost}, void {report.void}; cancelled (not graded) {report.cancelled}"
    )
    console.print(
        f"gross {report.gross_payout}, WHT {report.wht_amount}, net {report.net_payout}, "
        f"refunds {report.refunds} (cents); prize pool {report.prize_pool}, "
        f"remainder {report.remainder}"
    )
    if report.round > 1:
        console.print(
            f"rolled back and re-sent {report.rolled_back}; "
            f"final tickets kept as they were {report.kept_final}"
        )
    if report.unbalanced:
        console.print(
            f"[bold]pool − paid − remainder = {report.unbalanced}[/bold]: final tickets kept an "
            "old payout, or tickets were cancelled after the tiers were frozen."
        )
