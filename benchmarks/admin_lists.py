"""Back-office list pages with a million tickets: time and SQL count of each page.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jackpot_bench_admin \\
        .venv/bin/python benchmarks/admin_lists.py [--tickets 1000000] [--keep]

Fills the database (migrated first) with tickets and one webhook delivery each through
set-based SQL, runs ANALYZE as autovacuum would, then fetches every list page the staff use
(plain, filtered, searched, paged deep) through Django's test client as a superuser,
several times, and prints the median time and the number of SQL statements. With
`--keep` the rows stay for a later run; otherwise a run reuses what it finds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if not os.environ.get("DATABASE_URL"):
    sys.exit("Set DATABASE_URL to a database of your own: this writes a million tickets.")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jackpot.settings")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from betcards.models import Betcard, BetcardEvent  # noqa: E402
from operators.models import Operator  # noqa: E402
from tests.factories import BetcardFactory, OperatorFactory  # noqa: E402
from tickets.models import Ticket  # noqa: E402

SOURCES = ["desktop", "mobile", "android", "iphone", "ussd", "sms", "telegram", "app", "retail"]

FILL_SQL = """
INSERT INTO tickets_ticket (
    id, code, operator_id, betcard_id, token, user_id, psp, price, stake, currency,
    ext_percent, ext_type, ext_amount, wht_percent, wht_amount, gross_payout, net_payout,
    source, type, status, result, approved, odds, prize, bonus_prizes, cancel_reason,
    needs_reconciliation, created_at, updated_at)
SELECT
    lpad(to_hex(1700000000 + n * 5), 8, '0') || lpad(to_hex(n), 16, '0'),
    upper(lpad(to_hex(n), 6, '0')),
    (%(operators)s::bigint[])[1 + n %% cardinality(%(operators)s::bigint[])],
    (%(cards)s::bigint[])[1 + n %% cardinality(%(cards)s::bigint[])],
    'player-' || (n %% 200000), 'player-' || (n %% 200000), 'mobile', 500, 444, 'USD',
    12.5, 'inclusive', 56, 10, 0, 0, 0,
    (%(sources)s::text[])[1 + n %% 9], 'jackpot',
    CASE WHEN n %% 100 = 0 THEN 'cancelled' WHEN n %% 3 = 0 THEN 'closed' ELSE 'open' END,
    CASE WHEN n %% 100 = 0 THEN 'void' WHEN n %% 3 = 0 THEN 'lost' ELSE 'pending' END,
    n %% 100 <> 0, 9.26, 10000, '[2000, 1500, 1000]'::jsonb,
    CASE WHEN n %% 100 = 0 THEN 'pam_refused' ELSE '' END, false,
    to_timestamp(1700000000 + n * 5), to_timestamp(1700000000 + n * 5)
FROM generate_series(%(start)s, %(stop)s) AS n
"""

DELIVERY_SQL = """
INSERT INTO tickets_webhookdelivery (
    ticket_id, operator_id, action, dedupe_key, body, status, attempts_count,
    next_attempt_at, last_error, created_at, updated_at)
SELECT id, operator_id, 'ticket_create', 'ticket_create', '{}',
       CASE WHEN status = 'cancelled' THEN 'failed' ELSE 'delivered' END, 1,
       created_at, '', created_at, created_at
FROM tickets_ticket WHERE created_at >= to_timestamp(1700000000 + %(start)s * 5)
    AND created_at <= to_timestamp(1700000000 + %(stop)s * 5)
"""


def fill(total: int) -> None:
    have = Ticket.objects.count()
    if have >= total:
        print(f"{have:,} tickets already there")
        return
    operators = [op.pk for op in Operator.objects.all()[:3]] or [
        op.pk for op in OperatorFactory.create_batch(3)
    ]
    cards = [card.pk for card in Betcard.objects.filter(card_events__isnull=False).distinct()[:5]]
    if not cards:
        cards = [card.pk for card in BetcardFactory.create_batch(5, events=3)]
    started = time.perf_counter()
    step = 100_000
    for start in range(have + 1, total + 1, step):
        stop = min(start + step - 1, total)
        params: dict[str, Any] = {
            "operators": operators,
            "cards": cards,
            "sources": SOURCES,
            "start": start,
            "stop": stop,
        }
        with connection.cursor() as cursor:
            cursor.execute(FILL_SQL, params)
            cursor.execute(DELIVERY_SQL, params)
        print(f"  {stop:,} tickets ({time.perf_counter() - started:.0f} s)", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_ticket; ANALYZE tickets_webhookdelivery")


def measure(client: Client, url: str, runs: int = 5) -> tuple[float, int]:
    client.get(url)
    timings = []
    queries = 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        queries = len(captured.captured_queries)
    return statistics.median(timings), queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    fill(args.tickets)
    setup_test_environment()
    user = User.objects.filter(username="bench-root").first() or User.objects.create_superuser(
        "bench-root", "bench@example.com", "bench-password-1"
    )
    client = Client()
    client.force_login(user)
    ticket = Ticket.objects.order_by("-created_at").first()
    assert ticket is not None
    card_id = BetcardEvent.objects.values_list("betcard_id", flat=True).first()
    pages = {
        "tickets, first page": "/admin/tickets/ticket/",
        "tickets, page 100": "/admin/tickets/ticket/?p=100",
        "tickets, status=cancelled": "/admin/tickets/ticket/?status__exact=cancelled",
        "tickets, result=lost": "/admin/tickets/ticket/?result__exact=lost",
        "tickets, source=ussd": "/admin/tickets/ticket/?source=ussd",
        "tickets, operator": f"/admin/tickets/ticket/?operator__id__exact={ticket.operator_id}",
        "tickets, betcard + status": (
            f"/admin/tickets/ticket/?betcard__id__exact={card_id}&status__exact=open"
        ),
        "tickets, created past 7 days": "/admin/tickets/ticket/?created_at__gte=2023-12-01",
        "tickets, search code": f"/admin/tickets/ticket/?q={ticket.code}",
        "tickets, search id": f"/admin/tickets/ticket/?q={ticket.pk}",
        "tickets, search token": "/admin/tickets/ticket/?q=player-4242",
        "ticket page": f"/admin/tickets/ticket/{ticket.pk}/change/",
        "deliveries, first page": "/admin/tickets/webhookdelivery/",
        "deliveries, status=failed": "/admin/tickets/webhookdelivery/?status__exact=failed",
        "betcards (live figures)": "/admin/betcards/betcard/",
        "betcard page (live figures)": f"/admin/betcards/betcard/{card_id}/change/",
    }
    total = Ticket.objects.count()
    print(f"\n{total:,} tickets; median of 5 runs per page")
    print(f"{'page':<32} {'ms':>8} {'queries':>8}")
    for label, url in pages.items():
        ms, queries = measure(client, url)
        print(f"{label:<32} {ms:>8.1f} {queries:>8}", flush=True)


if __name__ == "__main__":
    main()
