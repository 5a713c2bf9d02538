"""The request rate per operator (contract.md § Limits), counted in Redis by every node.

Implements "Request rate (default 100 per second on /be/ and /bc/ together; 0 = none):
above it 429 code 129 with a Retry-After header ... If the shared counter cannot be
reached, requests pass (availability first) and the engine logs and counts it."

A fixed window of one second per operator, counted in the second the request *arrived*
(the web server notes it, jackpot.rsgi): requests held up by a stalled database and
released together count in the seconds they were sent, so the backlog does not trip the
operator's own limit. One Redis round trip per request: the `limits` library's Redis
storage (alisaifee/limits, the rate limiter behind Flask-Limiter and SlowAPI) increments
the window's key with its expiry in one Lua call. Chosen over django-ratelimit, whose
per-view decorators count in Django's cache framework: here the limit belongs to the
operator, not to a view, and is checked once per request for both APIs.

When Redis fails, the request passes, the failure is counted
(`jackpot_rate_limit_unavailable_total`) and logged, and the counter is left alone for
`RATE_LIMIT_PAUSE_SECONDS`, so that a Redis that is down or hanging costs one short timeout
per pause, not one per request.
"""

from __future__ import annotations

import functools
import math
import threading
import time

import structlog
from django.conf import settings
from limits.errors import StorageError
from limits.storage import RedisStorage
from prometheus_client import Counter
from redis.exceptions import RedisError

from jackpot.core.errors import RateLimited
from operators.models import Operator

log = structlog.get_logger(__name__)

UNAVAILABLE = Counter(
    "jackpot_rate_limit_unavailable",
    "Requests let through unchecked because the rate limit counter (Redis) failed",
)
NAMESPACE = "operator"
WINDOW_EXPIRY_SECONDS = 2
"""A window's key outlives its second, for requests that arrived in it and are checked late."""


class _Breaker:
    """Skips the counter for a while after it failed (per process)."""

    def __init__(self) -> None:
        self.until = 0.0
        self.lock = threading.Lock()

    def open(self) -> None:
        with self.lock:
            self.until = time.monotonic() + settings.RATE_LIMIT_PAUSE_SECONDS

    @property
    def closed(self) -> bool:
        return time.monotonic() >= self.until


_BREAKER = _Breaker()


@functools.cache
def _storage() -> RedisStorage:
    return RedisStorage(
        settings.RATE_LIMIT_REDIS_URL,
        key_prefix="jackpot-rate",
        wrap_exceptions=True,
        socket_connect_timeout=settings.RATE_LIMIT_TIMEOUT_SECONDS,
        socket_timeout=settings.RATE_LIMIT_TIMEOUT_SECONDS,
    )


def rate_check(operator: Operator, *, arrived: float | None = None) -> None:
    """Count this request against the operator's rate in the second it `arrived` (unix
    time; now when unknown); raise RateLimited (429, 129) above the limit."""
    limit = operator.rate_limit
    if not limit or not _BREAKER.closed:
        return
    second = int(time.time() if arrived is None else arrived)
    try:
        count = _storage().incr(f"{NAMESPACE}/{operator.pk}/{second}", WINDOW_EXPIRY_SECONDS)
    except (StorageError, RedisError, OSError) as error:
        _BREAKER.open()
        UNAVAILABLE.inc()
        log.warning("rate_limit_unavailable", operator=operator.name, error=str(error))
        return
    if count > limit:
        raise RateLimited(limit=limit, retry_after=max(1, math.ceil(second + 1 - time.time())))
