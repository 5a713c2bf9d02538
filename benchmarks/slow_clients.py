"""Slow clients against the production web server: placements answered meanwhile.

Starts the engine as deployed (`python -m jackpot.serve`, DEBUG off) on the bench database
of place_ticket.py, then places tickets one at a time: first with nothing else connected,
then while --held connections trickle their headers (half of them) or their body (the other
half, one byte every 2 s). Prints the placements' median and worst latency for both, and the
CPU calibration figure of place_ticket.py. `--server gunicorn` shows the server it replaced.

    python -m devserver exec -- python benchmarks/slow_clients.py [--held 200] [--server granian]
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


def placements(port: int, info: dict[str, object], count: int) -> list[float]:
    seconds = []
    for number in range(count):
        body = order_bytes(info["order"], f"slow-{os.getpid()}-{time.time_ns()}-{number}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
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
    stop = threading.Event()
    try:
        placements(args.port, info, 5)  # warm every worker
        report(f"{args.server}, alone", placements(args.port, info, args.placements))
        held = hold(args.port, args.held, stop)
        time.sleep(1.0)
        report(
            f"{args.server}, {len(held)} slow clients",
            placements(args.port, info, args.placements),
        )
    finally:
        stop.set()
        server_stop(server)


if __name__ == "__main__":
    main()
