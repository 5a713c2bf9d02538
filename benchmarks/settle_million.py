"""Settle one betcard of a million tickets: the figure quoted in docs/settlement.md.

Builds (or rebuilds) betcard BENCH1M with 13 events and N tickets (default 1,000,000) whose
picks are spread pseudo-randomly over home/draw/away, with set-based SQL
(INSERT ... SELECT generate_series), enters the results (home wins, the 13th event void),
then times the settlement (`betcard_settle`, what `manage.py settle_betcard BENCH1M` runs),
each of its phases, and, with --close, the `ticket_closed` sweep. The machine's calibration
figures and load average are printed before and after.

Use a database of your own, it writes a million rows:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jackpot_bench \\
        .venv/bin/python benchmarks/settle_million.py [--tickets 1000000] [--close]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path

if not os.environ.get("DATABASE_URL"):
    sys.exit("Set DATABASE_URL to a database of your own: this writes a million tickets.")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jackpot.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from benchmarks.calibration import calibration  # noqa: E402
from betcards.models import (  # noqa: E402
    Bet,
    Betcard,
    BetcardEvent,
    BetcardStatus,
    Event,
    Market,
    Team,
)
from betcards.results import market_result_set  # noqa: E402
from operators.models import Operator  # noqa: E402
from tickets.management.commands.settle_betcard import report_json  # noqa: E402
from tickets.settlement.closing import tickets_close_due  # noqa: E402
from tickets.settlement.rounds import betcard_settle  # noqa: E402

CODE = "BENCH1M"
FIRST_EVENT = 990_001
EVENTS = 13


def step(label: str, started: float) -> float:
    now = time.perf_counter()
    print(f"{label:<48} {now - started:8.1f} s", flush=True)
    return now


PREVIOUS_RUN_DELETES = (
    """DELETE FROM tickets_webhookattempt WHERE delivery_id IN (
        SELECT d.id FROM tickets_webhookdelivery d JOIN tickets_ticket t
        ON t.id = d.ticket_id JOIN betcards_betcard b ON b.id = t.betcard_id
        WHERE b.code = %(code)s)""",
    """DELETE FROM tickets_webhookdelivery WHERE ticket_id IN (SELECT t.id FROM
        tickets_ticket t JOIN betcards_betcard b ON b.id = t.betcard_id
        WHERE b.code = %(code)s)""",
    """DELETE FROM tickets_selection WHERE ticket_id IN (SELECT t.id FROM
        tickets_ticket t JOIN betcards_betcard b ON b.id = t.betcard_id
        WHERE b.code = %(code)s)""",
    """DELETE FROM tickets_ticket WHERE betcard_id IN (
        SELECT id FROM betcards_betcard WHERE code = %(code)s)""",
    """DELETE FROM tickets_settlementtier WHERE settlement_id IN (SELECT s.id FROM
        tickets_settlement s JOIN betcards_betcard b ON b.id = s.betcard_id
        WHERE b.code = %(code)s)""",
    """DELETE FROM tickets_settlement WHERE betcard_id IN (
        SELECT id FROM betcards_betcard WHERE code = %(code)s)""",
)


def previous_run_delete() -> None:
    # One statement per execute: the database connection binds parameters server-side.
    with connection.cursor() as cursor:
        for statement in PREVIOUS_RUN_DELETES:
            cursor.execute(statement, {"code": CODE})
    Betcard.objects.filter(code=CODE).delete()


def card_build(tickets: int) -> Betcard:
    """The catalogue through the ORM (a few rows), the tickets with set-based SQL."""
    with transaction.atomic():
        operator, _ = Operator.objects.get_or_create(
            name="bench",
            defaults={
                "webhook_url": "http://127.0.0.1:9/pam",
                "ext_percent": Decimal("12.5"),
                "wht_percent": Decimal(20),
            },
        )
        operator.set_secret_key("bench-secret")
        operator.save()
        home, _ = Team.objects.get_or_create(id=990_001, defaults={"name": "Bench Home"})
        away, _ = Team.objects.get_or_create(id=990_002, defaults={"name": "Bench Away"})
        card = Betcard.objects.create(
            code=CODE,
            name="Million-ticket benchmark",
            currency="KES",
            price=5_000,
            prize=100_000_000,
            bonus_prizes=[10_000_000, 5_000_000, 1_000_000, 100_000],
            opens_at=timezone.now() - dt.timedelta(days=7),
            status=BetcardStatus.CLOSED,
        )
        for position in range(1, EVENTS + 1):
            event_id = FIRST_EVENT + position - 1
            event, _ = Event.objects.get_or_create(
                id=event_id,
                defaults={
                    "home_team": home,
                    "away_team": away,
                    "starts_at": timezone.now() - dt.timedelta(days=1),
                },
            )
            market, _ = Market.objects.get_or_create(
                id=event_id * 10, defaults={"event": event, "name": "1X2"}
            )
            for offset, name in enumerate("1X2"):
                Bet.objects.get_or_create(
                    id=event_id * 10 + offset,
                    defaults={"market": market, "name": name, "odds": Decimal("2.5")},
                )
            BetcardEvent.objects.create(betcard=card, event=event, position=position)
    with transaction.atomic(), connection.cursor() as cursor:
        # Bulk load: foreign-key triggers off (the rows are built consistent) and secondary
        # indexes rebuilt once at the end, from their definitions in the database.
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.tablename IN ('tickets_ticket', 'tickets_selection')
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
            """
        )
        secondary = cursor.fetchall()
        for name, _definition in secondary:
            cursor.execute(f'DROP INDEX "{name}"')
        # Ticket ids are time-ordered hex like the real ones; codes are 6 hex digits.
        cursor.execute(
            """
            INSERT INTO tickets_ticket (
                id, code, token, user_id, psp, price, stake, currency, ext_percent, ext_type,
                ext_amount, wht_percent, wht_amount, gross_payout, net_payout, source, type,
                status, result, approved, odds, prize, bonus_prizes, cancel_reason,
                needs_reconciliation, created_at, updated_at,
                betcard_id, operator_id
            )
            SELECT lpad(to_hex(extract(epoch FROM now())::bigint), 8, '0')
                       || lpad(to_hex(i), 16, '0'),
                   upper(lpad(to_hex(i), 6, '0')), 'player-' || i, '', 'mobile',
                   5000, 4444, 'KES', 12.5, 'inclusive', 556, 20, 0, 0, 0,
                   (ARRAY['desktop','mobile','ussd','android'])[1 + i %% 4], 'jackpot',
                   'open', 'pending', true, 1.0, %(prize)s, %(bonus)s::jsonb, '', false,
                   now(), now(), %(card)s, %(operator)s
            FROM generate_series(1, %(n)s) AS i
            """,
            {
                "n": tickets,
                "card": card.pk,
                "operator": operator.pk,
                "prize": card.prize,
                "bonus": json.dumps(card.bonus_prizes),
            },
        )
        # Picks: a hash of (ticket, event) chooses home/draw/away, one third each; about
        # 1 ticket in 3^12 has every scored event right.
        cursor.execute(
            """
            INSERT INTO tickets_selection (
                ticket_id, event_id, bet_id, odds_submitted, odds_accepted, result
            )
            SELECT t.id, e.event_id,
                   e.event_id * 10 + abs(hashtext(t.id || ':' || e.event_id)) %% 3,
                   2.5, 2.5, 'pending'
            FROM tickets_ticket t CROSS JOIN betcards_betcardevent e
            WHERE t.betcard_id = %(card)s AND e.betcard_id = %(card)s
            """,
            {"card": card.pk},
        )
        for _name, definition in secondary:
            cursor.execute(definition)
    with connection.cursor() as cursor:
        # As autovacuum would have done during the sales window.
        cursor.execute("VACUUM ANALYZE tickets_ticket")
        cursor.execute("VACUUM ANALYZE tickets_selection")
    return card


