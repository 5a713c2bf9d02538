"""A client-side deadline on every database call of a web request, so that a database that
stops answering (its processes stopped, a network path that drops packets) costs a request
a bounded wait and a 503, never as long as the stall lasts.

`statement_timeout` cannot help there: a frozen server enforces nothing, and TCP keeps the
connection "alive" while the server's kernel acknowledges what it receives. So the engine's
connections (`DeadlineConnection`, made by `jackpot.core.postgres`'s backend) wait for each
answer at most the deadline that the request set with `database_deadline(seconds)`:

- past it, the connection is closed (a query in flight leaves it unusable) and the call
  raises `OperationalError` (the API's 503 with `Retry-After`);
- for the next `STALL_SECONDS` every call and connection attempt of the process under a
  deadline fails at once, so a backlog of requests does not each wait its own deadline in
  turn behind the threads that are already waiting.

Without `database_deadline` (Celery workers, commands, the back office) nothing changes:
settlement's long statements keep waiting as long as they need.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import errors

STALL_SECONDS = 1.0
"""How long the process stops trying after a call passed its deadline (the 503's Retry-After)."""

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "database_deadline", default=None
)


class _Stall:
    """When the process last saw the database pass a deadline (per process, all threads)."""

    def __init__(self) -> None:
        self.until = 0.0
        self.lock = threading.Lock()

    def begin(self) -> None:
        with self.lock:
            self.until = time.monotonic() + STALL_SECONDS

    def ongoing(self) -> bool:
        return time.monotonic() < self.until


STALL = _Stall()


class DatabaseStalled(errors.OperationalError):
    """The database did not answer within the request's deadline (or was stalled just now)."""


@contextlib.contextmanager
def database_deadline(seconds: float) -> Iterator[None]:
    """Every database call in this block (this thread) waits at most `seconds`."""
    token = _deadline.set(seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def refuse_while_stalled() -> None:
    """Raise DatabaseStalled at once when a deadline is set and the database just stalled
    (called before connecting: a connection attempt to a frozen server waits 2 s)."""
    if _deadline.get() is not None and STALL.ongoing():
        raise DatabaseStalled("the database did not answer just now; retry shortly")


class DeadlineConnection(psycopg.Connection[Any]):
    """psycopg's connection, waiting for each answer at most the request's deadline."""

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        deadline = _deadline.get()
        if deadline is None or timeout is not None:
            return super().wait(gen, interval, timeout)
        refuse_while_stalled()
        try:
            return super().wait(gen, interval, deadline)
        except errors._WaitTimeout:  # psycopg's own deadline error, raised by its waiting loop
            STALL.begin()
            self.pgconn.finish()  # mid-protocol: unusable; Django replaces it
            raise DatabaseStalled(
                f"the database did not answer within {deadline:g} s; retry shortly"
            ) from None
