"""The shipped front proxy (deploy/nginx.conf, docker compose's `proxy`) in front of a test
web server: the same file, with its upstream and listen address replaced and its files in
a temporary directory.

    with WebServer() as server, FrontProxy(server.port) as proxy:
        httpx.get(f"{proxy.url}/health")
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

from tests.support.worker import ROOT, free_port

CONFIG = ROOT / "deploy" / "nginx.conf"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(path).exists()),
        None,
    )


class FrontProxy:
    def __init__(self, upstream_port: int, *, port: int | None = None) -> None:
        self.upstream_port = upstream_port
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.directory = Path(tempfile.mkdtemp(prefix="front-proxy-"))
        self.process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        text = CONFIG.read_text()
        for shipped, here in (
            ("server web:8000;", f"server 127.0.0.1:{self.upstream_port};"),
            ("listen 8080 default_server;", f"listen 127.0.0.1:{self.port} default_server;"),
            ("worker_processes auto;", "worker_processes 1;"),
            ("error_log /dev/stderr warn;", f"error_log {self.directory}/error.log warn;"),
        ):
            assert shipped in text, shipped
            text = text.replace(shipped, here)
        # Its own pid and temporary files, writable by the worker (nobody, when run as root).
        return f"pid {self.directory}/nginx.pid;\n{text}".replace(
            "http {\n",
            "http {\n"
            + "".join(
                f"    {kind}_temp_path {self.directory}/{kind};\n"
                for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            ),
            1,
        )

    def start(self, *, timeout: float = 10.0) -> FrontProxy:
        binary = nginx_binary()
        assert binary is not None, "nginx is not installed"
        os.chmod(self.directory, 0o777)
        path = self.directory / "nginx.conf"
        path.write_text(self.config())
        with (self.directory / "stderr.log").open("wb") as log:
            self.process = subprocess.Popen(
                [binary, "-p", str(self.directory), "-c", str(path), "-g", "daemon off;"],
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(f"{self.url}/health", timeout=1)
                return self
            except httpx.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    printed = (self.directory / "stderr.log").read_text()
                    self.stop()
                    raise RuntimeError(f"nginx did not start:\n{printed}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> FrontProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
