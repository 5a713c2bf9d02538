"""Ticket placement speed: the engine under its production server against a raw-SQL baseline.

What it does (docs/performance.md has the figures and how to read them):

1. prepares a dedicated database (default: DATABASE_URL's database + `_bench`, created and
   migrated when missing) with its own operator and an open 13-event betcard whose events
   start in 30 days, and with `--existing-tickets` tickets already sold (set-based SQL:
   tickets, 13 selections each and a delivered `ticket_create` row each);
2. starts the engine with its production server settings: `python -m jackpot.serve`
   (granian, jackpot.rsgi), DEBUG=false and freshly generated secrets, on 127.0.0.1:--port
   (`--server gunicorn`: gunicorn gthread, cores+1 workers x 4 threads, for comparison).
   The WSGI app is wrapped by benchmarks/bench_wsgi.py, which only adds an `X-Queries`
   response header (SQL statements Django ran for the request);
3. for each concurrency level, from separate load processes with one keep-alive HTTP
   connection per client thread, sends signed 13-event placements (a unique token each)
   for --duration seconds after a warm-up, and then runs the baseline: the same statements
   a placement runs, as one psycopg transaction with prepared statements, at the same
   concurrency; and the second baseline, the same statements from pgbench
   (benchmarks/pgbench_baseline.py; --no-pgbench skips it);
   Beside each level's placements, the Bet Card API's card read is run at the same
   concurrency: GET /bc/jackpots/{code} of the 13-event card (3 markets x 3 bets each),
   once plain (200 and the body) and once as a poller holding the current ETag (304);
4. prints requests/s, median and p99 latency, queries per request, the load generator's CPU,
   the server's and PostgreSQL's CPU per request, the engine/baseline ratio and each card
   read's server CPU as a share of a placement's; a CPU calibration figure before and after
   (a pure-Python loop and pgbench's select-only run);
   exits 1 on any error or timeout.

    python -m devserver exec -- python benchmarks/place_ticket.py \\
        [--concurrency 1,8,32] [--duration 10] [--existing-tickets 0|1000000] [--port 18700]
        [--no-card-reads] [--no-baseline] [--no-pgbench] [--rate-limit N] [--player-limits]

The server is tuned through its variables (WEB_WORKERS, WEB_THREADS; GUNICORN_WORKERS,
GUNICORN_THREADS), which this script passes through.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import hmac
import http.client
import json
import multiprocessing
import multiprocessing.connection
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
CARD_CODE = "BENCHPLACE"
OPERATOR_NAME = "bench-placement"
EVENTS = 13
FIRST_EVENT = 970_001  # events, markets (id * 10) and bets (id * 10 + 0/1/2) of the card
HOME_TEAM, AWAY_TEAM = 970_001, 970_002
ODDS = Decimal("2.15")
EXTRA_MARKETS = (
    ("Both teams score", ("Yes", "No", "Void")),
    ("Goals 2.5", ("Over", "Under", "Exact")),
)
PRICE, PRIZE, BONUS = 5_000, 100_000_000, [10_000_000, 1_000_000]
# Seeded tickets have ids time-prefixed before 2025-01-01; tickets placed by a run come after.
SEED_EPOCH = 1_704_067_200  # 2024-01-01
SEED_BOUNDARY = f"{1_735_689_600:08x}"  # 2025-01-01
HTTP_TIMEOUT = 10.0
CODE_ATTEMPTS = 5  # the engine's TICKET_CODE_ATTEMPTS default
LOAD_PROCESSES_MAX = 4


# ----------------------------------------------------------------------------- configuration
def bench_database_url(url: str) -> str:
    """DATABASE_URL with `_bench` appended to its database name (unless already there)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "jackpot"
    if not name.endswith("_bench"):
        name += "_bench"
    return urlunsplit(parts._replace(path="/" + name))


def server_environment(database_url: str) -> dict[str, str]:
    """Production settings: DEBUG off, generated secrets, the bench database."""
    from cryptography.fernet import Fernet

    return {
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "DJANGO_READ_DOT_ENV_FILE": "false",
        "DJANGO_SETTINGS_MODULE": "jackpot.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "OPERATOR_SECRET_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }


def bench_redis_url(url: str) -> str:
    """The same Redis server, database 15: the run's Celery kicks land there, not in the
    queue of a worker that serves another database, and are dropped at the end."""
    return urlunsplit(urlsplit(url)._replace(path="/15"))


