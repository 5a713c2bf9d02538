"""CPU psycopg spends turning the placement's write statement and its parameters into what
it sends, the way the engine did before 2026-12-04 and the way it does now.

psycopg rewrites `%s` placeholders into PostgreSQL's `$1` on every execute and caches the
result only for statements under 50 parameters and 4 KB; it also adapts a list element by
element. The write statement has 76 parameters, 10 of them arrays, and 3.3 KB.
`jackpot.core.sql.execute_fetchone` numbers the placeholders once per SQL text (psycopg's
RawCursor then takes the statement as it is) and `array_literal` passes each array as one
text parameter. This script captures one real placement's write (in-process, against the
benchmark database of benchmarks/place_ticket.py) and times psycopg's own conversion of it
both ways. It reaches into psycopg's query classes (`psycopg._queries`): a measurement,
not engine code.

    .venv/bin/python -m devserver exec -- .venv/bin/python benchmarks/write_params.py

It prints the CPU calibration figure (benchmarks/calibration.py) with its result.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.calibration import cpu_calibration
from benchmarks.place_ticket import (
    bench_database_url,
    bench_redis_url,
    fixtures_prepare,
    placement_sql,
    server_environment,
)

ROUNDS = 2_000


def cpu_us(convert: Callable[[], object]) -> float:
    convert()
    started = time.process_time()
    for _ in range(ROUNDS):
        convert()
    return (time.process_time() - started) / ROUNDS * 1e6


def write_captured(info: dict[str, Any]) -> tuple[str, list[Any]]:
    """The SQL and parameters of one placement's write (its statement with the most
    parameters), placed in-process as benchmarks/place_ticket.py does."""
    import psycopg

    executed: list[tuple[Any, Any]] = []
    execute = psycopg.Cursor.execute

    def recording(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        executed.append((query, params))
        return execute(self, query, params, **kwargs)

    psycopg.Cursor.execute = recording  # type: ignore[method-assign]
    try:
        placement_sql(info)
    finally:
        psycopg.Cursor.execute = execute  # type: ignore[method-assign]
    sql, params = max(executed, key=lambda pair: len(pair[1] or ()))
    return str(sql), list(params)


@contextlib.contextmanager
def arrays_as_lists() -> Iterator[None]:
    """`array_literal` leaves every list as it is, where the write's modules call it."""
    import betcards.snapshots
    import jackpot.core.sql

    kept = jackpot.core.sql.array_literal
    for module in (betcards.snapshots, jackpot.core.sql):
        module.array_literal = lambda values: values
    try:
        yield
    finally:
        for module in (betcards.snapshots, jackpot.core.sql):
            module.array_literal = kept


def main() -> None:
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/jackpot")
    os.environ.update(server_environment(bench_database_url(url)))
    os.environ["REDIS_URL"] = bench_redis_url(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    os.environ["LOCAL_CACHES"] = "false"
    import django

    django.setup()
    import psycopg
    from django.core.management import call_command
    from django.db import connection
    from psycopg._queries import PostgresQuery, PostgresRawQuery

    from jackpot.core.sql import _numbered, array_literal

    call_command("migrate", verbosity=0)
    info = fixtures_prepare(0)
    now_sql, now_params = write_captured(info)
    # Before: each array as a list, as the engine passed it until array_literal.
    with arrays_as_lists():
        sql, lists = write_captured(info)
    assert sql == now_sql
    connection.ensure_connection()
    context = connection.connection

    print(f"CPU calibration: {cpu_calibration()}")
    arrays = sum(isinstance(param, list) for param in lists)
    print(f"the write: {len(sql):,} characters, {len(lists)} parameters, {arrays} arrays")
    before = cpu_us(lambda: PostgresQuery(psycopg.adapt.Transformer(context)).convert(sql, lists))
    after = cpu_us(
        lambda: PostgresRawQuery(psycopg.adapt.Transformer(context)).convert(
            _numbered(sql), now_params
        )
    )
    literals = cpu_us(lambda: [array_literal(p) if isinstance(p, list) else p for p in lists])
    print(f"%s placeholders, arrays as lists (before): {before:.0f} µs of CPU per write")
    print(f"numbered placeholders, array literals (now): {after:.0f} µs of CPU per write,")
    print(f"    and {literals:.0f} µs to write the array literals")


if __name__ == "__main__":
    main()
