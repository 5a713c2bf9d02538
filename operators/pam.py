"""PAM transport: sign a webhook body, POST it to the operator's PAM, classify the answer.

Implements the HTTP half of contract.md § PAM webhooks: headers `timestamp` and `signature`
(HMAC-SHA256 of `{timestamp}{body}` with the operator's secret, `operators.signing`), the body
sent exactly as given. It knows nothing about tickets or retries: `tickets.outbox` builds
bodies and `tickets.delivery` decides what an answer means for a delivery.

Classification: 2xx is `delivered`; 4xx is a definite `refused`, except 408 (request timeout)
and 429 (too many requests), which say "try later"; everything else (network errors,
timeouts, 5xx, a 3xx the engine does not follow, no webhook URL) is `retryable`.

Client: aiohttp on an event loop of the calling thread's own (`_Sender`), run only while a
call waits for its answers, so a pool process sends a turn of webhooks at once without
sender threads. Keep-alive connections are reused for KEEPALIVE_SECONDS; HTTP(S)_PROXY and
NO_PROXY are read once per URL; TLS is verified against the system's CA store.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

import aiohttp
import structlog
import yarl
from aiohttp.helpers import get_env_proxy_for_url
from django.conf import settings

from operators.addresses import internal_address_refused
from operators.models import Operator
from operators.signing import signature_header

log = structlog.get_logger(__name__)
T = TypeVar("T")

EXCERPT_CHARS = 2000
PLAYER_ID_MAX_CHARS = 255
_RETRYABLE_4XX = frozenset({408, 429})
# An idle keep-alive connection is dropped after this (httpx's 5 s before): most servers
# keep one 5 s or more, and a connection the PAM has closed must not take a POST.
KEEPALIVE_SECONDS = 5.0


class PamOutcome(StrEnum):
    DELIVERED = "delivered"
    REFUSED = "refused"
    RETRYABLE = "retryable"


@dataclass(frozen=True, kw_only=True)
class PamAnswer:
    """What one POST to a PAM gave. `http_status` is None when no answer came."""

    outcome: PamOutcome
    http_status: int | None
    latency_ms: int
    error: str
    excerpt: str
    player_id: str | None

    @property
    def delivered(self) -> bool:
        return self.outcome is PamOutcome.DELIVERED


def pam_post(*, operator: Operator, body: bytes, timeout: float | None = None) -> PamAnswer:
    """POST `body` (already compact JSON) to the operator's webhook URL, signed. Never raises
    for network or HTTP problems: they come back as a `retryable` or `refused` answer.
    `timeout` (seconds) replaces both the connect and the read timeout of the settings."""
    [answer] = _SENDER.get().send([_request_for(operator, body)], timeout, guarded=False)
    return answer


def pam_post_many(posts: Sequence[tuple[Operator, bytes]]) -> list[PamAnswer]:
    """`pam_post` each (operator, body), all at once (the caller sends at most
    PAM_REQUESTS_PER_PROCESS); the answers in order. Never raises: an engine error (a bug, a
    secret that does not decrypt) comes back as a `retryable` answer saying so, logged with
    its traceback."""
    requests = [_guarded_request_for(operator, body) for operator, body in posts]
    return _SENDER.get().send(requests, guarded=True)


@dataclass(frozen=True)
class _Request:
    operator: str
    url: str
    body: bytes
    headers: dict[str, str]


def _request_for(operator: Operator, body: bytes) -> _Request | PamAnswer:
    """The signed request, or the answer of a webhook that cannot be sent. Done before the
    event loop runs: it reads the operator (maybe the database) and resolves its host."""
    if not operator.webhook_url:
        return _not_sent("operator has no webhook URL")
    address = internal_address_refused(operator.webhook_url)
    if address is not None:
        return _not_sent(f"webhook URL points at the internal address {address}")
    timestamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "timestamp": timestamp,
        "signature": signature_header(
            operator.secrets_at(dt.datetime.now(dt.UTC)), timestamp, body, operator.signing
        ),
    }
    return _Request(operator.name, operator.webhook_url, body, headers)


def _guarded_request_for(operator: Operator, body: bytes) -> _Request | PamAnswer:
    try:
        return _request_for(operator, body)
    except Exception as exc:  # a bug or a broken secret must still end as a recorded attempt
        return _crashed(operator.name, exc)


def _crashed(operator: str, exc: Exception) -> PamAnswer:
    log.error("pam_post_crashed", operator=operator, exc_info=exc)
    return _not_sent(f"engine error: {type(exc).__name__}: {exc}")


class _Sender:
    """One thread's HTTP client: an asyncio event loop and an aiohttp session (a keep-alive
    pool), run only while a call waits for its answers. A turn of webhooks goes out as
    coroutines on the calling thread: a fifth of the client CPU per request of httpx on
    sender threads (benchmarks/pam_client.py), which bounded a worker's webhooks/s."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._session = self._loop.run_until_complete(self._open())
        self._proxies: dict[str, tuple[yarl.URL | None, aiohttp.BasicAuth | None]] = {}

    @staticmethod
    async def _open() -> aiohttp.ClientSession:
        at_once = settings.PAM_REQUESTS_PER_PROCESS
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=max(50, at_once), keepalive_timeout=KEEPALIVE_SECONDS
            ),
            headers={"user-agent": "jackpot-engine"},
        )

    def send(
        self,
        requests: Sequence[_Request | PamAnswer],
        timeout: float | None = None,
        *,
        guarded: bool,
    ) -> list[PamAnswer]:
        """The answers in order. `guarded`: an engine error while sending (a bug) becomes
        that request's `retryable` answer, logged, instead of raising."""
        limits = aiohttp.ClientTimeout(
            total=None,
            connect=settings.PAM_CONNECT_TIMEOUT_SECONDS if timeout is None else timeout,
            sock_read=settings.PAM_READ_TIMEOUT_SECONDS if timeout is None else timeout,
        )
        results = self._loop.run_until_complete(self._send_all(requests, limits))
        answers = []
        for request, result in zip(requests, results, strict=True):
            if isinstance(result, PamAnswer):
                answers.append(result)
            elif guarded and isinstance(result, Exception) and isinstance(request, _Request):
                answers.append(_crashed(request.operator, result))
            else:
                raise result
        return answers

    async def _send_all(
        self, requests: Sequence[_Request | PamAnswer], limits: aiohttp.ClientTimeout
    ) -> list[PamAnswer | BaseException]:
        # Between calls the loop does not run: let it read the closes a PAM sent meanwhile
        # (two turns: the read, then the connection's end) before a connection is picked, so
        # a keep-alive connection the PAM has dropped does not take a POST. aiohttp does not
        # retry a POST, and the failure would be an attempt for nothing.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return list(
            await asyncio.gather(
                *(
                    self._post(request, limits)
                    if isinstance(request, _Request)
                    else _as_is(request)
                    for request in requests
                ),
                return_exceptions=True,
            )
        )

    async def _post(self, request: _Request, limits: aiohttp.ClientTimeout) -> PamAnswer:
        proxy, proxy_auth = self._proxy_for(request.url)
        started = time.perf_counter()
        try:
            async with self._session.post(
                request.url,
                data=request.body,
                headers=request.headers,
                timeout=limits,
                allow_redirects=False,
                proxy=proxy,
                proxy_auth=proxy_auth,
            ) as response:
                raw = await response.read()
                status, charset = response.status, response.charset
        except (aiohttp.ClientError, TimeoutError) as exc:
            return PamAnswer(
                outcome=PamOutcome.RETRYABLE,
                http_status=None,
                latency_ms=_elapsed_ms(started),
                error=_error_text(exc),
                excerpt="",
                player_id=None,
            )
        return _answer_from(status, _decoded(raw, charset), latency_ms=_elapsed_ms(started))

    def _proxy_for(self, url: str) -> tuple[yarl.URL | None, aiohttp.BasicAuth | None]:
        """The proxy HTTP(S)_PROXY and NO_PROXY name for `url`, looked up once per URL
        (aiohttp's `trust_env` reads the environment on every request: 450 µs of CPU)."""
        found = self._proxies.get(url)
        if found is None:
            try:
                found = get_env_proxy_for_url(yarl.URL(url))
            except LookupError:  # no proxy for this URL
                found = (None, None)
            self._proxies[url] = found
        return found

    def close(self) -> None:
        if not self._loop.is_closed():
            self._loop.run_until_complete(self._session.close())
            self._loop.close()