# ----------------------------------------------------------------------------- fixtures
def fixtures_prepare(
    existing_tickets: int,
    *,
    rate_limit: int = 0,
    max_tickets_per_player: int | None = None,
    max_daily_spend: int | None = None,
) -> dict[str, Any]:
    """Operator, teams, 13 events with 1X2 markets, the open card; N seeded tickets.

    The operator's limits (contract § Limits) are off unless given: a benchmark that sends
    thousands of requests a second would otherwise measure 429 answers.
    Returns what the load processes need: operator name and plain secret, and the order.
    """
    from django.db import connection, transaction
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

    secret = secrets.token_urlsafe(30)
    now = timezone.now()
    with transaction.atomic():
        operator, _ = Operator.objects.get_or_create(
            name=OPERATOR_NAME,
            defaults={
                "webhook_url": "http://127.0.0.1:9/pam",
                "ext_percent": Decimal("12.5"),
                "wht_percent": Decimal(20),
                "currencies": ["KES"],
            },
        )
        operator.set_secret_key(secret)  # the encryption key is new for every run
        operator.is_active = True
        operator.rate_limit = rate_limit
        operator.max_tickets_per_player = max_tickets_per_player
        operator.max_daily_spend = max_daily_spend
        operator.save()
        home, _ = Team.objects.get_or_create(id=HOME_TEAM, defaults={"name": "Bench Home"})
        away, _ = Team.objects.get_or_create(id=AWAY_TEAM, defaults={"name": "Bench Away"})
        card, _ = Betcard.objects.update_or_create(
            code=CARD_CODE,
            defaults={
                "name": "Placement benchmark",
                "operator": None,
                "currency": "KES",
                "price": PRICE,
                "prize": PRIZE,
                "bonus_prizes": BONUS,
                "min_events": None,
                "opens_at": now - dt.timedelta(days=1),
                "closes_at": None,
                "status": BetcardStatus.OPEN,
            },
        )
        for position in range(1, EVENTS + 1):
            event_id = FIRST_EVENT + position - 1
            event, _ = Event.objects.update_or_create(
                id=event_id,
                defaults={
                    "home_team": home,
                    "away_team": away,
                    "starts_at": now + dt.timedelta(days=30),
                },
            )
            BookmakerEvent.objects.get_or_create(
                event=event, defaults={"external_id": f"bench-{event_id}"}
            )
            market, _ = Market.objects.update_or_create(
                id=event_id * 10, defaults={"event": event, "name": "1X2", "is_blocked": False}
            )
            for offset, name in enumerate("1X2"):
                Bet.objects.update_or_create(
                    id=event_id * 10 + offset,
                    defaults={"market": market, "name": name, "odds": ODDS},
                )
            # Two more markets of three bets (the card the Bet Card API serves: 13 x 3 x 3).
            for number, (name, bets) in enumerate(EXTRA_MARKETS, start=1):
                extra, _ = Market.objects.update_or_create(
                    id=event_id * 10 + number,
                    defaults={"event": event, "name": name, "is_blocked": False},
                )
                for offset, bet_name in enumerate(bets):
                    Bet.objects.update_or_create(
                        id=extra.pk * 100 + offset,
                        defaults={"market": extra, "name": bet_name, "odds": ODDS + offset},
                    )
            BetcardEvent.objects.get_or_create(
                betcard=card, event=event, defaults={"position": position}
            )
    with connection.cursor() as cursor:
        tickets_reset(cursor, existing_tickets, card_id=card.pk, operator_id=operator.pk)
    order = {
        "operator": OPERATOR_NAME,
        "token": "",
        "psp": None,
        "price": PRICE,
        "currency": "KES",
        "atag": None,
        "rtag": None,
        "source": "mobile",
        "type": "jackpot",
        "odds_diff": 0,
        "events": [
            {"id": event_id, "bet": event_id * 10 + event_id % 3, "odds": float(ODDS)}
            for event_id in range(FIRST_EVENT, FIRST_EVENT + EVENTS)
        ],
        "betcard_code": CARD_CODE,
        "prize": PRIZE,
        "bonus_prizes": BONUS,
    }
    return {
        "operator": OPERATOR_NAME,
        "operator_id": operator.pk,
        "card_id": card.pk,
        "secret": secret,
        "order": order,
    }


def tickets_reset(cursor: Any, existing: int, *, card_id: int, operator_id: int) -> None:
    """Leave exactly `existing` seeded tickets and none placed by an earlier run."""
    cursor.execute(
        "SELECT count(*) FROM tickets_ticket WHERE id < %s AND betcard_id = %s",
        [SEED_BOUNDARY, card_id],
    )
    (seeded,) = cursor.fetchone()
    cursor.execute("SELECT count(*) FROM tickets_ticket")
    (total,) = cursor.fetchone()
    if seeded != existing:
        say(f"seeding {existing:,} tickets (was {seeded:,}) ...")
        started = time.monotonic()
        cursor.execute(
            "TRUNCATE tickets_writereceipt, tickets_webhookattempt, tickets_webhookdelivery,"
            " tickets_selection, tickets_ticket CASCADE"
        )
        if existing:
            tickets_seed(cursor, existing, card_id=card_id, operator_id=operator_id)
        say(f"seeded in {time.monotonic() - started:.0f} s")
    elif total != seeded:
        say(f"deleting {total - seeded:,} tickets placed by an earlier run ...")
        for sql in (
            "DELETE FROM tickets_writereceipt WHERE ticket_id >= %s",
            "DELETE FROM tickets_webhookattempt WHERE delivery_id IN (SELECT id FROM"
            " tickets_webhookdelivery WHERE ticket_id >= %s)",
            "DELETE FROM tickets_webhookdelivery WHERE ticket_id >= %s",
            "DELETE FROM tickets_selection WHERE ticket_id >= %s",
            "DELETE FROM tickets_ticket WHERE id >= %s",
        ):
            cursor.execute(sql, [SEED_BOUNDARY])
    for table in ("tickets_ticket", "tickets_selection", "tickets_webhookdelivery"):
        cursor.execute(f"VACUUM ANALYZE {table}")


