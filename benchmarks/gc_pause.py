"""What a full garbage collection costs a web worker, with and without `gc.freeze()`.

A web worker (jackpot.rsgi) holds everything Django, DRF, Celery and the apps loaded. A
full (generation 2) collection walks every object the collector tracks while holding the
GIL, so every request thread of the process waits for it. `BufferedWsgi.__rsgi_init__`
freezes the objects loaded by then, which takes them out of the collector's reach. This
script loads the application as a worker does, answers a few requests in-process so that
lazily loaded code is in too, then times full collections before and after `gc.freeze()`.
At rest, as here, a frozen worker has almost nothing left to walk; under load the objects
of the requests in flight remain (benchmarks/place_ticket.py's level: 24-53 ms instead of
103-182 ms, measured with a temporary probe on 2026-12-04).

    .venv/bin/python -m devserver exec -- .venv/bin/python benchmarks/gc_pause.py [--rounds 7]

It prints the CPU calibration figure (benchmarks/calibration.py) with its result.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.calibration import cpu_calibration


def full_collection_ms(rounds: int) -> tuple[float, float]:
    """Median and longest wall time of `rounds` full collections, in ms."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        gc.collect(2)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="full collections timed per case")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jackpot.settings")
    from django.test import Client

    import jackpot.rsgi  # noqa: F401 - loads the application as a web worker does

    client = Client()
    logging.disable(logging.WARNING)  # the unsigned API requests are refused (403)
    for path in ("/health", "/be/tickets", "/bc/jackpots", "/admin/login/"):
        client.get(path)  # answers do not matter: the code they run is loaded now
    logging.disable(logging.NOTSET)

    print(f"CPU calibration: {cpu_calibration()}")
    tracked = len(gc.get_objects())
    median, longest = full_collection_ms(args.rounds)
    print(f"not frozen: {tracked:,} tracked objects; full collection median {median:.1f} ms,")
    print(f"            longest {longest:.1f} ms")
    gc.freeze()
    median, longest = full_collection_ms(args.rounds)
    print(f"frozen:     {gc.get_freeze_count():,} frozen, {len(gc.get_objects()):,} tracked;")
    print(f"            full collection median {median:.1f} ms, longest {longest:.1f} ms")


if __name__ == "__main__":
    main()
