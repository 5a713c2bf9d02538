"""Fixtures of the PAM webhook tests: a scripted local PAM, a real Celery worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.worker import CeleryWorker, RedisServer, private_broker


@pytest.fixture(scope="module")
def worker_redis(django_db_setup: None) -> Iterator[RedisServer]:
    """A private Redis for the module's worker and this process's kicks (tests stop it)."""
    with private_broker() as redis:
        yield redis


@pytest.fixture
def empty_broker(worker_redis: RedisServer) -> RedisServer:
    """The module's private Redis, running and empty (a test reads what was queued)."""
    if not worker_redis.running:
        worker_redis.start()
    with worker_redis.client() as client:
        client.flushdb()
    return worker_redis


@pytest.fixture(scope="module")
def _module_worker(
    worker_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CeleryWorker]:
    # One worker for the module: starting one takes seconds on a busy machine.
    worker = CeleryWorker(
        broker_url=worker_redis.url, log_dir=tmp_path_factory.mktemp("worker"), env={}
    )
    yield worker.start()
    worker.stop()


@pytest.fixture
def celery_worker(_module_worker: CeleryWorker, worker_redis: RedisServer) -> CeleryWorker:
    """The module's worker, running (an earlier test may have killed it or stopped Redis)."""
    if not worker_redis.running:
        worker_redis.start()
    if not _module_worker.running:
        _module_worker.start()
    return _module_worker