def tickets_seed(cursor: Any, count: int, *, card_id: int, operator_id: int) -> None:
    """`count` open tickets on the card, as placement writes them, in set-based SQL.

    Ids: 8 hex digits of a 2024 creation time + 16 hex digits; codes: 6 upper-case hex
    digits (valid codes, so a placed ticket's random code can collide with one, as in
    production); 13 selections each and a delivered ticket_create webhook row.
    """
    cursor.execute(
        """
        INSERT INTO tickets_ticket (
            id, code, token, user_id, psp, price, stake, currency, ext_percent, ext_type,
            ext_amount, wht_percent, wht_amount, aff_comm_percent, aff_comm_amount,
            gross_payout, net_payout, atag, rtag, source, type, status, result, approved,
            odds, prize, bonus_prizes, cancel_reason, needs_reconciliation,
            created_at, updated_at, betcard_id, operator_id
        )
        SELECT lpad(to_hex(%(epoch)s + i / 100), 8, '0') || lpad(to_hex(i), 16, '0'),
               upper(lpad(to_hex(i), 6, '0')), 'seed-' || i, '', NULL,
               5000, 4444, 'KES', 12.5, 'inclusive', 556, 20, 0, NULL, 0, 0, 0,
               NULL, NULL, 'mobile', 'jackpot', 'open', 'pending', true, 20631.0,
               %(prize)s, %(bonus)s::jsonb, '', false,
               to_timestamp(%(epoch)s + i / 100), to_timestamp(%(epoch)s + i / 100),
               %(card)s, %(operator)s
        FROM generate_series(1, %(n)s) AS i
        """,
        {
            "n": count,
            "epoch": SEED_EPOCH,
            "card": card_id,
            "operator": operator_id,
            "prize": PRIZE,
            "bonus": json.dumps(BONUS),
        },
    )
    cursor.execute(
        """
        INSERT INTO tickets_selection (
            ticket_id, event_id, bet_id, odds_submitted, odds_accepted, result
        )
        SELECT t.id, e.event_id, e.event_id * 10 + abs(hashtext(t.id || e.event_id)) %% 3,
               2.15, 2.15, 'pending'
        FROM tickets_ticket t CROSS JOIN betcards_betcardevent e
        WHERE t.betcard_id = %(card)s AND e.betcard_id = %(card)s
        ORDER BY t.id, e.position
        """,
        {"card": card_id},
    )
    cursor.execute(
        """
        INSERT INTO tickets_webhookdelivery (
            ticket_id, operator_id, action, dedupe_key, body, status, attempts_count,
            next_attempt_at, last_error, created_at, updated_at, delivered_at
        )
        SELECT t.id, t.operator_id, 'ticket_create', 'ticket_create',
               '{"action":"ticket_create","data":{"id":"' || t.id || '","code":"'
                   || t.code || '"}}',
               'delivered', 1, t.created_at, '', t.created_at, t.created_at, t.created_at
        FROM tickets_ticket t WHERE t.betcard_id = %(card)s
        """,
        {"card": card_id},
    )


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- one request
def order_bytes(order: dict[str, Any], token: str) -> bytes:
    return json.dumps({**order, "token": token}, separators=(",", ":")).encode()


def signed_headers(operator: str, secret: str, body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).hexdigest()
    return {
        "timestamp": stamp,
        "operator-name": operator,
        "signature": digest,
        "Content-Type": "application/json",
    }


