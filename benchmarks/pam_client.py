"""HTTP client CPU per PAM webhook: the engine's client (aiohttp, a turn of webhooks at once
on one thread) against httpx on sender threads (the engine's client before) and the
standard library's `http.client` one request at a time (docs/webhooks.md § Second round).

    DATABASE_URL=... .venv/bin/python benchmarks/pam_client.py [--requests 4000]

The fake PAM runs in a child process (its CPU is not counted); this process sends
`--requests` signed webhook bodies with each client on kept connections, after a warm-up,
in turns of 8 and of 25 where the client sends at once, and prints the client's CPU time
(user + system) and wall time per request, with the CPU calibration figure before and
after. Only the client's cost is compared: what a pool process spends per webhook on HTTP.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.calibration import cpu_calibration

SECRET = "bench-secret"
TURNS = (8, 25)


def serve(urls: Any) -> None:
    from operators.fake_pam import FakePam

    pam = FakePam(port=0, secret_lookup=lambda name: SECRET, keep_last=0).start()
    urls.put(pam.url)
    time.sleep(3600)


def per_request(send_turn: Callable[[], None], requests: int, turn: int) -> tuple[float, float]:
    """CPU and wall microseconds per request of `send_turn` (`turn` requests a call), after
    a warm-up."""
    for _ in range(max(1, 50 // turn)):
        send_turn()
    calls = max(1, requests // turn)
    cpu, wall = os.times(), time.perf_counter()
    for _ in range(calls):
        send_turn()
    spent = os.times()
    seconds = spent.user + spent.system - cpu.user - cpu.system
    sent = calls * turn
    return seconds / sent * 1e6, (time.perf_counter() - wall) / sent * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jackpot.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    import httpx

    from operators.pam import _SENDER, _Request
    from operators.signing import signature

    print(f"CPU calibration before: {cpu_calibration()}", flush=True)
    urls: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(urls,), daemon=True)
    server.start()
    url = urls.get(timeout=30)
    data = {"operator": "bench", "ticket_id": "a" * 24, "result": "won"}
    body = json.dumps({"action": "ticket_win", "data": data}, separators=(",", ":")).encode()
    stamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "timestamp": stamp,
        "signature": signature(SECRET, stamp, body),
    }

    def answered(status: int) -> None:
        if status != 200:
            sys.exit(f"fake PAM answered {status}")

    sender = _SENDER.get()  # the engine's: its event loop, session and limits

    def engine(turn: int) -> Callable[[], None]:
        requests = [_Request("bench", url, body, headers)] * turn

        def send_turn() -> None:
            for answer in sender.send(requests, guarded=True):
                answered(answer.http_status or 0)

        return send_turn

    # The engine's client before: httpx's keep-alive pool shared by as many sender threads.
    client = httpx.Client(limits=httpx.Limits(max_connections=50, max_keepalive_connections=25))
    threads = ThreadPoolExecutor(max_workers=max(TURNS))

    def httpx_threads(turn: int) -> Callable[[], None]:
        def one(_: int) -> None:
            answered(client.post(url, content=body, headers=headers).status_code)

        def send_turn() -> None:
            list(threads.map(one, range(turn)))

        return send_turn

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)

    def stdlib_send() -> None:
        connection.request("POST", parts.path, body, headers)
        response = connection.getresponse()
        response.read()
        answered(response.status)

    runs: list[tuple[str, Callable[[], None], int]] = [
        *((f"engine (aiohttp), {turn} at once", engine(turn), turn) for turn in TURNS),
        *((f"httpx on {turn} threads (before)", httpx_threads(turn), turn) for turn in TURNS),
        ("http.client, one at a time", stdlib_send, 1),
    ]
    for name, send_turn, turn in runs:
        cpu, wall = per_request(send_turn, args.requests, turn)
        print(f"{name}: {cpu:.0f} µs CPU, {wall:.0f} µs wall per request")
    print(f"CPU calibration after: {cpu_calibration()}")
    server.terminate()


if __name__ == "__main__":
    main()
