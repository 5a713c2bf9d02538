"""The machine's calibration figures, printed with every benchmark result.

These VMs drift 2-3x from hour to hour, so a figure means little without one taken in the
same run: a fixed pure-Python loop (the web server's and worker's kind of work) and
pgbench's built-in select-only run (the database's), each the same on an equally fast machine.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import time
from urllib.parse import urlsplit

import psycopg


def cpu_calibration(loops: int = 2_000_000) -> str:
    """A fixed pure-Python loop, timed: best of three, in million iterations per second."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for number in range(loops):
            total += number * number % 7
        best = min(best, time.perf_counter() - started)
    return f"python loop {loops / best / 1e6:.1f} M/s"


def pgbench_path() -> str | None:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))
    return candidates[-1] if candidates else None


def pgbench_connection(dsn: str) -> tuple[list[str], dict[str, str]]:
    """pgbench's connection arguments and environment for a DATABASE_URL."""
    parts = urlsplit(dsn)
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = parts.password
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    args += ["-U", parts.username or "postgres", parts.path.lstrip("/")]
    return args, env


def pgbench_calibration(dsn: str) -> str:
    """pgbench's built-in select-only run, one client, 3 s, on its own small tables."""
    binary = pgbench_path()
    if binary is None:
        return "pgbench not installed"
    args, env = pgbench_connection(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        initialized = conn.execute("SELECT to_regclass('pgbench_accounts') IS NOT NULL").fetchone()
    if not (initialized and initialized[0]):
        subprocess.run(
            [binary, "-i", "-s", "1", "-q", *args], env=env, check=True, capture_output=True
        )
    done = subprocess.run(
        [binary, "-n", "-S", "-M", "prepared", "-c", "1", "-T", "3", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    match = re.search(r"tps = ([\d.]+)", done.stdout)
    return f"pgbench select-only c=1 {float(match[1]):,.0f} tps" if match else "pgbench: ?"


def calibration(dsn: str) -> str:
    """Both figures, on one line."""
    return f"{cpu_calibration()}, {pgbench_calibration(dsn)}"
