"""Loaded before Django reads its settings (`-p tests.support.environment` in pyproject):
the environment every test process, and every process a test starts, inherits.

- The broker: the same Redis server as REDIS_URL, but database `TEST_REDIS_DB`, so what the
  suite queues (wakes of placed tickets) never reaches the worker of a developer's
  `make run`, which uses REDIS_URL as given (database 0 by default). Tests that run a worker
  give it a private Redis of its own (tests/support/worker.py).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

TEST_REDIS_DB = 14


def redis_database(url: str, database: int) -> str:
    """`url` pointing at `database` of the same server."""
    parts = urlsplit(url)
    if parts.scheme in ("redis", "rediss"):
        return urlunsplit(parts._replace(path=f"/{database}"))
    base, _, query = url.partition("?")  # unix://...: the database is a query parameter
    params = [param for param in query.split("&") if param and not param.startswith("db=")]
    return f"{base}?{'&'.join([*params, f'db={database}'])}"


os.environ["REDIS_URL"] = redis_database(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), TEST_REDIS_DB
)
