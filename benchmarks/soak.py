"""Soak: does PAM delivery keep up with sales for ten minutes? (docs/performance.md § Soak)

Everything on one machine, as a new user would run it: the production web server
(`jackpot.serve` on the placement benchmark's database), one Celery worker with the
project's default pool (prefork, WORKER_CONCURRENCY processes, default 8) and beat, the
fake PAM served from this process, PostgreSQL, and --clients (default 4) clients placing
tickets back to back over keep-alive connections for --minutes (default 10).

Every minute of the run it reports:

- tickets placed per second that minute (does placement decay?);
- the lag from sale (the ticket's `created_at`, set in the placing transaction) to the
  PAM's receipt of its `ticket_create`, for that minute's tickets: median, p99, max
  (is delivery keeping up? the target is a p99 under 5 s);
- webhooks still pending at the minute's end (the backlog);
- resident memory of the web server's and of the worker's processes (is memory flat?).

The development PostgreSQL runs with autovacuum off; production has it on. The run applies
autovacuum's ANALYZE and VACUUM rules to the ticket and outbox tables from a thread
(`place_ticket.AutoAnalyze`): without them, placement slowed from 94 to 20 tickets/s over
ten minutes as the tables grew under plans made while they were empty.

With the machine's calibration figures and load average before and after.

    DATABASE_URL=... REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python benchmarks/soak.py [--minutes 10] [--clients 4] [--concurrency 8]

REDIS_URL should name a Redis database of your own: the worker purges its queue at start.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.calibration import calibration
from benchmarks.place_ticket import (
    AutoAnalyze,
    load_processes_results,
    load_processes_start,
    proc_children,
    say,
    server_start,
    server_stop,
    server_warm,
)
from benchmarks.webhooks import fake_pam_setup, percentile, worker_start

BASE_DIR = Path(__file__).resolve().parent.parent
LAG_TARGET_SECONDS = 5.0


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB (from /proc: same machine)."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        pids += proc_children(current)
    return total / 1024


def pending_count() -> int:
    from tickets.models import WebhookDelivery

    return WebhookDelivery.objects.filter(status="pending").count()


def lags_by_minute(pam: Any, since: dt.datetime, minutes: int) -> list[list[float]]:
    """Seconds from each ticket's sale to the PAM's receipt of its ticket_create, grouped by
    the minute of the run the ticket was sold in; a ticket never received counts as
    infinitely late."""
    from tickets.models import Ticket

    received = {
        request.ticket_id: request.received_at
        for request in pam.received
        if request.action == "ticket_create"
    }
    lags: list[list[float]] = [[] for _ in range(minutes)]
    for ticket_id, created_at in Ticket.objects.filter(created_at__gte=since).values_list(
        "id", "created_at"
    ):
        minute = int((created_at - since).total_seconds() // 60)
        if 0 <= minute < minutes:
            at = received.get(ticket_id)
            lags[minute].append(float("inf") if at is None else at - created_at.timestamp())
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4, help="placing clients")
    parser.add_argument("--concurrency", type=int, default=8, help="worker pool processes")
    parser.add_argument("--port", type=int, default=8093)
    args = parser.parse_args()

    bench = fake_pam_setup(redis_default="redis://127.0.0.1:6379/14")
    database_url, env, info, pam = bench.database_url, bench.env, bench.fixtures, bench.pam
    from django.db import connection
    from django.utils import timezone

    with connection.cursor() as cursor:  # what autovacuum would have done since the last run
        for table in AutoAnalyze.VACUUM_TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"CPU calibration before: {calibration(database_url)}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    logs = BASE_DIR / "var"
    logs.mkdir(exist_ok=True)
    worker = worker_start(
        {**env, "LOG_LEVEL": "INFO"},
        logs / "bench-soak-worker.log",
        pool="prefork",
        concurrency=args.concurrency,
        beat=True,
    )
    server = server_start("granian", args.port, env, logs / "bench-soak-server.log")
    minutes = args.minutes
    samples: list[dict[str, float]] = []
    # The development PostgreSQL runs with autovacuum off, production with it on.
    autovacuum = AutoAnalyze(database_url, vacuum=True)
    try:
        server_warm(args.port, info, 20)
        say(f"{args.clients} clients placing for {minutes} min ...")
        since = timezone.now()
        children = load_processes_start("engine", args.clients, target=args.port, info=info)
        started = time.monotonic()
        for _, pipe in children:
            pipe.send((started, started + minutes * 60.0))
        for minute in range(1, minutes + 1):
            time.sleep(max(0.0, started + 60 * minute - time.monotonic()))
            samples.append(
                {
                    "pending": pending_count(),
                    "web_mb": tree_rss_mb(server.pid),
                    "worker_mb": tree_rss_mb(worker.pid),
                    "load": os.getloadavg()[0],
                }
            )
            say(f"  minute {minute}: {samples[-1]}")
        total = load_processes_results(children)
        # The last minute's tickets get the time a delivery may take before they count.
        deadline = time.monotonic() + 60
        while pending_count() and time.monotonic() < deadline:
            time.sleep(0.5)
        lags = lags_by_minute(pam, since, minutes)
    finally:
        autovacuum.close()
        server_stop(server)
        worker.terminate()
        worker.wait(timeout=30)
        pam.stop()
    print(
        f"{args.clients} clients, web server jackpot.serve (granian), one worker prefork"
        f" {args.concurrency} + beat, fake PAM in the benchmark's process, {os.cpu_count()} CPUs;"
        f" autovacuum's rules applied: {autovacuum.count} ANALYZE, {autovacuum.vacuums} VACUUM;"
        f" {total.completed:,} tickets placed, {total.errors} errors"
        + (f" ({total.error_samples[:2]})" if total.errors else "")
    )
    print(
        f"{'minute':>6} {'placed/s':>9} {'lag median s':>12} {'lag p99 s':>10} {'lag max s':>10}"
        f" {'pending':>8} {'web MB':>7} {'worker MB':>9} {'load':>5}"
    )
    everything: list[float] = []
    for minute, (sample, lag) in enumerate(zip(samples, lags, strict=True), start=1):
        ordered = sorted(lag)
        everything += ordered
        shown = (
            f"{statistics.median(ordered):>12.2f} {percentile(ordered, 0.99):>10.2f}"
            f" {ordered[-1]:>10.2f}"
            if ordered
            else f"{'-':>12} {'-':>10} {'-':>10}"
        )
        print(
            f"{minute:>6} {len(lag) / 60:>9.1f} {shown} {sample['pending']:>8.0f}"
            f" {sample['web_mb']:>7.0f} {sample['worker_mb']:>9.0f} {sample['load']:>5.2f}"
        )
    everything.sort()
    if everything:
        p99 = percentile(everything, 0.99)
        verdict = "met" if p99 < LAG_TARGET_SECONDS else "NOT met"
        print(
            f"whole run: lag median {statistics.median(everything):.2f} s, p99 {p99:.2f} s"
            f" (target < {LAG_TARGET_SECONDS:g} s: {verdict}),"
            f" {sum(1 for lag in everything if lag == float('inf'))} never received"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"CPU calibration after: {calibration(database_url)}")


if __name__ == "__main__":
    main()