def results_enter(card: Betcard) -> None:
    for position in range(1, EVENTS + 1):
        event_id = FIRST_EVENT + position - 1
        market = Market.objects.get(pk=event_id * 10)
        void = position == EVENTS
        market_result_set(
            market=market,
            winning_bet=None if void else Bet.objects.get(pk=event_id * 10),
            void=void,
            source="admin",
        )


class PhaseTimer:
    """The settlement's progress callback: when each phase began, for a per-phase split."""

    def __init__(self, *, show: bool) -> None:
        self.started = time.perf_counter()
        self.begun: dict[str, float] = {}
        self.show = show

    def __call__(self, phase: str, done: int, total: int) -> None:
        self.begun.setdefault(phase, time.perf_counter())
        if self.show:
            print(f"\r{phase}: {done:,}/{total:,}", end="", file=sys.stderr, flush=True)

    def print(self, *, end: float) -> None:
        if self.show:
            print(file=sys.stderr)
        # A phase's first callback comes after its first batch: the split is approximate.
        starts = [("start (results, tiers)", self.started), *self.begun.items()]
        ends = [began for _, began in starts[1:]] + [end]
        for (phase, began), ended in zip(starts, ends, strict=True):
            print(f"  {phase:<46} {ended - began:8.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--close", action="store_true", help="also time ticket_closed")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    print(f"CPU calibration before: {calibration(os.environ['DATABASE_URL'])}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    started = time.perf_counter()
    previous_run_delete()
    started = step("delete the previous run's card", started)
    card = card_build(args.tickets)
    mark = step(f"build {args.tickets:,} tickets x {EVENTS} selections (SQL)", started)
    results_enter(card)

    phases = PhaseTimer(show=not args.no_progress)
    report = report_json(betcard_settle(betcard=card, progress=phases))
    settled = time.perf_counter()
    seconds = settled - mark
    step("settle_betcard BENCH1M", mark)
    phases.print(end=settled)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM tickets_webhookdelivery d JOIN tickets_ticket t "
            "ON t.id = d.ticket_id WHERE t.betcard_id = %s",
            [card.pk],
        )
        (webhooks,) = cursor.fetchone()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"tickets graded: {report['graded_now']:,} ({report['graded_now'] / seconds:,.0f}/s)")
    print(f"result webhooks queued: {webhooks:,}")
    print(f"peak memory of this process (RSS): {peak_mb:,.0f} MB")
    for tier in report["tiers"]:
        print(
            f"  tier {tier['misses']} misses: {tier['winners']:,} winners x {tier['share']:,}"
            f" + remainder {tier['remainder']:,} = {tier['amount']:,}"
        )
    print(
        f"won {report['won']:,}, lost {report['lost']:,}; gross {report['gross_payout']:,},"
        f" WHT {report['wht_amount']:,}, net {report['net_payout']:,}, "
        f"unbalanced {report['unbalanced']}"
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"CPU calibration after: {calibration(os.environ['DATABASE_URL'])}")
    if args.close:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE tickets_webhookdelivery d SET status = 'delivered', "
                "delivered_at = now() FROM tickets_ticket t "
                "WHERE t.id = d.ticket_id AND t.betcard_id = %s",
                [card.pk],
            )
        mark = time.perf_counter()
        closed = tickets_close_due(
            now=timezone.now() + dt.timedelta(days=2), batch_size=10_000, max_batches=10_000
        )
        step(f"ticket_closed for {closed:,} tickets", mark)


if __name__ == "__main__":
    main()
