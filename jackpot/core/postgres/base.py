"""Django's PostgreSQL backend, but a persistent connection's health check reads its socket
instead of sending `SELECT 1` (settings: `ENGINE = "jackpot.core.postgres"`).

With `CONN_HEALTH_CHECKS`, Django checks a kept connection before the first query of each
request, so that a connection PostgreSQL ended meanwhile (a restart, a failover, an idle
timeout) is replaced instead of failing the request. Its check is a `SELECT 1`: one more
round trip per request, which became a tenth of a placement's CPU once placement needed a
single statement (docs/performance.md).

A connection between requests is idle: the server sends it nothing until it sends a query.
When PostgreSQL ends it, the server's goodbye (a FATAL message, then the close) or the
peer's reset makes the socket readable. So an idle connection whose socket has something to
read is treated as unusable and replaced; the rare harmless message (a parameter the
server reports after a reload) costs one reconnection, not an error. A peer that vanished
without a word is not seen by either check: the query then fails after
`DB_TCP_USER_TIMEOUT_MS` (503), as `SELECT 1` would have.

Its connections are `DeadlineConnection`s: under `database_deadline` (the operator API's
requests, /ready) each call waits at most that long, whatever the server does
(deadline.py).
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus

from jackpot.core.postgres.deadline import DeadlineConnection, refuse_while_stalled


class _Psycopg:
    """The psycopg module as Django's backend uses it (errors, adapters, versions), but
    connecting with DeadlineConnection."""

    connect = staticmethod(DeadlineConnection.connect)

    def __getattr__(self, name: str) -> Any:
        return getattr(psycopg, name)


class DatabaseWrapper(base.DatabaseWrapper):
    Database = _Psycopg()  # type: ignore[assignment]  # the module, connecting otherwise

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        refuse_while_stalled()
        return super().get_new_connection(conn_params)

    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        if connection.info.transaction_status != TransactionStatus.IDLE:
            return bool(super().is_usable())  # not between requests: ask the server
        readable, _, _ = select.select([connection.fileno()], [], [], 0)
        return not readable
