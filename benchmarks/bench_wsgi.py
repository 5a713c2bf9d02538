"""The engine's WSGI application with an `X-Queries` response header, for benchmarks only.

benchmarks/place_ticket.py serves this module instead of `jackpot.wsgi` so that every
answer says how many SQL statements Django executed for it (an execute wrapper on the
request thread's connection; BEGIN/COMMIT are not statements Django executes and are not
counted). Nothing else differs from the production application, unless
BENCH_WITHOUT_KICK=1 (place_ticket.py --without-kick, a diagnostic): then the wake after
commit is skipped, to measure what publishing it costs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection

from jackpot.wsgi import application as engine_application
from tickets.outbox.waking import WAKER

if os.environ.get("BENCH_WITHOUT_KICK") == "1":
    WAKER.wake_now = lambda ids, *, countdown=None: None  # type: ignore[method-assign]

StartResponse = Callable[..., Any]


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    count = 0

    def counting(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, [*headers, ("X-Queries", str(count))], exc_info)

    with connection.execute_wrapper(counting):
        return engine_application(environ, start)


def _rsgi() -> object:
    from jackpot.rsgi import buffered

    return buffered(application)


rsgi_application = _rsgi()
"""The same, as the production server serves it (`WEB_TARGET` of jackpot.serve)."""
