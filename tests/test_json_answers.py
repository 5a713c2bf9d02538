"""Under /be/, /bc/ and the probes every answer is JSON, whatever the path or the Host
header (jackpot/api/answers.py); `/health` answers any Host, before Django (jackpot.rsgi)."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.factories import OperatorFactory
from tests.support.api import signed_get
from tests.support.web import WebServer

UNKNOWN_PATHS = [
    "/be/tickets/",
    "/be/nothing",
    "/bc/nothing",
    "/bc/jackpots/",
    "/be/tickets/..%2F..%2Fadmin",
    "/be/tickets/abc/paid/",
    "/be/",
    "/bc/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_an_unknown_api_path_is_a_json_404(client, path):
    operator = OperatorFactory()

    response = signed_get(client, operator, path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not Found."}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/be/tickets", "/bc/jackpots", "/ready", "/metrics"])
@pytest.mark.parametrize("host", ["evil.example", "bad host!", "10.0.0.1:8000"])
def test_a_bad_host_is_a_json_400_and_one_log_line_without_traceback(client, caplog, path, host):
    operator = OperatorFactory()
    caplog.set_level(logging.INFO)

    response = signed_get(client, operator, path, headers={"Host": host})

    assert response.status_code == 400
    assert response.json() == {"detail": "The Host header is not one this server answers."}
    records = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert [record.getMessage() for record in records] == [
        f"disallowed_host host={host!r} path={path}"
    ]
    assert records[0].exc_info is None


@pytest.mark.django_db
def test_the_back_office_logs_a_bad_host_in_one_line_without_traceback(client, caplog, settings):
    # Django logs DisallowedHost with its traceback; the logging settings drop it
    logger = logging.getLogger("django.security.DisallowedHost")
    handler = logger.handlers[0]
    lines: list[str] = []
    original = handler.emit
    handler.emit = lambda record: lines.append(handler.format(record))  # type: ignore[method-assign]
    try:
        response = client.get("/admin/login/", HTTP_HOST="evil.example")
    finally:
        handler.emit = original  # type: ignore[method-assign]

    assert response.status_code == 400
    assert len(lines) == 1
    assert "Traceback" not in lines[0]
    assert "Invalid HTTP_HOST header: 'evil.example'" in lines[0]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_health_answers_any_host_on_the_production_server():
    with WebServer() as server:
        for host in ("10.1.2.3", "evil.example", "bad host!"):
            response = httpx.get(f"{server.url}/health", headers={"Host": host})

            assert response.status_code == 200
            assert response.json() == {"status": "ok"}
        bad = httpx.get(f"{server.url}/be/nothing", headers={"Host": "127.0.0.1"})

    assert bad.status_code == 404
    assert bad.json() == {"detail": "Not Found."}
