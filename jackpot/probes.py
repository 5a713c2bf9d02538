"""What a load balancer, an orchestrator and Prometheus ask the web server.

- `/health`: liveness, answers without touching anything (restart the process if it fails);
  under granian the web server answers it on its event loop before Django (jackpot.rsgi),
  so neither busy request threads nor the Host header can fail it; this view answers it
  under any other server;
- `/ready`: readiness, checks PostgreSQL (`SELECT 1`) and the broker (Redis `PING`), each
  bounded by about a second, and answers 503 naming what is down (send no traffic here);
- `/metrics`: Prometheus metrics of every web process added up (multiprocess mode), only
  with `Authorization: Bearer <METRICS_TOKEN>`; 404 without the setting (docs/running.md).
"""

from __future__ import annotations

import functools
import hmac

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django_prometheus.exports import ExportToDjangoView

from jackpot.core.postgres.deadline import database_deadline

PROBE_TIMEOUT_SECONDS = 1.0


def health(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers."""
    return JsonResponse({"status": "ok"})


def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when PostgreSQL and the broker both answer, else 503 naming them."""
    checks = {"database": _database_answers(), "broker": _broker_answers()}
    up = all(checks.values())
    return JsonResponse(
        {"status": "ready" if up else "unavailable"}
        | {name: "ok" if ok else "down" for name, ok in checks.items()},
        status=200 if up else 503,
        headers=None if up else {"Retry-After": "1"},
    )


def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        return JsonResponse({"detail": "Metrics need the METRICS_TOKEN bearer token."}, status=401)
    response: HttpResponse = ExportToDjangoView(request)
    return response


def _database_answers() -> bool:
    try:
        with database_deadline(PROBE_TIMEOUT_SECONDS), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            row = cursor.fetchone()
        return bool(row == (1,))
    except DatabaseError:
        connection.close_if_unusable_or_obsolete()
        return False


@functools.cache
def _broker() -> redis.Redis:
    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
        socket_timeout=PROBE_TIMEOUT_SECONDS,
    )


def _broker_answers() -> bool:
    try:
        return bool(_broker().ping())
    except (redis.RedisError, OSError):
        return False