def placement_sql(info: dict[str, Any]) -> list[str]:
    """The SQL one placement runs, captured in-process with Django's test client."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    body = order_bytes(info["order"], "bench-capture-" + secrets.token_hex(4))
    headers = signed_headers(info["operator"], info["secret"], body)
    client = Client()
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            "/be/tickets", body, content_type="application/json", headers=headers
        )
    if response.status_code != 200:
        raise SystemExit(
            f"placement failed in-process: {response.status_code} {response.content!r}"
        )
    return [query["sql"] for query in captured.captured_queries]


# ----------------------------------------------------------------------------- the baseline
# The statements a placement runs (benchmarks/place_ticket.py --show-sql prints the engine's),
# in one transaction with server-side prepared statements: operator (authentication), card,
# its events, the chosen bets FOR SHARE, the ticket, its 13 selections in one INSERT and the
# ticket_create outbox row.
BASELINE_SQL = {
    "operator": (
        "SELECT id, name, secret_key_encrypted, webhook_url, timezone, ext_percent, ext_type,"
        " wht_percent, currencies, aff_comm_percent, is_active, created_at, updated_at"
        " FROM operators_operator WHERE name = %s ORDER BY id LIMIT 1"
    ),
    "card": (
        "SELECT id, operator_id, status, currency, price, prize, bonus_prizes, min_events,"
        " opens_at, closes_at FROM betcards_betcard WHERE code = %s ORDER BY id LIMIT 1"
    ),
    "events": (
        "SELECT ce.event_id, e.starts_at, e.home_team_id, h.is_active, e.away_team_id,"
        " a.is_active, bm.id FROM betcards_betcardevent ce"
        " JOIN betcards_event e ON e.id = ce.event_id"
        " JOIN betcards_team h ON h.id = e.home_team_id"
        " JOIN betcards_team a ON a.id = e.away_team_id"
        " LEFT JOIN betcards_bookmakerevent bm ON bm.event_id = e.id"
        " WHERE ce.betcard_id = %s ORDER BY ce.position"
    ),
    "bets": (
        "SELECT b.id, b.odds, m.id, m.event_id, m.is_blocked FROM betcards_bet b"
        " JOIN betcards_market m ON m.id = b.market_id WHERE b.id = ANY(%s)"
        " FOR SHARE OF b, m"
    ),
    "ticket": (
        "INSERT INTO tickets_ticket (id, code, operator_id, betcard_id, token, user_id, psp,"
        " price, stake, currency, ext_percent, ext_type, ext_amount, wht_percent, wht_amount,"
        " gross_payout, net_payout, aff_comm_percent, aff_comm_amount, atag, rtag, source,"
        " type, status, result, approved, odds, prize, bonus_prizes, misses,"
        " pam_confirmed_at, cancel_reason, needs_reconciliation, reference,"
        " created_at, updated_at, settled_at,"
        " settlement_round, closed_at) VALUES (%s, %s, %s, %s, %s, '', NULL, 5000, 4444,"
        " 'KES', 12.50, 'inclusive', 556, 20.00, 0, 0, 0, NULL, NULL, NULL, NULL, 'mobile',"
        " 'jackpot', 'open', 'pending', true, %s, %s, %s::jsonb, NULL, NULL, '', false, NULL,"
        " %s, %s, NULL, NULL, NULL)"
    ),
    "selections": (
        "INSERT INTO tickets_selection (ticket_id, event_id, bet_id, odds_submitted,"
        " odds_accepted, result) SELECT * FROM UNNEST(%s::varchar[], %s::bigint[],"
        " %s::bigint[], %s::numeric[], %s::numeric[], %s::varchar[]) RETURNING id"
    ),
    "delivery": (
        "INSERT INTO tickets_webhookdelivery (ticket_id, operator_id, action, dedupe_key,"
        " body, status, attempts_count, next_attempt_at, lease_until, retry_deadline,"
        " delivered_at, last_error, created_at, updated_at) VALUES (%s, %s, 'ticket_create',"
        " 'ticket_create', %s, 'pending', 0, %s, NULL, NULL, NULL, '', %s, %s) RETURNING id"
    ),
}
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
WEBHOOK_DATA = {
    "operator": "",
    "ticket_id": "",
    "ticket_code": "",
    "player_id": "",
    "price": PRICE,
    "stake": 4444,
    "wht_amount": 0,
    "wht": 20.0,
    "ext_amount": 556,
    "ext": 12.5,
    "ext_type": "inclusive",
    "gross_payout": 0,
    "net_payout": 0,
    "currency": "KES",
    "atag": None,
    "rtag": None,
    "psp": None,
    "ticket_type": "jackpot",
    "reference": None,
}


def baseline_place(conn: psycopg.Connection[Any], info: dict[str, Any], token: str) -> None:
    """One placement's reads and writes as one transaction (prepared statements)."""
    order = info["order"]
    bet_ids = [pick["bet"] for pick in order["events"]]
    event_ids = [pick["id"] for pick in order["events"]]
    with conn.cursor() as cur:
        cur.execute(BASELINE_SQL["operator"], [info["operator"]], prepare=True)
        operator_id = cur.fetchone()[0]  # type: ignore[index]
        cur.execute(BASELINE_SQL["card"], [CARD_CODE], prepare=True)
        card_id = cur.fetchone()[0]  # type: ignore[index]
        cur.execute(BASELINE_SQL["events"], [card_id], prepare=True)
        cur.fetchall()
        cur.execute(BASELINE_SQL["bets"], [bet_ids], prepare=True)
        odds = [row[1] for row in cur.fetchall()]
        now = dt.datetime.now(dt.UTC)
        ticket_id = f"{int(now.timestamp()):08x}{secrets.token_hex(8)}"
        code = "".join(secrets.choice(_ALPHABET) for _ in range(6))
        combined = Decimal(1)
        for value in odds:
            combined *= value
        cur.execute(
            BASELINE_SQL["ticket"],
            [
                ticket_id,
                code,
                operator_id,
                card_id,
                token,
                combined.quantize(Decimal("0.01")),
                PRIZE,
                json.dumps(BONUS),
                now,
                now,
            ],
            prepare=True,
        )
        count = len(bet_ids)
        cur.execute(
            BASELINE_SQL["selections"],
            [
                [ticket_id] * count,
                event_ids,
                bet_ids,
                [ODDS] * count,
                odds,
                ["pending"] * count,
            ],
            prepare=True,
        )
        cur.fetchall()
        body = json.dumps(
            {
                "action": "ticket_create",
                "data": {
                    **WEBHOOK_DATA,
                    "operator": info["operator"],
                    "ticket_id": ticket_id,
                    "ticket_code": code,
                    "player_id": token,
                },
            },
            separators=(",", ":"),
        )
        cur.execute(
            BASELINE_SQL["delivery"], [ticket_id, operator_id, body, now, now, now], prepare=True
        )
        cur.fetchone()
    conn.commit()


# ----------------------------------------------------------------------------- load processes
@dataclasses.dataclass
class ClientResult:
    completed: int = 0
    errors: int = 0
    latencies: list[float] = dataclasses.field(default_factory=list)
    queries: Counter[int] = dataclasses.field(default_factory=Counter)
    error_samples: list[str] = dataclasses.field(default_factory=list)
    cpu_seconds: float = 0.0

    def merge(self, other: ClientResult) -> None:
        self.completed += other.completed
        self.errors += other.errors
        self.latencies += other.latencies
        self.queries.update(other.queries)
        self.error_samples += other.error_samples[: max(0, 5 - len(self.error_samples))]
        self.cpu_seconds += other.cpu_seconds


def _engine_client(
    port: int, info: dict[str, Any], tag: str, window: tuple[float, float], out: ClientResult
) -> None:
    """Placements over one keep-alive connection until the window's end."""
    template = order_bytes(info["order"], "@TOKEN@")
    prefix, suffix = template.split(b"@TOKEN@")

    def placement(number: int) -> tuple[str, str, bytes, dict[str, str]]:
        body = prefix + f"{tag}-{number}".encode() + suffix
        return "POST", "/be/tickets", body, signed_headers(info["operator"], info["secret"], body)

    _http_client(port, placement, 200, window, out)


