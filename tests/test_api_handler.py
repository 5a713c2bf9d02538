"""The production server's API handler (jackpot.wsgi): /be/ and /bc/ without the browser's
middleware, their own two metrics, and Bet Card answers kept in the server's memory that a
committed change still reaches at once (jackpot.core.change_feed)."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from betcards.models import Bet
from tests.factories import BetcardFactory, OperatorFactory
from tests.support.api import signed_headers
from tests.support.web import WebServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_api_requests_skip_the_browser_middleware_and_are_counted():
    operator = OperatorFactory()
    card = BetcardFactory(events=1)
    with (
        WebServer(env={"METRICS_TOKEN": "t0ken"}) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        # when
        first = http.get(f"/bc/jackpots/{card.code}", headers=signed_headers(operator, b""))
        again = http.get(
            f"/bc/jackpots/{card.code}",
            headers={**signed_headers(operator, b""), "if-none-match": first.headers["etag"]},
        )
        site = http.get("/admin/login/")
        docs = http.get("/be/docs")  # under /be/ too: rendered without the site's middleware
        metrics = http.get("/metrics", headers={"authorization": "Bearer t0ken"}).text

    # then
    assert (first.status_code, again.status_code) == (200, 304)
    assert "x-frame-options" not in first.headers  # clickjacking middleware: the site's only
    assert "vary" not in first.headers  # no session or CSRF cookie machinery
    assert site.headers["x-frame-options"] == "DENY"
    assert docs.status_code == 200
    assert _sample(metrics, "betcard-detail", "304") == 1
    assert _sample(metrics, "betcard-detail", "200") == 1


def _sample(metrics: str, view: str, status: str) -> float:
    pattern = (
        rf'^jackpot_api_requests_total\{{method="GET",status="{status}",view="{view}"\}} (\S+)$'
    )
    found = re.findall(pattern, metrics, re.M)
    assert found, metrics[:2000]
    return float(found[0])


def test_a_committed_odds_change_reaches_the_servers_kept_answer():
    # given: the server has the card's answer in memory
    operator = OperatorFactory()
    card = BetcardFactory(events=1)
    path = f"/bc/jackpots/{card.code}"
    with WebServer() as server, httpx.Client(base_url=server.url) as http:
        etag = http.get(path, headers=signed_headers(operator, b"")).headers["etag"]
        poll = {**signed_headers(operator, b""), "if-none-match": etag}
        assert http.get(path, headers=poll).status_code == 304

        # when: odds change (committed, as a staff edit is)
        bet = Bet.objects.filter(market__event__betcards=card).order_by("pk").first()
        bet.odds += 1
        bet.save()

        # then: the next polls see it (the notification arrives within milliseconds)
        deadline = time.monotonic() + 5
        while (answer := http.get(path, headers=poll)).status_code == 304:
            assert time.monotonic() < deadline, "the server kept a stale answer"
            time.sleep(0.01)
    assert answer.status_code == 200
    assert answer.headers["etag"] != etag