async def _as_is(answer: PamAnswer) -> PamAnswer:
    return answer


def _error_text(exc: BaseException) -> str:
    """The error of an attempt without an answer, named as attempts have always named them
    (ConnectError, ConnectTimeout, ReadTimeout), whatever the HTTP library calls them."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        name = "ConnectTimeout"
    elif isinstance(exc, aiohttp.SocketTimeoutError | TimeoutError):
        name = "ReadTimeout"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        name = "ConnectError"
    else:
        name = type(exc).__name__
    return f"{name}: {exc}" if str(exc) else name


def _decoded(raw: bytes, charset: str | None) -> str:
    try:
        return raw.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return raw.decode("utf-8", errors="replace")


def _not_sent(error: str) -> PamAnswer:
    return PamAnswer(
        outcome=PamOutcome.RETRYABLE,
        http_status=None,
        latency_ms=0,
        error=error,
        excerpt="",
        player_id=None,
    )


def _answer_from(status: int, text: str, *, latency_ms: int) -> PamAnswer:
    if 200 <= status < 300:
        outcome = PamOutcome.DELIVERED
    elif 400 <= status < 500 and status not in _RETRYABLE_4XX:
        outcome = PamOutcome.REFUSED
    else:
        outcome = PamOutcome.RETRYABLE
    return PamAnswer(
        outcome=outcome,
        http_status=status,
        latency_ms=latency_ms,
        error="" if outcome is PamOutcome.DELIVERED else f"HTTP {status}",
        excerpt=text[:EXCERPT_CHARS],
        player_id=player_id_from(text) if outcome is PamOutcome.DELIVERED else None,
    )


def player_id_from(text: str) -> str | None:
    """The PAM's player id from an answer `{"player_id": ...}` (or `user_id`), if it has one."""
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    for key in ("player_id", "user_id"):
        value = parsed.get(key)
        if isinstance(value, bool) or not isinstance(value, str | int):
            continue
        candidate = str(value)
        if 0 < len(candidate) <= PLAYER_ID_MAX_CHARS:
            return candidate
    return None


def _elapsed_ms(started: float) -> int:
    return max(0, round((time.perf_counter() - started) * 1000))


class _PerThread(Generic[T]):
    """One `make()` per thread and process, made on first use. Celery's prefork pool forks
    after import, and a keep-alive pool may not be shared across a fork; an event loop runs
    on one thread at a time (the web server's threads each get their own)."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._local = threading.local()
        self._lock = threading.Lock()
        self._made: list[tuple[int, T]] = []

    def get(self) -> T:
        made = getattr(self._local, "made", None)
        if made is None or made[0] != os.getpid():
            made = self._local.made = (os.getpid(), self._make())
            with self._lock:
                self._made.append(made)
        return made[1]

    def made_here(self) -> list[T]:
        with self._lock:
            return [value for pid, value in self._made if pid == os.getpid()]


_SENDER = _PerThread(_Sender)


@atexit.register
def _senders_close() -> None:
    for sender in _SENDER.made_here():
        with contextlib.suppress(RuntimeError):  # its loop runs on a thread not yet ended
            sender.close()
