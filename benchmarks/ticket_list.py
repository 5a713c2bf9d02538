"""GET /be/tickets at scale: one operator with 1,000,000 tickets, first and deep pages, each
filter (docs/performance.md § Ticket list).

    python -m devserver exec -- python benchmarks/ticket_list.py [--tickets 1000000]
        [--repeat 50] [--database-url postgres://.../jackpot_bench_1m]

1. Prepares its own database (DATABASE_URL's name + `_bench_1m`, created and migrated when
   missing) with benchmarks/place_ticket.py's operator, 13-event card and `--tickets`
   seeded tickets (a second apart per hundred, as placement writes them; built once, about
   6 minutes for a million), then gives them some variety: every 100th ticket cancelled,
   every 250th reserved, every 50th bought by one heavy player (20,000 tickets).
2. Calls the engine's production WSGI application in-process (`jackpot.wsgi`: the API
   handler, DEBUG off) with signed requests, `--repeat` times per case after a warm-up, and
   prints per case the median and 95th percentile of the time to answer, the CPU time per
   request, the SQL statements run and the tickets answered; a CPU calibration figure before
   and after. Exits 1 when a page is not a 200 or its statement count depends on the case.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from benchmarks.calibration import cpu_calibration  # noqa: E402
from benchmarks.place_ticket import (  # noqa: E402 - after the path is set
    OPERATOR_NAME,
    fixtures_prepare,
    server_environment,
)

TARGET_MS = 20.0


def database_url_default() -> str:
    from urllib.parse import urlsplit, urlunsplit

    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/jackpot")
    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "jackpot").removesuffix("_bench_1m") + "_bench_1m"
    return urlunsplit(parts._replace(path="/" + name))


def variety(operator_id: int) -> None:
    """Cancelled, reserved and one heavy player's tickets among the seeded ones."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tickets_ticket SET status = 'cancelled', result = 'void', approved = false"
            " WHERE operator_id = %s AND ('x' || right(id, 16))::bit(64)::bigint %% 100 = 0"
            " AND status <> 'cancelled'",
            [operator_id],
        )
        cursor.execute(
            "UPDATE tickets_ticket SET status = 'reserved', approved = false,"
            " reserved_until = created_at + interval '30 minutes'"
            " WHERE operator_id = %s AND ('x' || right(id, 16))::bit(64)::bigint %% 250 = 1"
            " AND status <> 'reserved'",
            [operator_id],
        )
        cursor.execute(
            "UPDATE tickets_ticket SET token = 'heavy-player'"
            " WHERE operator_id = %s AND ('x' || right(id, 16))::bit(64)::bigint %% 50 = 7"
            " AND token <> 'heavy-player'",
            [operator_id],
        )
        cursor.execute("VACUUM ANALYZE tickets_ticket")


def ids_at(operator_id: int, offsets: list[int]) -> dict[int, str]:
    from django.db import connection

    found = {}
    with connection.cursor() as cursor:
        for offset in offsets:
            cursor.execute(
                "SELECT id FROM tickets_ticket WHERE operator_id = %s"
                " ORDER BY id DESC OFFSET %s LIMIT 1",
                [operator_id, offset],
            )
            row = cursor.fetchone()
            found[offset] = row[0] if row else ""
    return found


