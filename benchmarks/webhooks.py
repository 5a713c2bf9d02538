"""PAM webhook delivery speed: one Celery worker against the fake PAM (docs/webhooks.md).

What it does:

1. prepares a dedicated database (DATABASE_URL's database + `_bench_webhooks`, created and
   migrated when missing) with an operator whose webhook URL is a fake PAM
   (operators.fake_pam.FakePam) served from this process, and an open 3-event betcard;
   previous runs' tickets and webhooks are deleted;
2. starts one worker as production runs it, with DEBUG off and fresh secrets:
   `celery -A jackpot worker --pool prefork --concurrency N` (default 1; queue purged, no
   beat);
3. throughput: writes --webhooks tickets with a pending `ticket_create` each in one
   transaction, kicks them all as `delivery_enqueue` does after commit, and times until
   every row is `delivered`: webhooks delivered per second by the one worker;
4. latency: places --placements tickets one at a time through POST /be/tickets (signed,
   Django's test client in this process, so placement, commit and the after-commit kick
   are the real ones), paced at --rate per second (keep it below the measured throughput,
   or the queue grows and so does the latency), and measures for each the time from
   sending the request to the PAM receiving its `ticket_create`: median and p99.

    DATABASE_URL=... REDIS_URL=redis://127.0.0.1:6379/N .venv/bin/python benchmarks/webhooks.py \\
        [--webhooks 1000] [--placements 200] [--rate 5] [--concurrency 1] [--pam-delay-ms 0]

REDIS_URL should name a Redis database of your own: the worker purges its queue at start.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
OPERATOR_NAME = "bench-webhooks"
CARD_CODE = "BENCHHOOKS"
FIRST_EVENT = 980_001  # events, markets (id * 10) and bets (id * 10 + 0/1/2) of the card
EVENTS = 3
TEAMS = (980_001, 980_002)
ODDS = Decimal("2.15")
PRICE = 500


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- configuration
def bench_database_url(url: str) -> str:
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "jackpot"
    if not name.endswith("_bench_webhooks"):
        name += "_bench_webhooks"
    return urlunsplit(parts._replace(path="/" + name))


def environment(database_url: str, redis_url: str) -> dict[str, str]:
    """Production settings (DEBUG off, generated secrets) shared by this process and the
    worker: both must decrypt the operator's secret with the same key."""
    from cryptography.fernet import Fernet

    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "false",
        "DJANGO_READ_DOT_ENV_FILE": "false",
        "DJANGO_SETTINGS_MODULE": "jackpot.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "OPERATOR_SECRET_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "LOG_LEVEL": "WARNING",
    }


