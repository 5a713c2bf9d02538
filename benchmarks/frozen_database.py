"""A database that stops answering, under placement load: how long the API takes to answer.

Starts the engine as deployed (`python -m jackpot.serve`, DEBUG off) on the bench database
of place_ticket.py, reaching PostgreSQL through a TCP proxy (tests/support/proxy.py). Clients
place tickets without pause; after --before seconds the proxy stops forwarding (nothing is
refused or closed: what a server whose processes are stopped looks like) for --frozen
seconds, then forwards again. Prints the answers during the freeze (statuses, median and
worst time), /health and /ready times during it, the answers after it, and the CPU
calibration figure. `--deadline 0` shows the engine without its per-call deadline.

    python -m devserver exec -- python benchmarks/frozen_database.py [--clients 8] [--frozen 5]
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.calibration import cpu_calibration
from benchmarks.place_ticket import (
    BASE_DIR,
    bench_database_url,
    bench_redis_url,
    fixtures_prepare,
    order_bytes,
    server_environment,
    server_start,
    server_stop,
    signed_headers,
)
from tests.support.proxy import TcpProxy

Answer = tuple[float, int, float]  # sent (monotonic), status (0: no answer), seconds


def place(port: int, info: dict[str, object], stop: threading.Event, out: list[Answer]) -> None:
    number = 0
    while not stop.is_set():
        number += 1
        body = order_bytes(info["order"], f"frozen-{threading.get_ident()}-{number}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        sent = time.monotonic()
        try:
            connection.request(
                "POST", "/be/tickets", body, signed_headers(info["operator"], info["secret"], body)
            )
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0
        out.append((sent, status, time.monotonic() - sent))
        connection.close()


def probe(port: int, path: str) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.monotonic()
    connection.request("GET", path)
    status = connection.getresponse().status
    return f"{path} {status} in {(time.monotonic() - started) * 1000:.0f} ms"


def summary(label: str, answers: list[Answer]) -> None:
    if not answers:
        print(f"{label:<14} no answers")
        return
    statuses: dict[int, int] = {}
    for _, status, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    seconds = [s for _, _, s in answers]
    print(
        f"{label:<14} {len(answers):5d} answers {dict(sorted(statuses.items()))}  "
        f"median {statistics.median(seconds) * 1000:7.1f} ms  worst {max(seconds) * 1000:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--before", type=float, default=3.0)
    parser.add_argument("--frozen", type=float, default=5.0)
    parser.add_argument("--after", type=float, default=3.0)
    parser.add_argument("--deadline", help="DB_REQUEST_DEADLINE_SECONDS (default: the setting's)")
    parser.add_argument("--port", type=int, default=18730)
    args = parser.parse_args()
    database_url = bench_database_url(os.environ["DATABASE_URL"])
    env = server_environment(database_url) | {
        "REDIS_URL": bench_redis_url(os.environ["REDIS_URL"]),
        "WEB_ACCESS_LOG": "false",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    info = fixtures_prepare(0)
    print(f"CPU calibration: {cpu_calibration()}")
    proxy = TcpProxy(connection.get_connection_params())
    proxy.up()
    server_env = env | {"DATABASE_URL": proxy.database_url(urlsplit(database_url).path[1:])}
    if args.deadline is not None:
        server_env["DB_REQUEST_DEADLINE_SECONDS"] = args.deadline
    log = BASE_DIR / "var" / "bench" / "frozen-database.log"
    server = server_start("granian", args.port, server_env, log)
    answers: list[Answer] = []
    stop = threading.Event()
    clients = [
        threading.Thread(target=place, args=(args.port, info, stop, answers))
        for _ in range(args.clients)
    ]
    try:
        for client in clients:
            client.start()
        time.sleep(args.before)
        frozen_at = time.monotonic()
        proxy.freeze()
        time.sleep(0.5)
        probes = [probe(args.port, "/health"), probe(args.port, "/ready")]
        time.sleep(max(0.0, frozen_at + args.frozen - time.monotonic()))
        thawed_at = time.monotonic()
        proxy.thaw()
        time.sleep(args.after)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=120)
        server_stop(server)
        proxy.down()
    print(f"{args.clients} clients, database frozen for {args.frozen:g} s")
    summary("before", [a for a in answers if a[0] < frozen_at])
    summary("during freeze", [a for a in answers if frozen_at <= a[0] < thawed_at])
    summary("after", [a for a in answers if a[0] >= thawed_at])
    print("probes during the freeze: " + ", ".join(probes))


if __name__ == "__main__":
    main()
