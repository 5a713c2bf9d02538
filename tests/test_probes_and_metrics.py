"""/health (liveness), /ready (readiness: PostgreSQL and the broker) and /metrics (every web
process's counters added up, behind METRICS_TOKEN). docs/running.md § Probes and metrics.
The database side of /ready is tested under an outage (tests/test_database_outage.py)."""

from __future__ import annotations

import re

import httpx
import pytest

from jackpot import probes
from tests.support.web import WebServer
from tests.support.worker import free_port

pytestmark = pytest.mark.django_db


def test_liveness_answers_without_services(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_readiness_checks_database_and_broker(client):
    response = client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "broker": "ok"}


def test_readiness_is_503_naming_the_broker_when_it_is_down(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    probes._broker.cache_clear()
    try:
        response = client.get("/ready")
    finally:
        probes._broker.cache_clear()

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json() == {"status": "unavailable", "database": "ok", "broker": "down"}


def test_metrics_are_404_without_a_token_configured(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_token(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"

    refused = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    allowed = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")

    assert (refused.status_code, wrong.status_code, allowed.status_code) == (401, 401, 200)
    assert b"jackpot_pam_outbox_kicks_total" in allowed.content


@pytest.mark.slow
def test_every_web_process_reports_the_same_totals():
    # given: three web processes, and 30 requests spread over them
    scrape = {"authorization": "Bearer t0ken", "connection": "close"}
    with (
        WebServer(env={"WEB_WORKERS": "3", "METRICS_TOKEN": "t0ken"}) as server,
        httpx.Client() as http,
    ):
        for _ in range(30):
            # /ready: a view of Django's (/health is answered before Django, uncounted)
            http.get(f"{server.url}/ready", headers={"connection": "close"})

        # when: /metrics is scraped four times (each may reach another process)
        scrapes = [http.get(f"{server.url}/metrics", headers=scrape).text for _ in range(4)]

    # then: every scrape adds up all processes' counters
    totals = [_ready_requests(text) for text in scrapes]
    assert totals == [totals[0]] * 4
    assert totals[0] >= 30


def _ready_requests(text: str) -> float:
    pattern = r'^django_http_responses_total_by_status_view_method_total\{.*view="ready".*\} (\S+)$'
    return sum(float(value) for value in re.findall(pattern, text, re.M))