def database_create(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            say(f"created database {name}")


# ----------------------------------------------------------------------------- fixtures
def fixtures_prepare(pam_url: str) -> dict[str, Any]:
    """The operator (webhook URL: the fake PAM), a 3-event open card; no tickets."""
    from django.db import transaction
    from django.utils import timezone

    from betcards.models import (
        Bet,
        Betcard,
        BetcardEvent,
        BetcardStatus,
        BookmakerEvent,
        Event,
        Market,
        Team,
    )
    from operators.models import Operator
    from tickets.models import Selection, Ticket, WebhookDelivery

    now = timezone.now()
    secret = secrets.token_urlsafe(30)
    with transaction.atomic():
        operator, _ = Operator.objects.get_or_create(
            name=OPERATOR_NAME, defaults={"ext_percent": Decimal("12.5")}
        )
        operator.set_secret_key(secret)  # the encryption key is new for every run
        operator.webhook_url = pam_url
        operator.is_active = True
        operator.save()
        WebhookDelivery.objects.filter(operator=operator).delete()
        Selection.objects.filter(ticket__operator=operator).delete()
        Ticket.objects.filter(operator=operator).delete()
        home, _ = Team.objects.get_or_create(id=TEAMS[0], defaults={"name": "Bench Home"})
        away, _ = Team.objects.get_or_create(id=TEAMS[1], defaults={"name": "Bench Away"})
        card, _ = Betcard.objects.update_or_create(
            code=CARD_CODE,
            defaults={
                "name": "Webhook benchmark",
                "currency": "USD",
                "price": PRICE,
                "prize": 100_000,
                "bonus_prizes": [10_000],
                "opens_at": now - dt.timedelta(days=1),
                "closes_at": None,
                "status": BetcardStatus.OPEN,
            },
        )
        for position, event_id in enumerate(range(FIRST_EVENT, FIRST_EVENT + EVENTS), 1):
            event, _ = Event.objects.update_or_create(
                id=event_id,
                defaults={
                    "home_team": home,
                    "away_team": away,
                    "starts_at": now + dt.timedelta(days=30),
                },
            )
            BookmakerEvent.objects.get_or_create(
                event=event, defaults={"external_id": f"bench-hooks-{event_id}"}
            )
            market, _ = Market.objects.update_or_create(
                id=event_id * 10, defaults={"event": event, "name": "1X2", "is_blocked": False}
            )
            for offset, name in enumerate("1X2"):
                Bet.objects.update_or_create(
                    id=event_id * 10 + offset,
                    defaults={"market": market, "name": name, "odds": ODDS},
                )
            BetcardEvent.objects.get_or_create(
                betcard=card, event=event, defaults={"position": position}
            )
    return {"operator": operator, "card": card, "secret": secret}


def order(token: str) -> dict[str, Any]:
    return {
        "operator": OPERATOR_NAME,
        "token": token,
        "psp": None,
        "price": PRICE,
        "currency": "USD",
        "atag": None,
        "rtag": None,
        "source": "mobile",
        "type": "jackpot",
        "odds_diff": 0,
        "events": [
            {"id": event_id, "bet": event_id * 10, "odds": float(ODDS)}
            for event_id in range(FIRST_EVENT, FIRST_EVENT + EVENTS)
        ],
        "betcard_code": CARD_CODE,
        "prize": 100_000,
        "bonus_prizes": [10_000],
    }


# ----------------------------------------------------------------------------- worker
def worker_start(
    env: dict[str, str], log_path: Path, *, concurrency: int
) -> subprocess.Popen[bytes]:
    command = [
        *(sys.executable, "-m", "celery", "-A", "jackpot", "worker", "--pool", "prefork"),
        *("--concurrency", str(concurrency), "--loglevel", "INFO", "--purge"),
        *("--without-gossip", "--without-mingle", "--hostname", "bench-webhooks@%h"),
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
def wait_delivered(delivery_ids: list[int], *, timeout: float) -> float:
    """Poll until every row is delivered; return the time.time() it was seen."""
    from tickets.models import WebhookDelivery

    deadline = time.monotonic() + timeout
    while True:
        done = WebhookDelivery.objects.filter(pk__in=delivery_ids, status="delivered").count()
        if done == len(delivery_ids):
            return time.time()
        if time.monotonic() > deadline:
            sys.exit(f"only {done}/{len(delivery_ids)} webhooks delivered after {timeout} s")
        time.sleep(0.02)


def throughput_run(fixtures: dict[str, Any], count: int) -> dict[str, float]:
    from django.db import transaction
    from django.utils import timezone

    from tickets.models import Ticket, WebhookAttempt, WebhookDelivery
    from tickets.pam_outbox import delivery_kick
    from tickets.webhook_payloads import ticket_create_data, webhook_body

    operator, card = fixtures["operator"], fixtures["card"]
    now = timezone.now()
    tickets = [
        Ticket(
            id=f"{int(now.timestamp()):08x}{secrets.token_hex(8)}",
            code=secrets.token_hex(3).upper(),
            operator=operator,
            betcard=card,
            token=f"bench-{number}",
            price=PRICE,
            stake=444,
            currency="USD",
            ext_percent=Decimal("12.5"),
            ext_type="inclusive",
            ext_amount=56,
            wht_percent=Decimal(0),
            source="mobile",
            odds=Decimal("9.94"),
            prize=100_000,
            bonus_prizes=[10_000],
            created_at=now,
            updated_at=now,
        )
        for number in range(count)
    ]
    with transaction.atomic():
        Ticket.objects.bulk_create(tickets)
        deliveries = WebhookDelivery.objects.bulk_create(
            WebhookDelivery(
                ticket=ticket,
                operator=operator,
                action="ticket_create",
                dedupe_key="ticket_create",
                body=webhook_body("ticket_create", ticket_create_data(ticket)).decode(),
                next_attempt_at=now,
            )
            for ticket in tickets
        )
    ids = [delivery.pk for delivery in deliveries]
    started = time.time()
    for delivery_id in ids:
        delivery_kick(delivery_id)
    kicked = time.time()
    finished = wait_delivered(ids, timeout=120 + count / 10)
    latencies = list(
        WebhookAttempt.objects.filter(delivery_id__in=ids).values_list("latency_ms", flat=True)
    )
    return {
        "webhooks": count,
        "kick_seconds": kicked - started,
        "seconds": finished - started,
        "per_second": count / (finished - started),
        "attempts": len(latencies),
        "http_median_ms": statistics.median(latencies),
    }


def latency_run(fixtures: dict[str, Any], pam: Any, count: int, rate: float) -> dict[str, float]:
    from django.test import Client

    from operators.signing import signature

    client = Client()
    secret = fixtures["secret"]
    sent_at: dict[str, float] = {}
    placement_ms: list[float] = []
    interval = 1 / rate
    next_at = time.monotonic()
    for number in range(count + 5):  # the first 5 warm up and are not counted
        body = json.dumps(order(f"lat-{number}"), separators=(",", ":")).encode()
        stamp = str(int(time.time()))
        started_wall, started = time.time(), time.monotonic()
        response = client.generic(
            "POST",
            "/be/tickets",
            body,
            content_type="application/json",
            HTTP_TIMESTAMP=stamp,
            HTTP_OPERATOR_NAME=OPERATOR_NAME,
            HTTP_SIGNATURE=signature(secret, stamp, body),
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
        "p99_ms": lags[min(len(lags) - 1, round(0.99 * (len(lags) - 1)))],
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
    parser.add_argument("--concurrency", type=int, default=1, help="worker pool processes")
    parser.add_argument("--pam-delay-ms", type=int, default=0, help="fake PAM answer delay")
    args = parser.parse_args()

    database_url = bench_database_url(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/jackpot")
    )
    env = environment(database_url, os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    os.environ.update(env)
    database_create(database_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=BASE_DIR, env=os.environ, check=True
    )
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from operators.fake_pam import FakePam

    pam = FakePam(port=0, delay_ms=args.pam_delay_ms).start()
    fixtures = fixtures_prepare(pam.url)
    log_path = BASE_DIR / "var" / "bench-webhooks-worker.log"
    log_path.parent.mkdir(exist_ok=True)
    worker = worker_start(env, log_path, concurrency=args.concurrency)
    try:
        say(f"throughput: {args.webhooks} webhooks queued at once ...")
        throughput = throughput_run(fixtures, args.webhooks)
        say(f"latency: {args.placements} placements at {args.rate}/s ...")
        latency = latency_run(fixtures, pam, args.placements, args.rate)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        pam.stop()
    load = os.getloadavg()
    print(
        f"one worker (prefork, concurrency {args.concurrency}), "
        f"fake PAM delay {args.pam_delay_ms} ms, "
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f}\n"
        f"throughput: {throughput['webhooks']} webhooks delivered in "
        f"{throughput['seconds']:.2f} s = {throughput['per_second']:.0f} webhooks/s "
        f"({throughput['attempts']} attempts, HTTP median {throughput['http_median_ms']:.0f} ms,"
        f" kicking all took {throughput['kick_seconds']:.2f} s)\n"
        f"latency: {latency['placements']} placements at {latency['rate']:g}/s: POST sent -> "
        f"PAM got ticket_create median {latency['median_ms']:.0f} ms, "
        f"p99 {latency['p99_ms']:.0f} ms, max {latency['max_ms']:.0f} ms "
        f"(placement answer median {latency['placement_median_ms']:.0f} ms)"
    )


if __name__ == "__main__":
    main()
