"""The production web server (`python -m jackpot.serve`: granian and jackpot.rsgi) in a
subprocess, on the test database, for tests that need a real HTTP server: chunked and slow
bodies, slow clients, a database that goes away, several servers sharing one database.

    with WebServer(env={"WEB_THREADS": "2"}) as server:    # in a transaction=True test
        httpx.post(f"{server.url}/be/tickets", ...)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

from tests.support.worker import ROOT, free_port, worker_database_url


class WebServer:
    def __init__(self, *, env: dict[str, str] | None = None, database_url: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env or {}
        self.database_url = database_url
        self.log = Path(tempfile.mkstemp(prefix="web-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 60.0) -> WebServer:
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "jackpot.settings",
            "DJANGO_READ_DOT_ENV_FILE": "false",
            "DATABASE_URL": self.database_url or worker_database_url(),
            "WEB_BIND": f"127.0.0.1:{self.port}",
            "WEB_WORKERS": "1",
            "WEB_ACCESS_LOG": "false",
            "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="web-metrics-"),
            **self.env,
        }
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "jackpot.serve"],
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(f"{self.url}/health", timeout=1)
                return self
            except httpx.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"the web server did not start:\n{self.output()}") from None
                time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
