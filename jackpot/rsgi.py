"""The engine behind granian: the request is read without a thread, then Django runs on one.

Granian's HTTP layer is asynchronous (Rust, tokio), so a client that trickles its headers
holds no Python thread. A WSGI app under granian, though, is called as soon as the headers
are in, and a client that trickles its body would hold a thread while Django reads
`wsgi.input` (13 such clients stopped gunicorn's 3 × 4 threads). So the engine is served
through granian's RSGI interface instead: `BufferedWsgi` reads the whole body on the event
loop (refused with 413 past `max_body_bytes` and 408 past `body_seconds`), and only then
runs Django's WSGI application on a thread of the worker's pool with the body in memory.
Threads are spent on requests that are ready to be answered, never on slow clients.

    granian --interface rsgi jackpot.rsgi:application   (see `jackpot.serve`)
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

API_PREFIXES = ("/be/", "/bc/")


class TooLarge(Exception):
    """The body went past the limit while it was being read."""


class BufferedWsgi:
    """An RSGI application serving a WSGI one (see the module docstring).

    `api_body_bytes` is the limit under /be/ and /bc/ (contract: 413 past 64 KiB, whether
    or not a Content-Length is declared), `max_body_bytes` elsewhere (the back office's
    catalogue upload). Each granian worker process has its own pool of `threads`.
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        threads: int,
        api_body_bytes: int,
        max_body_bytes: int,
        body_seconds: float,
    ) -> None:
        self.app = app
        self.threads = threads
        self.api_body_bytes = api_body_bytes
        self.max_body_bytes = max_body_bytes
        self.body_seconds = body_seconds
        self._pool: ThreadPoolExecutor | None = None
        self._base: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "SCRIPT_NAME": "",
            "SERVER_SOFTWARE": "granian (jackpot.rsgi)",
        }

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # In each worker process, after granian started it: threads do not survive a fork.
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="request")

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":  # websockets: not served
            return
        limit = self.api_body_bytes if scope.path.startswith(API_PREFIXES) else self.max_body_bytes
        try:
            body = await asyncio.wait_for(_read_body(protocol, limit), self.body_seconds)
        except TooLarge:
            return _refuse(protocol, 413, f"Request body is larger than {limit} bytes.")
        except TimeoutError:
            return _refuse(protocol, 408, "The request body did not arrive in time.")
        except Exception:  # the client went away (granian's ProtocolClosed)
            return None
        environ = self._environ(scope, body)
        loop = asyncio.get_running_loop()
        status, headers, chunks = await loop.run_in_executor(self._pool, self._call, environ)
        protocol.response_bytes(status, headers, chunks)
        return None

    def _call(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        """Run the WSGI app on a pool thread; its whole answer, as RSGI sends it."""
        answer: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
            answer[:] = [int(status.split(" ", 1)[0]), headers]
            return _no_write

        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return answer[0], answer[1], body

    def _environ(self, scope: Any, body: bytes) -> dict[str, Any]:
        server_host, _, server_port = scope.server.rpartition(":")
        client_host, _, client_port = scope.client.rpartition(":")
        environ = {
            **self._base,
            "REQUEST_METHOD": scope.method,
            # PEP 3333: the decoded path as bytes read as latin-1; granian gives UTF-8 text.
            "PATH_INFO": scope.path.encode().decode("latin-1"),
            "QUERY_STRING": scope.query_string,
            "SERVER_NAME": server_host,
            "SERVER_PORT": server_port,
            "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
            "REMOTE_ADDR": client_host.strip("[]"),
            "REMOTE_PORT": client_port,
            "wsgi.url_scheme": scope.scheme,
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)),
        }
        for name, value in scope.headers.items():
            if "_" in name:  # WSGI maps `-` to `_`: `x_forwarded` must not pass as `x-forwarded`
                continue
            if name == "content-type":
                environ["CONTENT_TYPE"] = value
            elif name not in ("content-length", "transfer-encoding"):
                key = "HTTP_" + name.upper().replace("-", "_")
                earlier = environ.get(key)
                environ[key] = value if earlier is None else f"{earlier},{value}"
        return environ


def _no_write(data: bytes) -> None:
    raise NotImplementedError("WSGI write() is not supported: return the body instead")


async def _read_body(protocol: Any, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in protocol:
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse(protocol: Any, status: int, detail: str) -> None:
    protocol.response_bytes(
        status,
        [("content-type", "application/json"), ("connection", "close")],
        orjson.dumps({"detail": detail}),
    )


def buffered(wsgi_application: WSGIApp) -> BufferedWsgi:
    """`wsgi_application` served as RSGI with the settings' threads and limits."""
    from django.conf import settings

    return BufferedWsgi(
        wsgi_application,
        threads=settings.WEB_THREADS,
        api_body_bytes=settings.MAX_REQUEST_BODY_BYTES,
        max_body_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
        body_seconds=settings.REQUEST_BODY_SECONDS,
    )


def _application() -> BufferedWsgi:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jackpot.settings")
    from jackpot.wsgi import application as wsgi_application

    return buffered(wsgi_application)


application = _application()
