"""What Django's per-request health check of a kept connection costs: PostgreSQL's backend
`SELECT 1` against the engine's socket check (jackpot/core/postgres/base.py).

    .venv/bin/python -m devserver exec -- .venv/bin/python benchmarks/health_check.py

It prints the CPU calibration figure (benchmarks/calibration.py) with its result.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.calibration import cpu_calibration

CHECKS = 3_000


def per_check(check: Callable[[], bool]) -> tuple[float, float]:
    """Wall and CPU time of one check, in µs."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(CHECKS):
        if not check():
            raise SystemExit("the connection was reported unusable")
    return (
        (time.perf_counter() - wall) / CHECKS * 1e6,
        (time.process_time() - cpu) / CHECKS * 1e6,
    )


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jackpot.settings")
    import django

    django.setup()
    from django.db import connection
    from django.db.backends.postgresql.base import DatabaseWrapper as DjangoBackend

    connection.ensure_connection()
    print(f"CPU calibration: {cpu_calibration()}")
    for name, check in (
        ("SELECT 1 (Django's backend)", lambda: DjangoBackend.is_usable(connection)),
        ("socket check (the engine's)", connection.is_usable),
    ):
        wall, cpu = per_check(check)
        print(f"{name}: {wall:.1f} µs wall, {cpu:.1f} µs CPU per check")


if __name__ == "__main__":
    main()
