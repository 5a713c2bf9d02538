"""Process-local caches kept true by database notifications (jackpot.core.change_feed):
committed changes by any path reach them; while the listener is down they are not used."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from django.db import connection

from betcards.models import Bet
from jackpot.core.change_feed import APPLICATION_NAME, FEED, ChangeFeed
from operators.authentication import _OPERATORS
from tests.factories import BetcardFactory, OperatorFactory
from tests.support.api import signed_get

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def feed(settings) -> Iterator[ChangeFeed]:
    settings.LOCAL_CACHES = True
    FEED.stop()
    assert FEED.wait_live()
    yield FEED
    FEED.stop()


def eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the change did not reach the cache"
        time.sleep(0.01)


def test_a_card_poll_reads_nothing_from_the_database_once_cached(
    client, feed, django_assert_num_queries
):
    operator = OperatorFactory()
    card = BetcardFactory(events=2)
    etag = signed_get(client, operator, f"/bc/jackpots/{card.code}")["ETag"]

    with django_assert_num_queries(0):
        response = signed_get(
            client, operator, f"/bc/jackpots/{card.code}", headers={"If-None-Match": etag}
        )

    assert response.status_code == 304


def test_a_committed_odds_change_reaches_the_cached_answer(client, feed):
    # given
    operator = OperatorFactory()
    card = BetcardFactory(events=1)
    path = f"/bc/jackpots/{card.code}"
    etag = signed_get(client, operator, path)["ETag"]
    bet = Bet.objects.filter(market__event__betcards=card).order_by("pk").first()

    # when: a staff edit (a save: the offer version moves, the trigger notifies)
    bet.odds = bet.odds + 1
    bet.save()

    # then
    eventually(
        lambda: (
            signed_get(client, operator, path, headers={"If-None-Match": etag}).status_code == 200
        )
    )


def test_an_operator_deactivated_by_raw_sql_is_refused(client, feed):
    operator = OperatorFactory()
    assert signed_get(client, operator, "/bc/jackpots").status_code == 200

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE operators_operator SET is_active = false WHERE id = %s", [operator.pk]
        )

    eventually(lambda: signed_get(client, operator, "/bc/jackpots").status_code == 403)


def test_a_rotated_secret_stops_the_old_one_working(client, feed):
    operator = OperatorFactory()
    assert signed_get(client, operator, "/bc/jackpots").status_code == 200
    old_secret = operator.secret_key

    operator.set_secret_key("a-brand-new-secret-0123456789")
    operator.save()

    eventually(
        lambda: signed_get(client, operator, "/bc/jackpots", secret=old_secret).status_code == 403
    )
    assert signed_get(client, operator, "/bc/jackpots").status_code == 200


def test_truncate_empties_the_caches(client, feed):
    operator = OperatorFactory()
    signed_get(client, operator, "/bc/jackpots")
    assert len(_OPERATORS) == 1

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE operators_operator CASCADE")

    eventually(lambda: len(_OPERATORS) == 0)


def test_while_the_listener_is_down_nothing_is_cached_and_it_reconnects(client, feed):
    # given
    operator = OperatorFactory()
    signed_get(client, operator, "/bc/jackpots")
    connected = feed.connections

    # when: its connection is killed
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            [APPLICATION_NAME],
        )

    # then: it is replaced, and the caches were emptied meanwhile
    eventually(lambda: feed.connections > connected and feed.live())
    assert len(_OPERATORS) == 0
    assert signed_get(client, operator, "/bc/jackpots").status_code == 200
