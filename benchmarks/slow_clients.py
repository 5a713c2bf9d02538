"""Slow and silent clients against the production web server: placements answered meanwhile.

Starts the engine as deployed (`python -m jackpot.serve`, DEBUG off) on the bench database
of place_ticket.py, then places tickets one at a time: first with nothing else connected,
then while --held connections trickle their headers (half of them) or their body (the other
half, one byte every 2 s), and, with --silent N, while N more connections say nothing (half
of them one byte, then nothing). Prints the placements' median and worst latency and how
many failed (no answer within --timeout), and the CPU calibration figure of place_ticket.py.
`--server gunicorn` shows the server granian replaced; `--proxy` puts the shipped front
proxy (deploy/nginx.conf, needs nginx) in front, as docker compose does.

    python -m devserver exec -- python benchmarks/slow_clients.py [--held 200] [--silent 3000]
        [--proxy] [--server granian]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

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
from tests.support.front_proxy import FrontProxy


def hold(port: int, count: int, stop: threading.Event) -> list[socket.socket]:
    held = []
    for number in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if number % 2:
            sock.sendall(b"POST /be/tickets HTTP/1.1\r\nHost: x\r\nContent-Type: app")
        else:
            sock.sendall(b"POST /be/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: 9000\r\n\r\n{")
        held.append(sock)

    def trickle() -> None:
        while not stop.wait(2.0):
            for sock in held[::2]:
                with contextlib.suppress(OSError):
                    sock.sendall(b" ")

    threading.Thread(target=trickle, daemon=True).start()
    return held


def hold_silent(port: int, count: int) -> list[socket.socket]:
    """Up to `count` connections that say nothing (half: one byte); fewer when the server's
    listen queue is full and a connection is no longer accepted within 2 s."""
    held = []
    for number in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        except OSError:
            print(f"  connection {number + 1} of {count} not accepted within 2 s: queue full")
            break
        if number % 2:
            sock.sendall(b"G")
        held.append(sock)
    return held


def placements(
    port: int, info: dict[str, object], count: int, timeout: float = 30.0
) -> list[float]:
    seconds = []
    for number in range(count):
        body = order_bytes(info["order"], f"slow-{os.getpid()}-{time.time_ns()}-{number}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        started = time.perf_counter()
        try:
            connection.request(
                "POST", "/be/tickets", body, signed_headers(info["operator"], info["secret"], body)
            )
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0
        seconds.append(time.perf_counter() - started if status == 200 else float("inf"))
        connection.close()
    return seconds


def report(label: str, seconds: list[float]) -> None:
    answered = [s for s in seconds if s != float("inf")]
    failed = len(seconds) - len(answered)
    median = statistics.median(answered) * 1000 if answered else float("nan")
    worst = max(answered) * 1000 if answered else float("nan")
    print(f"{label:<28} median {median:8.1f} ms  worst {worst:8.1f} ms  failed {failed}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--held", type=int, default=200, help="slow connections held")
    parser.add_argument("--placements", type=int, default=20)
    parser.add_argument("--port", type=int, default=18710)
    parser.add_argument("--server", choices=["granian", "gunicorn"], default="granian")
    parser.add_argument("--silent", type=int, default=0, help="silent connections held")
    parser.add_argument("--proxy", action="store_true", help="the shipped nginx in front")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per placement")
    args = parser.parse_args()
    database_url = bench_database_url(os.environ["DATABASE_URL"])
    env = server_environment(database_url) | {
        "REDIS_URL": bench_redis_url(os.environ["REDIS_URL"]),
        "WEB_ACCESS_LOG": "false",
    }
    os.environ.update(env)  # the fixtures' operator secret is encrypted with the server's key
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    info = fixtures_prepare(0)
    print(f"CPU calibration: {cpu_calibration()}")
    log = BASE_DIR / "var" / "bench" / f"slow-clients-{args.server}.log"
    server = server_start(args.server, args.port, env, log)
    front = FrontProxy(args.port, port=args.port + 1).start() if args.proxy else None
    port = front.port if front is not None else args.port
    label = f"{args.server}{' behind nginx' if front is not None else ''}"
    stop = threading.Event()
    held: list[socket.socket] = []
    try:
        placements(port, info, 5)  # warm every worker
        report(f"{label}, alone", placements(port, info, args.placements, args.timeout))
        if args.held:
            held += hold(port, args.held, stop)
            time.sleep(1.0)
            report(
                f"{label}, {len(held)} slow clients",
                placements(port, info, args.placements, args.timeout),
            )
        if args.silent:
            silent = hold_silent(port, args.silent)
            held += silent
            time.sleep(1.0)
            report(
                f"{label}, +{len(silent)} silent",
                placements(port, info, args.placements, args.timeout),
            )
    finally:
        stop.set()
        for sock in held:
            sock.close()
        if front is not None:
            front.stop()
        server_stop(server)


if __name__ == "__main__":
    main()
