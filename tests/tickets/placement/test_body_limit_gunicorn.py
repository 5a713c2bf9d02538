"""413 for bodies over 64 KiB under gunicorn, the deployment server, with and without a
Content-Length (contract.md § Authentication). Django's test client and runserver cannot
send a chunked body, so this starts a real gunicorn; the 413 is decided before any
database access."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.worker import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def gunicorn_url() -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "jackpot.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            "2",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "jackpot.settings"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _chunks(total: int, size: int = 8192) -> Iterator[bytes]:
    yield b'{"token": "'
    sent = 11
    while sent < total:
        yield b"x" * size
        sent += size


def test_chunked_body_over_the_limit_is_413(gunicorn_url):
    response = httpx.post(
        f"{gunicorn_url}/be/tickets",
        content=_chunks(1024 * 1024),
        headers={"content-type": "application/json"},
        timeout=30,
    )

    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json() == {"detail": f"Request body is larger than {LIMIT} bytes."}


def test_declared_body_over_the_limit_is_413(gunicorn_url):
    response = httpx.post(
        f"{gunicorn_url}/be/tickets",
        content=b"{" + b" " * LIMIT + b"}",
        headers={"content-type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 413


def test_small_chunked_body_reaches_authentication(gunicorn_url):
    response = httpx.post(
        f"{gunicorn_url}/be/tickets",
        content=iter([b'{"operator":', b' "acme"}']),
        headers={"content-type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 403