def created_window(operator_id: int) -> tuple[str, str]:
    """An hour in the middle of the operator's tickets, in the contract's format."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(created_at), max(created_at) FROM tickets_ticket WHERE operator_id = %s",
            [operator_id],
        )
        first, last = cursor.fetchone()
    middle = first + (last - first) / 2
    fmt = "%Y-%m-%dT%H:%M:%S"
    return middle.strftime(fmt), (middle.replace(minute=59, second=59)).strftime(fmt)


class Engine:
    """The production WSGI application, called in-process with signed GETs."""

    def __init__(self, secret: str) -> None:
        from django.db import connection

        from jackpot.wsgi import application

        self.app = application
        self.secret = secret
        self.statements = 0
        # Installed for good (execute_wrapper() is a context manager): every later statement
        # of this thread's connection, which is the one the in-process requests use.
        connection.execute_wrappers.append(self._count)
        self.status = ""
        self.headers: dict[str, str] = {}

    def _count(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.statements += 1
        return execute(sql, params, many, context)

    def get(self, path: str, query: str) -> bytes:
        stamp = str(int(time.time()))
        signature = hmac.new(self.secret.encode(), stamp.encode(), hashlib.sha256).hexdigest()
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_TIMESTAMP": stamp,
            "HTTP_OPERATOR_NAME": OPERATOR_NAME,
            "HTTP_SIGNATURE": signature,
        }

        def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
            self.status, self.headers = status, dict(headers)

        return b"".join(self.app(environ, start_response))


def measure(engine: Engine, query: str, repeat: int) -> dict[str, Any]:
    import orjson

    for _ in range(3):
        engine.get("/be/tickets", query)
    times, cpus = [], []
    statements = set()
    body = b"[]"
    for _ in range(repeat):
        engine.statements = 0
        started, cpu = time.perf_counter(), time.process_time()
        body = engine.get("/be/tickets", query)
        times.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
        statements.add(engine.statements)
        if not engine.status.startswith("200"):
            raise SystemExit(f"{query}: {engine.status} {body[:300]!r}")
    times.sort()
    return {
        "median": statistics.median(times),
        "p95": times[int(0.95 * (len(times) - 1))],
        "cpu": statistics.median(cpus),
        "statements": sorted(statements),
        "tickets": len(orjson.loads(body)),
        "next": "Link" in engine.headers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    database_url = args.database_url or database_url_default()
    env = server_environment(database_url)
    os.environ.update(env)
    from devserver.console import redact
    from devserver.embedded import postgres_ensure_database

    postgres_ensure_database(database_url)
    import django

    django.setup()
    from django.core.management import call_command

    print(f"CPU calibration before: {cpu_calibration()}")
    started = time.monotonic()
    call_command("migrate", verbosity=0)
    info = fixtures_prepare(args.tickets)
    variety(info["operator_id"])
    print(
        f"database {redact(database_url)}: {args.tickets:,} tickets ready in "
        f"{time.monotonic() - started:.0f} s"
    )
    deep = ids_at(info["operator_id"], [9_999, 99_999])
    start, end = created_window(info["operator_id"])
    cases = [
        ("first page", "limit=10"),
        ("first page, 100", "limit=100"),
        ("1,000th page (before)", f"limit=10&before={deep[9_999]}"),
        ("10,000th page (before)", f"limit=10&before={deep[99_999]}"),
        ("status=open", "status=open"),
        ("status=cancelled (1 %)", "status=cancelled"),
        ("status=reserved&status=cancelled", "status=reserved&status=cancelled"),
        ("betcard_code", "betcard_code=BENCHPLACE"),
        ("user_id (20,000 tickets)", "user_id=heavy-player"),
        ("user_id, 1,000th page", f"user_id=heavy-player&before={deep[99_999]}"),
        ("user_id (1 ticket)", "user_id=seed-12345"),
        ("created in one hour", f"created_from={start}&created_to={end}"),
        ("skip_types=jackpot", "skip_types=jackpot"),
        (
            "card + player + 2 statuses",
            "betcard_code=BENCHPLACE&user_id=heavy-player&status=open&status=cancelled",
        ),
    ]
    engine = Engine(info["secret"])
    print(
        f"GET /be/tickets in-process (jackpot.wsgi, DEBUG off), {args.repeat} runs per case;"
        " ms to answer (median, p95), CPU ms per request (median), SQL statements per request"
    )
    print(f"{'case':<34} {'median':>8} {'p95':>8} {'CPU':>7} {'SQL':>5} {'tickets':>8} next")
    worst = 0.0
    counts = set()
    for name, query in cases:
        result = measure(engine, query, args.repeat)
        worst = max(worst, result["p95"])
        counts.update(result["statements"])
        print(
            f"{name:<34} {result['median']:>8.2f} {result['p95']:>8.2f} {result['cpu']:>7.2f}"
            f" {','.join(map(str, result['statements'])):>5} {result['tickets']:>8}"
            f" {'yes' if result['next'] else 'no'}"
        )
    print(f"slowest p95 {worst:.2f} ms (target: every page under {TARGET_MS:.0f} ms)")
    print(f"CPU calibration after: {cpu_calibration()}")
    if len(counts - {0}) > 1:  # skip_types=jackpot answers without reading anything
        raise SystemExit(f"statements per page vary by case: {sorted(counts)}")


if __name__ == "__main__":
    main()
