"""HTTP client CPU per PAM webhook: the engine's httpx client against the standard library's
`http.client`, both on a kept connection to the fake PAM (docs/webhooks.md § Second round).

    DATABASE_URL=... .venv/bin/python benchmarks/pam_client.py [--requests 2000]

The fake PAM runs in a child process (its CPU is not counted); this process sends
`--requests` signed webhook bodies one after the other with each client, after a warm-up,
and prints the client's CPU time (user + system) and wall time per request, with the CPU
calibration figure before and after. Only the client's cost is compared: what a pool process
would save per webhook with a lighter client.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.calibration import cpu_calibration

SECRET = "bench-secret"


def serve(urls: Any) -> None:
    from operators.fake_pam import FakePam

    pam = FakePam(port=0, secret_lookup=lambda name: SECRET, keep_last=0).start()
    urls.put(pam.url)
    time.sleep(3600)


def per_request(send: Any, count: int) -> tuple[float, float]:
    """CPU and wall microseconds per call of `send`, after 50 warm-up calls."""
    for _ in range(50):
        send()
    cpu, wall = os.times(), time.perf_counter()
    for _ in range(count):
        send()
    spent = os.times()
    seconds = spent.user + spent.system - cpu.user - cpu.system
    return seconds / count * 1e6, (time.perf_counter() - wall) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jackpot.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from operators.pam import _client
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

    client = _client()  # the engine's: keep-alive pool, its limits and headers

    def httpx_send() -> None:
        response = client.post(url, content=body, headers=headers)
        if response.status_code != 200:
            sys.exit(f"fake PAM answered {response.status_code}")

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)

    def stdlib_send() -> None:
        connection.request("POST", parts.path, body, headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            sys.exit(f"fake PAM answered {response.status}")

    for name, send in (("httpx", httpx_send), ("http.client", stdlib_send)):
        cpu, wall = per_request(send, args.requests)
        print(f"{name}: {cpu:.0f} µs CPU, {wall:.0f} µs wall per request ({args.requests})")
    print(f"CPU calibration after: {cpu_calibration()}")
    server.terminate()


if __name__ == "__main__":
    main()
