"""What the operator API's handler records per request (`settings.API_MIDDLEWARE`).

A counter by view, method and status and a latency histogram by view: two metric updates
per request. django-prometheus's middleware makes about a dozen (methods, transports, body
sizes, views, statuses, latencies...), which on a 304 poll of the Bet Card API cost as much
CPU as the rest of Django (docs/performance.md § Bet Card API). The back office, docs and
probes keep django-prometheus's full set (`settings.MIDDLEWARE`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from prometheus_client import Counter, Histogram

API_REQUESTS = Counter(
    "jackpot_api_requests",
    "Operator API (/be/, /bc/) requests answered, by view, method and status",
    ["view", "method", "status"],
)
API_SECONDS = Histogram(
    "jackpot_api_request_seconds",
    "Time Django took to answer an operator API request, by view",
    ["view"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class ApiMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        view = match.view_name if match is not None else "<unresolved>"
        API_SECONDS.labels(view).observe(time.perf_counter() - started)
        API_REQUESTS.labels(view, request.method, str(response.status_code)).inc()
        return response
