"""The second baseline of benchmarks/place_ticket.py: a C client (pgbench) doing a placement's
reads and writes (the machine's calibration figures are in benchmarks/calibration.py).

The pgbench script runs the Python baseline's statements (`BASELINE_SQL`, same text, the
`%s` placeholders becoming pgbench variables) as one transaction with prepared statements.
pgbench cannot build strings in its own language, so one extra autocommitted `SELECT`
before the transaction computes what the Python baseline computes in Python: the ticket id
and code, the 13-element arrays and the webhook body (a cost on the baseline's side, so the
engine's ratio to it errs low, not high).

Codes: the engine's are 6 random characters of A-Z0-9, retried on a collision; pgbench
cannot retry, so each run takes a 3-character prefix no ticket uses yet and numbers its
codes under it (46,656 per run: far more than a level places).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.calibration import pgbench_connection, pgbench_path
from benchmarks.place_ticket import (
    BASELINE_SQL,
    BONUS,
    CARD_CODE,
    EVENTS,
    ODDS,
    PRIZE,
    WEBHOOK_DATA,
    ClientResult,
    CpuProbe,
    LevelResult,
    cpu_used,
)

CODE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
SEQUENCE = "bench_pgbench_ticket_seq"
# The variables each statement's placeholders become, in order.
VARIABLES = {
    "operator": ["operator"],
    "card": ["card"],
    "events": ["card_id"],
    "bets": ["bet_ids"],
    "ticket": [
        *("id", "code", "operator_id", "card_id", "token", "odds", "prize", "bonus"),
        *("id", "now", "now"),
    ],
    "selections": ["ids", "event_ids", "bet_ids", "odds_submitted", "odds_accepted", "results"],
    "delivery": ["id", "operator_id", "body", "now", "now", "now"],
}
PREPARE = (
    "SELECT id, code, token, now, array_fill(id, ARRAY[{events}])::text AS ids,"
    " format(:body_format, id, code, token) AS body FROM (SELECT"
    " lpad(to_hex(extract(epoch FROM now())::bigint), 8, '0') || lpad(to_hex(s.n), 16, '0')"
    " AS id,"
    " :prefix || substr(:chars, ((s.n - :start) / 1296 % 36 + 1)::int, 1)"
    " || substr(:chars, ((s.n - :start) / 36 % 36 + 1)::int, 1)"
    " || substr(:chars, ((s.n - :start) % 36 + 1)::int, 1) AS code,"
    " 'pgbench-' || s.n AS token, now() AS now"
    " FROM (SELECT nextval('{sequence}') AS n) s) t \\gset"
)


def script(info: dict[str, Any]) -> str:
    """The pgbench script of one placement."""
    lines = [PREPARE.format(events=EVENTS, sequence=SEQUENCE), "BEGIN;"]
    for name, variables in VARIABLES.items():
        sql = BASELINE_SQL[name]
        for variable in variables:
            sql = sql.replace("%s", f":{variable}", 1)
        if "%s" in sql:
            raise RuntimeError(f"pgbench script: {name} has more placeholders than variables")
        lines.append(sql + ";")
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def variables(info: dict[str, Any], *, prefix: str, start: int) -> dict[str, str]:
    """pgbench -D values: what the Python baseline passes as parameters."""
    picks = info["order"]["events"]
    body = {
        "action": "ticket_create",
        "data": {
            **WEBHOOK_DATA,
            "operator": info["operator"],
            "ticket_id": "@ID@",
            "ticket_code": "@CODE@",
            "player_id": "@TOKEN@",
        },
    }
    body_format = json.dumps(body, separators=(",", ":"))
    for placeholder in ("@ID@", "@CODE@", "@TOKEN@"):
        body_format = body_format.replace(placeholder, "%s")
    combined = ODDS**EVENTS
    return {
        "operator": info["operator"],
        "card": CARD_CODE,
        "card_id": str(info["card_id"]),
        "operator_id": str(info["operator_id"]),
        "bet_ids": "{" + ",".join(str(pick["bet"]) for pick in picks) + "}",
        "event_ids": "{" + ",".join(str(pick["id"]) for pick in picks) + "}",
        "odds_submitted": "{" + ",".join([str(ODDS)] * len(picks)) + "}",
        "odds_accepted": "{" + ",".join([str(ODDS)] * len(picks)) + "}",
        "results": "{" + ",".join(["pending"] * len(picks)) + "}",
        "odds": str(combined.quantize(ODDS.__class__("0.01"))),
        "prize": str(PRIZE),
        "bonus": json.dumps(BONUS),
        "body_format": body_format,
        "prefix": prefix,
        "chars": CODE_CHARS,
        "start": str(start),
    }


def _free_prefix(conn: psycopg.Connection[Any]) -> str:
    """A 3-character code prefix with a letter no ticket uses yet (seeded codes are hex)."""
    row = conn.execute(
        "SELECT p FROM (SELECT a || b || c AS p FROM regexp_split_to_table('GHIJKLMNOPQRSTUVWXYZ',"
        " '') a, regexp_split_to_table(%(chars)s, '') b, regexp_split_to_table(%(chars)s, '') c)"
        " prefixes WHERE NOT EXISTS (SELECT 1 FROM tickets_ticket t WHERE t.code LIKE p || '%%')"
        " LIMIT 1",
        {"chars": CODE_CHARS},
    ).fetchone()
    if row is None:
        raise SystemExit("pgbench baseline: no free ticket code prefix")
    return str(row[0])


def level_run(
    dsn: str,
    info: dict[str, Any],
    concurrency: int,
    *,
    duration: float,
    warmup: float,
    probe: CpuProbe,
) -> LevelResult:
    """pgbench placements at `concurrency` clients: warm-up, then `duration` measured."""
    binary = pgbench_path()
    if binary is None:
        raise SystemExit("pgbench is not installed (apt-get install postgresql-client)")
    args, env = pgbench_connection(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE}")
        next_value = conn.execute(f"SELECT nextval('{SEQUENCE}')").fetchone()
        start = int(next_value[0]) if next_value else 1
        prefix = _free_prefix(conn)
    work = Path(tempfile.mkdtemp(prefix="pgbench-"))
    (work / "placement.sql").write_text(script(info))
    defines = [
        f"--define={name}={value}"
        for name, value in variables(info, prefix=prefix, start=start).items()
    ]
    threads = str(min(concurrency, os.cpu_count() or 1))
    common = [binary, "-n", "-M", "prepared", "-f", "placement.sql", *defines]
    common += ["-c", str(concurrency), "-j", threads]
    if warmup > 0:
        subprocess.run(
            [*common, "-T", str(max(1, round(warmup))), *args],
            env=env,
            cwd=work,
            check=True,
            capture_output=True,
        )
    before_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = probe.sample()  # pgbench's backends start after it: counted from 0
    seconds = max(1, round(duration))
    started = time.monotonic()
    running = subprocess.Popen(
        [*common, "-T", str(seconds), "--log", "--log-prefix=tx", *args],
        env=env,
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The backends end with pgbench: read their CPU just before it stops, and scale.
    time.sleep(max(0.0, seconds - 0.25))
    after = probe.sample()
    sampled = time.monotonic() - started
    stdout, stderr = running.communicate()
    elapsed = time.monotonic() - started
    after_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = ClientResult(
        cpu_seconds=(after_cpu.ru_utime - before_cpu.ru_utime)
        + (after_cpu.ru_stime - before_cpu.ru_stime)
    )
    for log in work.glob("tx.*"):
        for line in log.read_text().splitlines():
            fields = line.split()
            # client_id transaction_no latency_us script_no epoch epoch_us (failed: "failed")
            if len(fields) >= 3 and fields[2].isdigit():
                result.completed += 1
                result.latencies.append(int(fields[2]) / 1_000_000)
            else:
                result.errors += 1
    failed = re.search(r"number of failed transactions: (\d+)", stdout)
    if running.returncode != 0 or (failed and int(failed[1])):
        result.errors += max(1, int(failed[1]) if failed else 0)
        result.error_samples.append((stderr or stdout)[-300:])
    shutil.rmtree(work, ignore_errors=True)
    return LevelResult(
        kind="pgbench",
        concurrency=concurrency,
        duration=min(elapsed, float(seconds)),
        client=result,
        server_cpu=0.0,
        db_cpu=cpu_used(before, after, "db") * seconds / sampled,
    )
