"""The suite's own broker database (tests/support/environment.py)."""

from __future__ import annotations

from django.conf import settings

from tests.support.environment import TEST_REDIS_DB, redis_database


def test_the_suite_publishes_to_its_own_redis_database():
    assert settings.CELERY_BROKER_URL.endswith(f"/{TEST_REDIS_DB}")


def test_redis_database_rewrites_tcp_and_socket_urls():
    assert redis_database("redis://127.0.0.1:6379/0", 14) == "redis://127.0.0.1:6379/14"
    assert redis_database("redis://h:1", 3) == "redis://h:1/3"
    assert redis_database("unix:///tmp/r.sock?db=0", 14) == "unix:///tmp/r.sock?db=14"
