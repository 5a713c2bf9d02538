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
import gc
import io
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from jackpot.api.paths import API_PREFIXES, ARRIVED

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


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
        self._pool: _Threads | None = None
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
        self._pool = _Threads(self.threads, self._call)
        # The application's ~135,000 objects loaded so far live as long as the process: out
        # of the cyclic collector's reach, a full collection (which holds the GIL, so every
        # request thread waits) no longer walks them (benchmarks/gc_pause.py: 65 ms at rest).
        gc.freeze()

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":  # websockets: not served
            return
        if scope.path == "/health":
            # Liveness, on the event loop: not behind Django's threads (which a stalled
            # database can hold), not behind ALLOWED_HOSTS (load balancers probe by IP).
            protocol.response_bytes(200, _JSON_HEADERS, _HEALTHY)
            return
        arrived = time.time()  # the operator's rate counts requests when they arrive
        limit = self.api_body_bytes if scope.path.startswith(API_PREFIXES) else self.max_body_bytes
        try:
            if _without_body(scope):
                body = b""
            else:
                async with asyncio.timeout(self.body_seconds):
                    body = await _read_body(scope, protocol, limit)
        except TooLarge:
            return _refuse(protocol, 413, f"Request body is larger than {limit} bytes.")
        except TimeoutError:
            return _refuse(protocol, 408, "The request body did not arrive in time.")
        except Exception:  # the client went away (granian's ProtocolClosed)
            return None
        assert self._pool is not None  # __rsgi_init__ ran
        status, headers, chunks = await self._pool.run(self._environ(scope, body, arrived))
        protocol.response_bytes(status, headers, chunks)
        return None

    def _call(self, environ: dict[str, Any]) -> Answer:
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

    def _environ(self, scope: Any, body: bytes, arrived: float) -> dict[str, Any]:
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
            ARRIVED: arrived,
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


Answer = tuple[int, list[tuple[str, str]], bytes]
_JSON_HEADERS = [("content-type", "application/json")]
_HEALTHY = b'{"status":"ok"}'


class _Threads:
    """`count` threads running `call(environ)` for the event loop, one request at a time each.

    What `loop.run_in_executor` does, without its two chained futures per call (a
    concurrent one, an asyncio one, callbacks between them): a job queue in C and one
    `call_soon_threadsafe` per answer. It was a sixth of the server's CPU on a 304 poll
    (docs/performance.md § Bet Card API)."""

    def __init__(self, count: int, call: Callable[[dict[str, Any]], Answer]) -> None:
        self._call = call
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"request-{number}", daemon=True)
            for number in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def run(self, environ: dict[str, Any]) -> asyncio.Future[Answer]:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._jobs.put((future, environ))
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, environ = job
            loop = future.get_loop()
            try:
                answer = self._call(environ)
            except BaseException as error:
                loop.call_soon_threadsafe(_settle, future, None, error)
            else:
                loop.call_soon_threadsafe(_settle, future, answer, None)

    def shutdown(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()


def _settle(
    future: asyncio.Future[Answer], answer: Answer | None, error: BaseException | None
) -> None:
    if future.cancelled():  # the client went away meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(answer)  # type: ignore[arg-type]


def _no_write(data: bytes) -> None:
    raise NotImplementedError("WSGI write() is not supported: return the body instead")


def _without_body(scope: Any) -> bool:
    """An HTTP/1 request that declares no body (no Content-Length, or 0, and no
    Transfer-Encoding) has none: nothing to wait for (most GETs)."""
    headers = scope.headers
    return (
        scope.http_version.startswith("1")
        and headers.get("content-length", "0") == "0"
        and headers.get("transfer-encoding") is None
    )


async def _read_body(scope: Any, protocol: Any, limit: int) -> bytes:
    """The whole body, or TooLarge past `limit` bytes. A declared length is checked before
    reading and the body then read by granian in one call (`await protocol()`); a body of
    unknown length (chunked) is read chunk by chunk, counting."""
    declared = scope.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise TooLarge
        return bytes(await protocol())
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
