"""PAM transport: sign a webhook body, POST it to the operator's PAM, classify the answer.

Implements the HTTP half of contract.md § PAM webhooks: headers `timestamp` and `signature`
(HMAC-SHA256 of `{timestamp}{body}` with the operator's secret, `operators.signing`), the body
sent exactly as given. It knows nothing about tickets or retries: `tickets.pam_outbox` builds
bodies and decides what an answer means for a delivery.

Classification: 2xx is `delivered`; 4xx is a definite `refused`, except 408 (request timeout)
and 429 (too many requests), which say "try later"; everything else (network errors,
timeouts, 5xx, a 3xx the engine does not follow, no webhook URL) is `retryable`.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

import httpx
import structlog
from django.conf import settings

from operators.addresses import internal_address_refused
from operators.models import Operator
from operators.signing import signature

log = structlog.get_logger(__name__)
T = TypeVar("T")

EXCERPT_CHARS = 2000
PLAYER_ID_MAX_CHARS = 255
_RETRYABLE_4XX = frozenset({408, 429})


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


def default_timeout() -> httpx.Timeout:
    """Connect and read timeouts from settings; writing the small body shares the read budget."""
    return httpx.Timeout(
        connect=settings.PAM_CONNECT_TIMEOUT_SECONDS,
        read=settings.PAM_READ_TIMEOUT_SECONDS,
        write=settings.PAM_READ_TIMEOUT_SECONDS,
        pool=settings.PAM_CONNECT_TIMEOUT_SECONDS,
    )


def pam_post(
    *, operator: Operator, body: bytes, timeout: httpx.Timeout | float | None = None
) -> PamAnswer:
    """POST `body` (already compact JSON) to the operator's webhook URL, signed. Never raises
    for network or HTTP problems: they come back as a `retryable` or `refused` answer."""
    if not operator.webhook_url:
        return _not_sent("operator has no webhook URL")
    address = internal_address_refused(operator.webhook_url)
    if address is not None:
        return _not_sent(f"webhook URL points at the internal address {address}")
    timestamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "timestamp": timestamp,
        "signature": signature(operator.secret_key, timestamp, body),
    }
    started = time.perf_counter()
    try:
        response = _client().post(
            operator.webhook_url,
            content=body,
            headers=headers,
            timeout=default_timeout() if timeout is None else timeout,
        )
    except httpx.HTTPError as exc:
        return PamAnswer(
            outcome=PamOutcome.RETRYABLE,
            http_status=None,
            latency_ms=_elapsed_ms(started),
            error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
            excerpt="",
            player_id=None,
        )
    return _answer_from(response, latency_ms=_elapsed_ms(started))


def pam_post_many(posts: Sequence[tuple[Operator, bytes]]) -> list[PamAnswer]:
    """`pam_post` each (operator, body), up to PAM_REQUESTS_PER_PROCESS at once on this
    process's sender threads (the calls wait on the network, not on the CPU); the answers
    in order. Never raises: an engine error (a bug, a secret that does not decrypt) comes
    back as a `retryable` answer saying so, logged with its traceback."""
    if len(posts) <= 1:
        return [_post_guarded(post) for post in posts]
    return list(_senders().map(_post_guarded, posts))


def _post_guarded(post: tuple[Operator, bytes]) -> PamAnswer:
    operator, body = post
    try:
        return pam_post(operator=operator, body=body)
    except Exception as exc:  # a bug or a broken secret must still end as a recorded attempt
        log.exception("pam_post_crashed", operator=operator.name)
        return _not_sent(f"engine error: {type(exc).__name__}: {exc}")


def _not_sent(error: str) -> PamAnswer:
    return PamAnswer(
        outcome=PamOutcome.RETRYABLE,
        http_status=None,
        latency_ms=0,
        error=error,
        excerpt="",
        player_id=None,
    )


def _answer_from(response: httpx.Response, *, latency_ms: int) -> PamAnswer:
    status = response.status_code
    if 200 <= status < 300:
        outcome = PamOutcome.DELIVERED
    elif 400 <= status < 500 and status not in _RETRYABLE_4XX:
        outcome = PamOutcome.REFUSED
    else:
        outcome = PamOutcome.RETRYABLE
    text = response.text
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


class _PerProcess(Generic[T]):
    """One `make()` per process, made on first use. Celery's prefork pool forks after
    import, and neither a keep-alive client nor a thread pool may be shared across a fork,
    so a child makes its own."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._made: tuple[int, T] | None = None

    def get(self) -> T:
        made = self._made
        if made is None or made[0] != os.getpid():
            with self._lock:
                made = self._made
                if made is None or made[0] != os.getpid():
                    made = self._made = (os.getpid(), self._make())
        return made[1]

    def made_here(self) -> T | None:
        made = self._made
        return made[1] if made is not None and made[0] == os.getpid() else None


def _client_make() -> httpx.Client:
    at_once = settings.PAM_REQUESTS_PER_PROCESS
    return httpx.Client(
        follow_redirects=False,
        headers={"user-agent": "jackpot-engine"},
        limits=httpx.Limits(
            max_connections=max(50, at_once), max_keepalive_connections=max(20, at_once)
        ),
    )


_CLIENT = _PerProcess(_client_make)
_SENDERS = _PerProcess(
    lambda: ThreadPoolExecutor(
        max_workers=settings.PAM_REQUESTS_PER_PROCESS, thread_name_prefix="pam-post"
    )
)


def _client() -> httpx.Client:
    return _CLIENT.get()


def _senders() -> ThreadPoolExecutor:
    return _SENDERS.get()


@atexit.register
def _client_close() -> None:
    client = _CLIENT.made_here()
    if client is not None:
        client.close()
