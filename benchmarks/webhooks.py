"""PAM webhook delivery speed: one Celery worker against the fake PAM (docs/webhooks.md).

What it does:

1. prepares the placement benchmark's database and fixtures (benchmarks/place_ticket.py:
   DATABASE_URL's database + `_bench`, its operator and open 13-event card, tickets of
   earlier runs deleted) and points the operator's webhook URL at a fake PAM
   (operators.fake_pam.FakePam) served from this process;
2. starts one worker as production runs it, with DEBUG off and fresh secrets:
   `celery -A jackpot worker --pool P --concurrency N` (default: the pool and concurrency
   of docker-compose.yml; queue purged; beat only with --sweep);
3. throughput: writes --webhooks tickets with a pending `ticket_create` each in one
   transaction, kicks them all as `delivery_enqueue` does after commit, and times until
   every row is `delivered`: webhooks delivered per second by the one worker, and the CPU
   time per webhook of the worker's processes, of the PostgreSQL backends serving the
   bench database and of this process (the fake PAM and the polling). With
   --sweep the rows are written overdue and never kicked, as settlement leaves a large
   batch of result webhooks, and the worker runs beat: the outbox sweep hands them out
   (the first run comes up to PAM_OUTBOX_SWEEP_SECONDS after the worker starts). With
   --results the tickets are settled (alternately won and lost) and the rows are their
   `ticket_win`/`ticket_lost`, as settlement writes them (implies --sweep);
4. latency: places --placements tickets one at a time through POST /be/tickets (signed,
   Django's test client in this process, so placement, commit and the after-commit kick
   are the real ones), paced at --rate per second (keep it below the measured throughput,
   or the queue grows and so does the latency), and measures for each the time from
   sending the request to the PAM receiving its `ticket_create`: median and p99.

    DATABASE_URL=... REDIS_URL=redis://127.0.0.1:6379/N .venv/bin/python benchmarks/webhooks.py \\
        [--webhooks 1000] [--placements 200] [--rate 5] [--pool prefork] [--concurrency 8]
        [--sweep] [--results] [--analyze] [--autovacuum] [--requests-per-process N]
        [--pam-delay-ms 0]

It prints the machine's calibration figures (benchmarks/calibration.py) before and after.

REDIS_URL should name a Redis database of your own: the worker purges its queue at start.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.calibration import calibration
from benchmarks.place_ticket import (
    AutoAnalyze,
    CpuProbe,
    bench_database_url,
    cpu_used,
    fixtures_prepare,
    order_bytes,
    say,
    server_environment,
    signed_headers,
)

BASE_DIR = Path(__file__).resolve().parent.parent
WRITE_CHUNK = 20_000


# ----------------------------------------------------------------------------- setup
@dataclasses.dataclass(frozen=True)
class FakePamBench:
    database_url: str
    env: dict[str, str]
    fixtures: dict[str, Any]
    pam: Any


def fake_pam_setup(
    *, redis_default: str, delay_ms: int = 0, keep_last: int | None = None
) -> FakePamBench:
    """The placement benchmark's database (DATABASE_URL's + `_bench`: created, migrated,
    fixtures prepared, earlier tickets deleted) and a fake PAM served from this process that
    the operator's webhooks go to.

    `env` holds production settings (DEBUG off, fresh secrets) shared by this process, the
    web server and the worker (all must decrypt the operator's secret with the same key);
    kicks go to REDIS_URL, else `redis_default` (a worker purges its queue at start).
    """
    database_url = bench_database_url(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/jackpot")
    )
    env = server_environment(database_url)
    env["REDIS_URL"] = os.environ.get("REDIS_URL", redis_default)
    env["LOG_LEVEL"] = "WARNING"  # this process (the fake PAM logs every webhook at INFO)
    env["PAM_ALLOW_PRIVATE_URLS"] = "true"  # the fake PAM listens on 127.0.0.1
    os.environ.update(env)
    from devserver.embedded import postgres_ensure_database

    postgres_ensure_database(database_url)
    import django

    django.setup()
    from django.core.management import call_command

    from operators.fake_pam import FakePam
    from operators.models import Operator

    call_command("migrate", verbosity=0)
    fixtures = fixtures_prepare(existing_tickets=0)
    pam = FakePam(port=0, delay_ms=delay_ms, keep_last=keep_last).start()
    Operator.objects.filter(pk=fixtures["operator_id"]).update(webhook_url=pam.url)
    return FakePamBench(database_url, env, fixtures, pam)


def percentile(ordered: list[float], fraction: float) -> float:
    """The value at `fraction` of sorted values (nearest rank)."""
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# ----------------------------------------------------------------------------- worker
def worker_start(
    env: dict[str, str], log_path: Path, *, pool: str, concurrency: int, beat: bool
) -> subprocess.Popen[bytes]:
    command = [
        *(sys.executable, "-m", "celery", "-A", "jackpot", "worker", "--pool", pool),
        *("--concurrency", str(concurrency), "--loglevel", "INFO", "--purge"),
        *("--without-gossip", "--without-mingle", "--hostname", "bench-webhooks@%h"),
        *(("--beat", "--schedule", str(log_path.with_suffix(".beat"))) if beat else ()),
    ]
    log = log_path.open("wb")
    worker = subprocess.Popen(
        command, cwd=BASE_DIR, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while b" ready." not in log_path.read_bytes():
        if worker.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"worker did not start; see {log_path}")
        time.sleep(0.1)
    return worker


# ----------------------------------------------------------------------------- measurements
def wait_delivered(
    delivery_ids: list[int], *, timeout: float, on_poll: Callable[[], object] = lambda: None
) -> float:
    """Poll until every row is delivered; return the time.time() it was seen. The rows
    were written together (consecutive ids): counting by id range keeps this process's
    polling cheap (an `IN` of tens of thousands of ids took most of a core)."""
    from tickets.models import WebhookDelivery

    rows = WebhookDelivery.objects.filter(
        pk__gte=min(delivery_ids), pk__lte=max(delivery_ids), status="delivered"
    )
    deadline = time.monotonic() + timeout
    while True:
        done = rows.count()
        on_poll()
        if done >= len(delivery_ids):
            return time.time()
        if time.monotonic() > deadline:
            sys.exit(f"only {done}/{len(delivery_ids)} webhooks delivered after {timeout} s")
        # Counting costs the database: 0.2 s for a million rows, so poll less often.
        time.sleep(0.02 if len(delivery_ids) < 1000 else 0.25 if len(delivery_ids) < 100_000 else 2)


def throughput_run(
    fixtures: dict[str, Any],
    count: int,
    *,
    via_sweep: bool,
    results: bool,
    analyze: bool,
    probe: CpuProbe,
) -> dict[str, float]:
    import datetime as dt

    from django.conf import settings
    from django.db import transaction
    from django.db.models import Max, Min
    from django.utils import timezone

    from tickets.models import Ticket, WebhookAttempt, WebhookDelivery
    from tickets.outbox.payloads import TICKET_CREATE, TICKET_RESULT
    from tickets.outbox.queueing import pending_row
    from tickets.outbox.waking import WAKER

    order = fixtures["order"]
    now = timezone.now()
    # As placement writes them for the card's price (12.5 % inclusive excise), without
    # selections: delivery never reads them.
    # Distinct codes: random ones would collide within a few thousand (birthday bound).
    codes = secrets.SystemRandom().sample(range(16**6), count)
    webhook = TICKET_RESULT if results else TICKET_CREATE
    # Left to the sweep: already overdue, as if its kick had been lost.
    due = now - dt.timedelta(seconds=settings.PAM_OUTBOX_SWEEP_GRACE_SECONDS + 1)
    ids: list[int] = []
    with transaction.atomic():
        for start in range(0, count, WRITE_CHUNK):  # bounded memory for a million
            tickets = [
                Ticket(
                    id=f"{int(now.timestamp()):08x}{secrets.token_hex(8)}",
                    code=f"{codes[number]:06X}",
                    operator_id=fixtures["operator_id"],
                    betcard_id=fixtures["card_id"],
                    token=f"bench-{number}",
                    price=order["price"],
                    stake=4444,
                    currency=order["currency"],
                    ext_percent=Decimal("12.5"),
                    ext_type="inclusive",
                    ext_amount=556,
                    wht_percent=Decimal(20),
                    source="mobile",
                    odds=Decimal("20631.00"),
                    prize=order["prize"],
                    bonus_prizes=order["bonus_prizes"],
                    created_at=now,
                    updated_at=now,
                    **(
                        {"status": "closed", "result": "won" if number % 2 else "lost"}
                        if results
                        else {}
                    ),
                )
                for number in range(start, min(count, start + WRITE_CHUNK))
            ]
            Ticket.objects.bulk_create(tickets)
            rows = [pending_row(ticket=ticket, webhook=webhook) for ticket in tickets]
            for row in rows:
                row.next_attempt_at = due if via_sweep else now
            ids += [delivery.pk for delivery in WebhookDelivery.objects.bulk_create(rows)]
            if count > WRITE_CHUNK:
                say(f"  written {len(ids):,}/{count:,}")
    if analyze:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {WebhookDelivery._meta.db_table}")
    cpu_before, own_before = probe.sample(), sum(os.times()[:2])
    # Sampled at every poll and kept: a backend that ends during the run (the worker's
    # connections are recycled after CONN_MAX_AGE, 10 min) would take its CPU with it.
    cpu_seen = dict(cpu_before)
    started = time.time()
    for delivery_id in ids if not via_sweep else ():
        WAKER.publish([delivery_id])
    kicked = time.time()
    finished = wait_delivered(
        ids, timeout=120 + count / 10, on_poll=lambda: cpu_seen.update(probe.sample())
    )
    cpu_after, own_after = {**cpu_seen, **probe.sample()}, sum(os.times()[:2])
    in_run = {"pk__gte": ids[0], "pk__lte": ids[-1]}
    latencies = list(
        WebhookAttempt.objects.filter(
            delivery_id__gte=ids[0], delivery_id__lte=ids[-1]
        ).values_list("latency_ms", flat=True)
    )
    span = WebhookDelivery.objects.filter(**in_run).aggregate(
        first=Min("delivered_at"), last=Max("delivered_at")
    )
    return {
        "webhooks": count,
        "kick_seconds": kicked - started,
        "seconds": finished - started,
        "per_second": count / (finished - started),
        "first_after_seconds": span["first"].timestamp() - started,
        "span_per_second": count / max(0.001, (span["last"] - span["first"]).total_seconds()),
        "attempts": len(latencies),
        "http_median_ms": statistics.median(latencies),
        "worker_us": cpu_used(cpu_before, cpu_after, "srv") / count * 1e6,
        "database_us": cpu_used(cpu_before, cpu_after, "db") / count * 1e6,
        "own_us": (own_after - own_before) / count * 1e6,
    }


def latency_run(fixtures: dict[str, Any], pam: Any, count: int, rate: float) -> dict[str, float]:
    from django.test import Client

    client = Client()
    sent_at: dict[str, float] = {}
    placement_ms: list[float] = []
    interval = 1 / rate
    next_at = time.monotonic()
    for number in range(count + 5):  # the first 5 warm up and are not counted
        body = order_bytes(fixtures["order"], f"webhooks-{secrets.token_hex(6)}")
        headers = signed_headers(fixtures["operator"], fixtures["secret"], body)
        del headers["Content-Type"]
        started_wall, started = time.time(), time.monotonic()
        response = client.generic(
            "POST", "/be/tickets", body, content_type="application/json", headers=headers
        )
        if response.status_code != 200:
            sys.exit(f"placement failed: {response.status_code} {response.content[:300]!r}")
        if number >= 5:
            sent_at[response.json()["id"]] = started_wall
            placement_ms.append((time.monotonic() - started) * 1000)
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    deadline = time.monotonic() + 60
    while True:
        received = {
            request.ticket_id: request.received_at
            for request in pam.received
            if request.action == "ticket_create" and request.ticket_id in sent_at
        }
        if len(received) == len(sent_at) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if len(received) != len(sent_at):
        sys.exit(f"the PAM got {len(received)}/{len(sent_at)} placed tickets' webhooks")
    lags = sorted((received[ticket] - sent_at[ticket]) * 1000 for ticket in sent_at)
    return {
        "placements": count,
        "rate": rate,
        "median_ms": statistics.median(lags),
        "p99_ms": percentile(lags, 0.99),
        "max_ms": lags[-1],
        "placement_median_ms": statistics.median(placement_ms),
    }


# ----------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=1000, help="throughput batch size")
    parser.add_argument("--placements", type=int, default=200, help="latency sample size")
    parser.add_argument(
        "--rate", type=float, default=5.0, help="placements per second (below the throughput)"
    )
    parser.add_argument(
        "--pool", choices=["prefork", "threads"], default="prefork", help="worker pool"
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="worker pool processes or threads"
    )
    parser.add_argument(
        "--sweep", action="store_true", help="leave the rows to the outbox sweep (no kicks)"
    )
    parser.add_argument(
        "--results",
        action="store_true",
        help="settled tickets' ticket_win/ticket_lost instead of ticket_create (implies --sweep)",
    )
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="ANALYZE the delivery table once the rows are written (else its statistics "
        "are those of the last ANALYZE: autovacuum is off in development)",
    )
    parser.add_argument(
        "--autovacuum",
        action="store_true",
        help="apply autovacuum's ANALYZE and VACUUM rules while the rows are delivered, as a "
        "production database would (autovacuum is off in development)",
    )
    parser.add_argument("--pam-delay-ms", type=int, default=0, help="fake PAM answer delay")
    parser.add_argument(
        "--requests-per-process",
        type=int,
        help="the worker's PAM_REQUESTS_PER_PROCESS (default: the setting's)",
    )
    args = parser.parse_args()
    args.sweep = args.sweep or args.results

    # The latency run looks at its own few hundred webhooks, the throughput run at none: a
    # million kept requests (3 GB) slowed the fake PAM's answers (garbage collection).
    bench = fake_pam_setup(
        redis_default="redis://127.0.0.1:6379/0", delay_ms=args.pam_delay_ms, keep_last=10_000
    )
    env, fixtures, pam = bench.env, bench.fixtures, bench.pam
    if args.requests_per_process is not None:
        env["PAM_REQUESTS_PER_PROCESS"] = str(args.requests_per_process)
    from django.conf import settings

    at_once = env.get("PAM_REQUESTS_PER_PROCESS", settings.PAM_REQUESTS_PER_PROCESS)
    print(f"CPU calibration before: {calibration(bench.database_url)}", flush=True)
    log_path = BASE_DIR / "var" / "bench-webhooks-worker.log"
    log_path.parent.mkdir(exist_ok=True)
    worker = worker_start(
        env, log_path, pool=args.pool, concurrency=args.concurrency, beat=args.sweep
    )
    try:
        how = "left to the sweep" if args.sweep else "queued at once"
        what = "ticket_win/ticket_lost" if args.results else "ticket_create"
        say(f"throughput: {args.webhooks} {what} webhooks {how} ...")
        probe = CpuProbe(bench.database_url, worker.pid)
        autovacuum = AutoAnalyze(bench.database_url, vacuum=True) if args.autovacuum else None
        try:
            throughput = throughput_run(
                fixtures,
                args.webhooks,
                via_sweep=args.sweep,
                results=args.results,
                analyze=args.analyze,
                probe=probe,
            )
        finally:
            probe.close()
            if autovacuum is not None:
                autovacuum.close()
                say(f"autovacuum's rules: {autovacuum.count} ANALYZE, {autovacuum.vacuums} VACUUM")
        say(f"latency: {args.placements} placements at {args.rate}/s ...")
        latency = latency_run(fixtures, pam, args.placements, args.rate)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        pam.stop()
    load = os.getloadavg()
    print(f"CPU calibration after: {calibration(bench.database_url)}")
    sent = (
        f"the first delivered after {throughput['first_after_seconds']:.1f} s, then "
        f"{throughput['span_per_second']:.0f} webhooks/s"
        if args.sweep
        else f"kicking all took {throughput['kick_seconds']:.2f} s"
    )
    print(
        f"one worker ({args.pool}, concurrency {args.concurrency}, "
        f"{at_once} requests at once per process), fake PAM delay {args.pam_delay_ms} ms, "
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f}\n"
        f"throughput{' via the sweep' if args.sweep else ''}: {throughput['webhooks']} "
        f"{what} webhooks delivered in {throughput['seconds']:.2f} s = "
        f"{throughput['per_second']:.0f} webhooks/s ({throughput['attempts']} attempts, "
        f"HTTP median {throughput['http_median_ms']:.0f} ms, {sent})\n"
        f"CPU per webhook: worker {throughput['worker_us']:.0f} µs, PostgreSQL "
        f"{throughput['database_us']:.0f} µs, this process (fake PAM, polling) "
        f"{throughput['own_us']:.0f} µs\n"
        f"latency: {latency['placements']} placements at {latency['rate']:g}/s: POST sent -> "
        f"PAM got ticket_create median {latency['median_ms']:.0f} ms, "
        f"p99 {latency['p99_ms']:.0f} ms, max {latency['max_ms']:.0f} ms "
        f"(placement answer median {latency['placement_median_ms']:.0f} ms)"
    )


if __name__ == "__main__":
    main()
