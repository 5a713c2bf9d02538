"""Prometheus counters of the outbox and of webhook delivery (docs/webhooks.md § Metrics).

The web processes expose them at /metrics (jackpot.probes; there only the wakes move), the
worker through `worker_metrics_serve` when `WORKER_METRICS_PORT` is set. With
`PROMETHEUS_MULTIPROC_DIR` set, prometheus_client's multiprocess mode adds up every
process's values (each writes them to a file there), so a scrape says the same whichever
process answers.
"""

from __future__ import annotations

import os

import structlog
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)

log = structlog.get_logger(__name__)

ATTEMPTS = Counter(
    "jackpot_pam_webhook_attempts_total",
    "HTTP attempts to deliver a PAM webhook, by action and outcome",
    ["action", "outcome"],
)
ATTEMPT_SECONDS = Histogram(
    "jackpot_pam_webhook_attempt_seconds",
    "Duration of one HTTP attempt (answer or failure), by action",
    ["action"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DELIVERY_LAG_SECONDS = Histogram(
    "jackpot_pam_webhook_delivery_lag_seconds",
    "Time from queueing a webhook to the PAM's 2xx, by action",
    ["action"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
RETRIES_SCHEDULED = Counter(
    "jackpot_pam_webhook_retries_scheduled_total",
    "Failed attempts followed by a scheduled retry, by action",
    ["action"],
)
GAVE_UP = Counter(
    "jackpot_pam_webhook_gave_up_total",
    "Webhooks given up (ticket_create refused or out of time), by action and reason",
    ["action", "reason"],
)
LATE_SUCCESSES = Counter(
    "jackpot_pam_ticket_create_late_successes_total",
    "ticket_create accepted by the PAM after the ticket was discarded (needs reconciliation)",
)
KICKS = Counter(
    "jackpot_pam_outbox_kicks_total",
    "Deliveries handed to the broker (a kick, or in a sweep's batch message): published, "
    "failed (broker down) or skipped (broker recently down; the sweep sends the row)",
    ["result"],
)
SWEPT = Counter(
    "jackpot_pam_outbox_swept_total",
    "Overdue deliveries handed out by the periodic sweep (kick lost or late, or never kicked)",
)
DEFERRED = Counter(
    "jackpot_pam_operator_deferred_total",
    "Deliveries a batch task put at the back of the queue: their operator's PAM had used up "
    "its share of the task (PAM_OPERATOR_SHARE_SECONDS)",
)
DUE = Gauge(
    "jackpot_pam_outbox_due",
    "Overdue deliveries (not in flight) the last sweep found: handed out plus left for later"
    " (including rows waiting for an earlier webhook of their ticket)",
    multiprocess_mode="mostrecent",
)


_serving_in: set[int] = set()  # process ids already serving (one server per process)


def multiprocess_mode() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def worker_metrics_serve(*, port: int, addr: str) -> None:
    """Serve the metrics over HTTP on `addr:port` (a worker has no web server): every pool
    process's added up in multiprocess mode, else this process's.

    Once per process: Celery may send both signals that call this to the same process.
    """
    if os.getpid() in _serving_in:
        return
    registry = REGISTRY
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    try:
        start_http_server(port, addr=addr, registry=registry)
    except OSError as exc:
        log.warning("worker_metrics_port_unavailable", port=port, error=str(exc))
        return
    _serving_in.add(os.getpid())
    log.info("worker_metrics_serving", port=port)