def _card_client(
    port: int, info: dict[str, Any], tag: str, window: tuple[float, float], out: ClientResult
) -> None:
    """GET /bc/jackpots/{code} of the 13 x 3 x 3 card until the window's end; with
    `info["etag"]`, as a poller holding the current answer (If-None-Match: 304)."""
    path = f"/bc/jackpots/{CARD_CODE}"
    etag = info.get("etag")

    def read(_number: int) -> tuple[str, str, bytes, dict[str, str]]:
        headers = signed_headers(info["operator"], info["secret"], b"")
        if etag:
            headers["If-None-Match"] = etag
        return "GET", path, b"", headers

    _http_client(port, read, 304 if etag else 200, window, out)


def _http_client(
    port: int,
    request: Any,
    expected: int,
    window: tuple[float, float],
    out: ClientResult,
) -> None:
    """`request(n)` (method, path, body, headers) over one keep-alive connection until the
    window's end; answers other than `expected` are errors."""
    measure_from, deadline = window
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    number = 0
    while (started := time.monotonic()) < deadline:
        number += 1
        method, path, body, headers = request(number)
        try:
            conn.request(method, path, body or None, headers)
            response = conn.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as error:
            out.errors += 1
            out.error_samples.append(f"{type(error).__name__}: {error}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
            continue
        finished = time.monotonic()
        if response.status != expected:
            out.errors += 1
            out.error_samples.append(f"{response.status} {content[:300]!r}")
            continue
        if started >= measure_from and finished <= deadline:
            out.completed += 1
            out.latencies.append(finished - started)
            out.queries[int(response.getheader("X-Queries") or -1)] += 1
    conn.close()


def _baseline_place_retrying(
    conn: psycopg.Connection[Any], info: dict[str, Any], token: str
) -> None:
    """Like the engine, a ticket code collision (likely among a million seeded codes) is
    retried with a new code."""
    for _ in range(CODE_ATTEMPTS - 1):
        try:
            baseline_place(conn, info, token)
        except psycopg.errors.UniqueViolation as error:
            conn.rollback()
            if error.diag.constraint_name != "tickets_ticket_code_key":
                raise
        else:
            return
    baseline_place(conn, info, token)


def _baseline_client(
    dsn: str, info: dict[str, Any], tag: str, window: tuple[float, float], out: ClientResult
) -> None:
    measure_from, deadline = window
    with psycopg.connect(dsn, autocommit=False) as conn:
        number = 0
        while (started := time.monotonic()) < deadline:
            number += 1
            try:
                _baseline_place_retrying(conn, info, f"{tag}-{number}")
            except psycopg.Error as error:
                conn.rollback()
                out.errors += 1
                out.error_samples.append(f"{type(error).__name__}: {error}")
                continue
            finished = time.monotonic()
            if started >= measure_from and finished <= deadline:
                out.completed += 1
                out.latencies.append(finished - started)
        # Keep the backend until the CPU probe has read it at the window's end.
        time.sleep(0.5)


CLIENTS = {
    "engine": _engine_client,
    "card": _card_client,
    "card304": _card_client,
    "baseline": _baseline_client,
}


def load_process(
    kind: str, threads: int, target: Any, info: dict[str, Any], tag: str, pipe: Any
) -> None:
    """One load process: `threads` clients, each with its own connection."""
    pipe.send("ready")
    window = pipe.recv()
    client = CLIENTS[kind]
    results = [ClientResult() for _ in range(threads)]
    workers = [
        threading.Thread(target=client, args=(target, info, f"{tag}.{i}", window, results[i]))
        for i in range(threads)
    ]
    cpu_before = sum(os.times()[:2])
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    total = ClientResult(cpu_seconds=sum(os.times()[:2]) - cpu_before)
    for result in results:
        total.merge(result)
    pipe.send(total)


@dataclasses.dataclass
class LevelResult:
    kind: str
    concurrency: int
    duration: float
    client: ClientResult
    server_cpu: float = 0.0
    db_cpu: float = 0.0

    def per_ticket_ms(self, seconds: float) -> float:
        return 1000 * seconds / self.client.completed if self.client.completed else float("nan")

    @property
    def throughput(self) -> float:
        return self.client.completed / self.duration

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.client.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    @property
    def median(self) -> float:
        return (
            statistics.median(self.client.latencies) * 1000
            if self.client.latencies
            else float("nan")
        )

    @property
    def client_cpu_percent(self) -> float:
        return 100 * self.client.cpu_seconds / self.duration


class AutoAnalyze:
    """Autovacuum's ANALYZE rule for the ticket tables, applied every second from a thread.

    The development PostgreSQL runs with autovacuum off, a production one with it on. It
    matters here: a ticket table analyzed while empty makes every persistent connection plan
    its foreign-key checks on it (selections and outbox rows -> ticket) as sequential scans,
    and keep those plans while the table grows, until an ANALYZE invalidates them. With
    autovacuum on, that happens after 50 + 10 % rows changed; this does the same, so the
    empty-table figures are those of a production database, not of that artefact.

    With `vacuum`, autovacuum's VACUUM rule too (dead rows over 50 + 20 % of the table): a
    run of minutes (benchmarks/soak.py) updates the outbox rows several times each.
    """

    TABLES = ("tickets_ticket", "tickets_selection", "tickets_webhookdelivery")
    VACUUM_TABLES = (*TABLES, "tickets_webhookattempt")

    def __init__(self, dsn: str, *, vacuum: bool = False) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.vacuum = vacuum
        self.vacuums = 0
        self.stop = threading.Event()
        self.count = 0
        self.thread = threading.Thread(target=self._run, name="auto-analyze", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            rows = self.conn.execute(
                "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
                " WHERE s.relname = ANY(%s)"
                " AND s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)",
                [list(self.TABLES)],
            ).fetchall()
            for (table,) in rows:
                self.conn.execute(f"ANALYZE {table}")
                self.count += 1
            if not self.vacuum:
                continue
            rows = self.conn.execute(
                "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
                " WHERE s.relname = ANY(%s)"
                " AND s.n_dead_tup > 50 + 0.2 * greatest(c.reltuples, 0)",
                [list(self.VACUUM_TABLES)],
            ).fetchall()
            for (table,) in rows:
                self.conn.execute(f"VACUUM {table}")
                self.vacuums += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.conn.close()


class CpuProbe:
    """CPU seconds used so far by the engine's web server processes and by the PostgreSQL
    backends connected to the bench database (read from /proc: same machine)."""

    def __init__(self, dsn: str, server_pid: int | None) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.server_pid = server_pid

    def sample(self) -> dict[str, float]:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        sample = {f"db{pid}": _proc_cpu(pid) for (pid,) in rows}
        if self.server_pid is not None:
            for pid in [self.server_pid, *proc_children(self.server_pid)]:
                sample[f"srv{pid}"] = _proc_cpu(pid)
        return sample

    def close(self) -> None:
        self.conn.close()


def cpu_used(before: dict[str, float], after: dict[str, float], prefix: str) -> float:
    """CPU seconds between two samples; a process that appeared in between counts from 0."""
    return sum(
        value - before.get(key, 0.0) for key, value in after.items() if key.startswith(prefix)
    )


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_children(pid: int) -> list[int]:
    try:
        return [
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ]
    except OSError:
        return []


LoadProcesses = list[tuple[Any, Any]]
"""(process, its end of the pipe) of each load process."""


def load_processes_start(
    kind: str, concurrency: int, *, target: Any, info: dict[str, Any]
) -> LoadProcesses:
    """`concurrency` clients of `kind` in at most LOAD_PROCESSES_MAX processes, started and
    ready: send each pipe the (measure from, deadline) window to set them going."""
    context = multiprocessing.get_context("spawn")
    processes = min(concurrency, LOAD_PROCESSES_MAX)
    shares = [concurrency // processes + (i < concurrency % processes) for i in range(processes)]
    run_tag = secrets.token_hex(3)
    children = []
    for index, threads in enumerate(shares):
        parent_end, child_end = context.Pipe()
        process = context.Process(
            target=load_process,
            args=(kind, threads, target, info, f"{kind[0]}{run_tag}.{index}", child_end),
            daemon=True,
        )
        process.start()
        children.append((process, parent_end))
    for _, pipe in children:
        if pipe.recv() != "ready":
            raise SystemExit("a load process did not start")
    return children


def load_processes_results(children: LoadProcesses) -> ClientResult:
    """Every load process's results, merged, once they end."""
    total = ClientResult()
    for process, pipe in children:
        total.merge(pipe.recv())
        process.join()
    return total


def level_run(
    kind: str,
    concurrency: int,
    *,
    target: Any,
    info: dict[str, Any],
    duration: float,
    warmup: float,
    probe: CpuProbe,
) -> LevelResult:
    """Run `concurrency` clients of `kind` for warm-up + duration seconds."""
    children = load_processes_start(kind, concurrency, target=target, info=info)
    measure_from = time.monotonic() + warmup
    window = (measure_from, measure_from + duration)
    for _, pipe in children:
        pipe.send(window)
    time.sleep(max(0.0, window[0] - time.monotonic()))
    before = probe.sample()
    time.sleep(max(0.0, window[1] - time.monotonic()))
    after = probe.sample()
    total = load_processes_results(children)
    # CPU was measured over warm-up + duration: report it as a share of that time.
    total.cpu_seconds *= duration / (duration + warmup)
    return LevelResult(
        kind=kind,
        concurrency=concurrency,
        duration=duration,
        client=total,
        server_cpu=cpu_used(before, after, "srv"),
        db_cpu=cpu_used(before, after, "db"),
    )


# ----------------------------------------------------------------------------- the server
def server_command(server: str, port: int) -> tuple[list[str], dict[str, str]]:
    """The command and environment of the engine's web server, serving bench_wsgi."""
    if server == "gunicorn":
        workers = os.environ.get("GUNICORN_WORKERS", str((os.cpu_count() or 1) + 1))
        threads = os.environ.get("GUNICORN_THREADS", "4")
        command = [sys.executable, "-m", "gunicorn", "--worker-class", "gthread"]
        command += ["--workers", workers, "--threads", threads, "--bind", f"127.0.0.1:{port}"]
        return [*command, "benchmarks.bench_wsgi:application"], {}
    return [sys.executable, "-m", "jackpot.serve"], {
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_TARGET": "benchmarks.bench_wsgi:rsgi_application",
        "WEB_ACCESS_LOG": os.environ.get("WEB_ACCESS_LOG", "false"),
    }


def server_start(
    server: str, port: int, env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """The engine's web server (`server_command`) on 127.0.0.1:`port`."""
    if _port_open(port):
        raise SystemExit(f"port {port} is already in use: pick another with --port")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("wb")
    command, server_env = server_command(server, port)
    process = subprocess.Popen(
        command,
        cwd=BASE_DIR,
        env={**os.environ, **env, **server_env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not _port_open(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the web server did not start; see {log_path}")
        time.sleep(0.2)
    return process


def server_stop(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def server_warm(port: int, info: dict[str, Any], requests: int) -> None:
    """Sequential placements until every worker process had a chance to boot and answer."""
    deadline = time.monotonic() + 60
    done = 0
    while done < requests:
        body = order_bytes(info["order"], f"warm-{secrets.token_hex(6)}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
        try:
            conn.request(
                "POST", "/be/tickets", body, signed_headers(info["operator"], info["secret"], body)
            )
            response = conn.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException):
            content, status = b"", 0
        else:
            status = response.status
        finally:
            conn.close()
        if status == 200:
            done += 1
        elif time.monotonic() > deadline:
            raise SystemExit(f"the engine does not place tickets: {status} {content[:300]!r}")
        else:
            time.sleep(0.2)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def profile_start(
    server_pid: int, directory: Path, name: str, seconds: float
) -> subprocess.Popen[bytes]:
    """py-spy (dev dependency) sampling every web server process for the whole level.

    `--gil`: only the thread holding the GIL is sampled, so the profile shows where Python
    spends CPU (waits on PostgreSQL, Redis and the GIL itself are left out). The output is
    in collapsed-stack format (one stack and its sample count per line), readable by
    speedscope, flamegraph.pl or `py-spy`'s own tools.
    """
    directory.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).parent / "py-spy"),
        "record",
        "--pid",
        str(server_pid),
        "--subprocesses",
        "--gil",
        "--rate",
        "250",
        "--duration",
        str(int(seconds) + 1),
        "--format",
        "raw",
        "--output",
        str(directory / f"{name}.folded"),
    ]
    profiler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # attach before the load starts
    return profiler


def redis_queue_purge(url: str) -> None:
    """Drop the Celery messages the run's `ticket_create` kicks queued (no worker runs)."""
    import redis

    try:
        redis.Redis.from_url(url).delete("celery")
    except redis.RedisError as error:
        say(f"could not purge the Celery queue at {url}: {error}")


# ----------------------------------------------------------------------------- report
def row(result: LevelResult) -> str:
    queries = result.client.queries.most_common()
    shown = ",".join(str(q) for q, _ in queries) if queries else "-"
    return (
        f"{result.kind:<8} {result.concurrency:>4} {result.throughput:>10.1f}"
        f" {result.median:>9.2f} {result.percentile(0.99):>9.2f} {shown:>8}"
        f" {result.client.errors:>6} {result.client_cpu_percent:>9.0f}%"
        f" {result.per_ticket_ms(result.server_cpu):>8.2f}"
        f" {result.per_ticket_ms(result.db_cpu):>8.2f} {os.getloadavg()[0]:>6.2f}"
    )


HEADER = (
    f"{'what':<8} {'conc':>4} {'req/s':>10} {'median ms':>9} {'p99 ms':>9} {'queries':>8}"
    f" {'errors':>6} {'client CPU':>10} {'srv CPU':>8} {'db CPU':>8} {'load':>6}"
)
LEGEND = (
    "latency per request as the client sees it; queries: SQL statements Django ran per"
    " request (X-Queries; BEGIN/COMMIT not counted); client CPU: load generator, % of one"
    " core; srv CPU / db CPU: ms of CPU per request in the web server / in PostgreSQL backends;"
    " engine: a 13-event placement; card: GET /bc/jackpots/{code} (13 events x 3 markets x 3"
    " bets), card304: the same with a current If-None-Match; baseline: placement in raw SQL"
    " from Python (psycopg, prepared); pgbench: the same statements from pgbench (C, prepared)"
)
READS_LEGEND = (
    "card reads against the placements of the same level: server CPU per request as a share of"
    " a placement's (targets: card <= 1/3, card304 <= 1/10), p99 against placement's median"
)


def read_summary(placement: LevelResult, read: LevelResult) -> str:
    cpu_share = read.per_ticket_ms(read.server_cpu) / placement.per_ticket_ms(placement.server_cpu)
    return (
        f"{read.kind:<8} {read.concurrency:>4}  server CPU {cpu_share:>6.1%} of a placement's;"
        f" p99 {read.percentile(0.99):.2f} ms vs placement median {placement.median:.2f} ms"
    )


def card_etag(port: int, info: dict[str, Any]) -> str:
    """The card's current ETag, as a poller would hold it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    try:
        conn.request(
            "GET",
            f"/bc/jackpots/{CARD_CODE}",
            headers=signed_headers(info["operator"], info["secret"], b""),
        )
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"GET /bc/jackpots/{CARD_CODE}: {response.status}")
        return str(response.getheader("ETag"))
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated levels")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per level")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per level")
    parser.add_argument("--existing-tickets", type=int, default=0)
    parser.add_argument("--port", type=int, default=18700)
    parser.add_argument(
        "--server", choices=["granian", "gunicorn"], default="granian", help="web server"
    )
    parser.add_argument("--database-url", help="default: DATABASE_URL's database + _bench")
    parser.add_argument("--redis-url", help="default: REDIS_URL's server, database 15")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--no-pgbench",
        action="store_true",
        help="skip the second baseline (pgbench, the same statements from a C client)",
    )
    parser.add_argument("--no-engine", action="store_true")
    parser.add_argument(
        "--no-card-reads",
        action="store_true",
        help="skip the Bet Card API runs (GET /bc/jackpots/{code}, with and without ETag)",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=0,
        help="the operator's requests per second (default 0: none; a limit far above the load "
        "measures the counting alone)",
    )
    parser.add_argument(
        "--player-limits",
        action="store_true",
        help="give the operator per-player limits far above the load (tickets per card and "
        "daily spend): every placement takes the player's lock and counts",
    )
    parser.add_argument("--show-sql", action="store_true", help="print one placement's SQL")
    parser.add_argument(
        "--without-kick",
        action="store_true",
        help="diagnostic: the engine skips the Celery kick after commit",
    )
    parser.add_argument(
        "--profile", type=Path, help="write py-spy flame graphs of the engine per level here"
    )
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]

    database_url = args.database_url or bench_database_url(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/jackpot")
    )
    env = server_environment(database_url)
    if args.without_kick:
        env["BENCH_WITHOUT_KICK"] = "1"
    env["REDIS_URL"] = args.redis_url or bench_redis_url(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    os.environ.update(env)
    sys.path.insert(0, str(BASE_DIR))
    from devserver.console import redact
    from devserver.embedded import postgres_ensure_database

    postgres_ensure_database(database_url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    limits: dict[str, Any] = {"rate_limit": args.rate_limit}
    if args.player_limits:
        limits.update(max_tickets_per_player=1_000_000, max_daily_spend=10**15)
    info = fixtures_prepare(args.existing_tickets, **limits)
    statements = placement_sql(info)
    if args.show_sql:
        for sql in statements:
            print(sql)
    connections.close_all()

    load_before = os.getloadavg()
    print(
        f"database {redact(database_url)}, {args.existing_tickets:,} existing tickets;"
        f" {EVENTS}-event tickets; {args.duration:g} s per level after {args.warmup:g} s warm-up;"
        f" operator limits: rate {args.rate_limit or 'none'},"
        f" per player {'on (never reached)' if args.player_limits else 'none'}"
    )
    tuning = [f"{k}={v}" for k, v in os.environ.items() if k.startswith(("WEB_", "GUNICORN_"))]
    print(
        f"engine: {' '.join(server_command(args.server, args.port)[0][2:])} {' '.join(tuning)}"
        ", DEBUG=false;"
        f" one placement in-process: {len(statements)} SQL statements"
        " (BEGIN/COMMIT included, if any)"
    )
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load_before)}")
    from benchmarks import pgbench_baseline
    from benchmarks.calibration import calibration, pgbench_path

    use_pgbench = not args.no_pgbench and pgbench_path() is not None
    print(f"CPU calibration before: {calibration(database_url)}")
    print(LEGEND)
    print(HEADER)
    results: list[tuple[LevelResult | None, LevelResult | None]] = []
    reads: list[tuple[LevelResult, LevelResult]] = []  # (placement, card read) per level
    server = None
    analyzer = AutoAnalyze(database_url)
    try:
        if not args.no_engine:
            log = BASE_DIR / "var" / "bench" / f"{args.server}.log"
            server = server_start(args.server, args.port, env, log)
            server_warm(args.port, info, requests=20)
        probe = CpuProbe(database_url, server.pid if server is not None else None)
        for level in levels:
            engine = baseline = None
            if server is not None:
                profiler = (
                    profile_start(
                        server.pid, args.profile, f"engine-c{level}", args.warmup + args.duration
                    )
                    if args.profile
                    else None
                )
                engine = level_run(
                    "engine",
                    level,
                    target=args.port,
                    info=info,
                    duration=args.duration,
                    warmup=args.warmup,
                    probe=probe,
                )
                if profiler is not None:
                    profiler.wait()
                print(row(engine), flush=True)
                if not args.no_card_reads:
                    for kind, card_info in (
                        ("card", info),
                        ("card304", {**info, "etag": card_etag(args.port, info)}),
                    ):
                        profiler = (
                            profile_start(
                                server.pid,
                                args.profile,
                                f"{kind}-c{level}",
                                args.warmup + args.duration,
                            )
                            if args.profile
                            else None
                        )
                        read = level_run(
                            kind,
                            level,
                            target=args.port,
                            info=card_info,
                            duration=args.duration,
                            warmup=args.warmup,
                            probe=probe,
                        )
                        if profiler is not None:
                            profiler.wait()
                        print(row(read), flush=True)
                        reads.append((engine, read))
            if not args.no_baseline:
                baseline = level_run(
                    "baseline",
                    level,
                    target=database_url,
                    info=info,
                    duration=args.duration,
                    warmup=args.warmup,
                    probe=probe,
                )
                print(row(baseline), flush=True)
            if engine and baseline and baseline.throughput:
                print(f"{'ratio':<8} {level:>4} {engine.throughput / baseline.throughput:>10.0%}")
            if use_pgbench:
                native = pgbench_baseline.level_run(
                    database_url,
                    info,
                    level,
                    duration=args.duration,
                    warmup=args.warmup,
                    probe=probe,
                )
                print(row(native), flush=True)
                if engine and native.throughput:
                    print(
                        f"{'ratio':<8} {level:>4} {engine.throughput / native.throughput:>10.0%}"
                        "  (engine / pgbench)"
                    )
                results.append((None, native))
            results.append((engine, baseline))
        probe.close()
    finally:
        if server is not None:
            server_stop(server)
        analyzer.close()
        redis_queue_purge(env["REDIS_URL"])
    if reads:
        print(READS_LEGEND)
        for placement, read in reads:
            print(read_summary(placement, read))
    print(f"ANALYZE runs of the ticket tables during the run (autovacuum's rule): {analyzer.count}")
    print(f"CPU calibration after: {calibration(database_url)}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results += [(None, read) for _, read in reads]
    errors = sum(r.client.errors for pair in results for r in pair if r is not None)
    for pair in results:
        for result in pair:
            if result is not None:
                for sample in result.client.error_samples:
                    print(f"  {result.kind} c={result.concurrency}: {sample}")
    if errors:
        raise SystemExit(f"{errors} errors")


if __name__ == "__main__":
    main()
