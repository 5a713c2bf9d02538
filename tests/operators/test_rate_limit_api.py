"""The request rate per operator (contract.md § Limits): 429 code 129 with Retry-After,
counted in Redis across every process, and requests let through when Redis is down."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client import REGISTRY

from jackpot.api.paths import ARRIVED
from operators import rate
from tests.factories import OperatorFactory
from tests.support.api import signed_get, signed_headers, signed_post
from tests.support.sample import sample_request, sample_setup
from tests.support.web import WebServer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_limiter():
    """Each test builds the limiter from its settings; none inherits an open breaker."""
    rate._storage.cache_clear()
    rate._BREAKER.until = 0.0
    yield
    rate._storage.cache_clear()
    rate._BREAKER.until = 0.0


def statuses(client, operator, count, path="/bc/jackpots"):
    return [signed_get(client, operator, path).status_code for _ in range(count)]


def test_above_the_rate_is_429_code_129_with_retry_after(client):
    operator = OperatorFactory(rate_limit=3)

    answers = [signed_get(client, operator, "/bc/jackpots") for _ in range(5)]

    assert [answer.status_code for answer in answers[:3]] == [200, 200, 200]
    refused = answers[3]
    assert refused.status_code == 429
    assert refused.json() == {
        "code": 129,
        "message": "Rate limit of 3 requests per second exceeded",
    }
    assert int(refused["Retry-After"]) >= 1


def test_a_request_counts_in_the_second_it_arrived_not_when_it_is_answered(client):
    # given: requests held up (a stalled database) and answered together now: each arrived
    # in its own second (the web server notes it in the environ, jackpot.rsgi)
    operator = OperatorFactory(rate_limit=2)
    now = time.time()

    def sent_at(arrived: float) -> int:
        response = client.get(
            "/bc/jackpots",
            **{
                f"HTTP_{k.upper().replace('-', '_')}": v
                for k, v in signed_headers(operator, b"").items()
            },
            **{ARRIVED: arrived},
        )
        return int(response.status_code)

    backlog = [sent_at(now - seconds) for seconds in (5, 5, 4, 4, 3, 3)]
    same_second = [sent_at(now - 2) for _ in range(3)]

    # then: two per second pass; only a third in one second is refused
    assert backlog == [200] * 6
    assert same_second == [200, 200, 429]


def test_be_and_bc_count_together(client):
    sample = sample_setup(rate_limit=3)
    signed_get(client, sample.operator, "/bc/jackpots")
    signed_post(client, sample.operator, "/be/tickets", sample_request())
    signed_get(client, sample.operator, "/be/tickets")

    refused = signed_post(client, sample.operator, "/be/tickets", sample_request(token="t2"))

    assert refused.status_code == 429
    assert refused.json()["code"] == 129


def test_zero_means_no_limit(client):
    operator = OperatorFactory(rate_limit=0)

    assert set(statuses(client, operator, 15)) == {200}


def test_each_operator_has_its_own_count(client):
    busy, quiet = OperatorFactory(rate_limit=2), OperatorFactory(rate_limit=2)

    statuses(client, busy, 3)

    assert statuses(client, quiet, 2) == [200, 200]


def test_the_rate_is_checked_after_authentication(client):
    operator = OperatorFactory(rate_limit=1)
    statuses(client, operator, 2)

    unsigned = signed_get(client, operator, "/bc/jackpots", headers={"signature": None})

    assert unsigned.status_code == 403


def test_when_redis_is_down_requests_pass_and_it_is_counted(client, settings):
    # given: the counter's store does not answer
    settings.RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:9/0"
    operator = OperatorFactory(rate_limit=1)
    before = REGISTRY.get_sample_value("jackpot_rate_limit_unavailable_total") or 0

    # when
    answers = statuses(client, operator, 5)

    # then: every request passed; one failure counted, then the counter is left alone
    assert set(answers) == {200}
    after = REGISTRY.get_sample_value("jackpot_rate_limit_unavailable_total") or 0
    assert after - before == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_web_processes_share_one_rate():
    # given: two servers (as two nodes would be), one operator allowed 4 requests a second
    operator = OperatorFactory(rate_limit=4)
    with WebServer() as first, WebServer() as second, httpx.Client() as http:
        # when: 3 go to one, then 3 to the other, within the same second
        def get(server: WebServer) -> int:
            headers = signed_headers(operator, b"")
            return http.get(f"{server.url}/bc/jackpots", headers=headers).status_code

        # at the start of a second, so that the six fall in one window (one second each)
        time.sleep(1.02 - time.time() % 1)
        answers = [get(first) for _ in range(3)] + [get(second) for _ in range(3)]

    # then: the second server refused what the first had already counted
    assert answers.count(200) <= 4
    assert 429 in answers[3:]
