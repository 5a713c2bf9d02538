"""Process-local caches kept true by database notifications (jackpot.core.change_feed):
committed changes by any path reach them; while the listener is down they are not used."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from betcards.models import Bet
from jackpot.core.change_feed import APPLICATION_NAME, FEED, ChangeFeed
from operators.authentication import _OPERATORS
from tests.factories import BetcardFactory, OperatorFactory
from tests.support.api import signed_get, signed_post
from tests.support.sample import sample_request, sample_setup
from tickets.models import Ticket

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
    # (the operator's own insert notifies too, maybe after the first read kept it)
    eventually(
        lambda: (
            signed_get(client, operator, "/bc/jackpots").status_code == 200 and len(_OPERATORS) == 1
        )
    )

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


def _place(client, operator, token: str):
    return signed_post(client, operator, "/be/tickets", sample_request(token=token))


_CARD_TABLES = ('"betcards_betcard"', '"betcards_betcardevent"', '"betcards_event"')
_PLAYERS = itertools.count()


def _placed_without_reading_the_card(client, operator) -> bool:
    """Place a ticket (200 expected); whether it read nothing of the card, its events or
    bets."""
    with CaptureQueriesContext(connection) as captured:
        response = _place(client, operator, f"player-{next(_PLAYERS)}")
    assert response.status_code == 200, response.content
    return not any(table in query["sql"] for query in captured for table in _CARD_TABLES)


def test_a_placement_on_a_kept_card_reads_only_what_it_writes(client, feed):
    # given a card kept by a placement (the setup's own notifications may still drop it:
    # its inserts commit just before, so place until one finds it kept)
    sample = sample_setup()

    # when / then: a placement that reads nothing of the card, and writes its ticket
    eventually(lambda: _placed_without_reading_the_card(client, sample.operator))
    assert Ticket.objects.count() >= 2


def test_a_team_disabled_after_a_placement_refuses_the_next_with_105(client, feed):
    # given
    sample = sample_setup()
    assert _place(client, sample.operator, "player-one").status_code == 200
    team = sample.events[0].home_team

    # when: a staff edit (a save: the card's version moves, the trigger notifies)
    team.is_active = False
    team.save()

    # then
    eventually(lambda: _place(client, sample.operator, "player-two").status_code == 400)
    assert _place(client, sample.operator, "player-three").json()["code"] == 105


def test_odds_changed_behind_a_cached_card_are_caught_by_the_write(client, feed):
    # given a kept card, then odds moved by raw SQL that bumps no version: the kept
    # snapshot still has 2.55
    sample = sample_setup()
    eventually(lambda: _placed_without_reading_the_card(client, sample.operator))
    placed = Ticket.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE betcards_bet SET odds = 2.82 WHERE id = 14")

    # when
    response = _place(client, sample.operator, "player-late")

    # then: the write compared the locked bet, checked again and refused (beyond 10.5 %)
    assert (response.status_code, response.json()["code"]) == (400, 110)
    assert Ticket.objects.count() == placed


def test_teams_disabled_with_the_bulk_action_refuse_the_next_placement_with_105(
    client, feed, manager_client
):
    # given a kept card
    sample = sample_setup()
    assert _place(client, sample.operator, "player-one").status_code == 200

    # when: the admin's bulk action (an UPDATE, no model signal)
    manager_client.post(
        reverse("admin:betcards_team_changelist"),
        {"action": "disable", "_selected_action": [sample.events[0].away_team_id]},
    )

    # then
    eventually(lambda: _place(client, sample.operator, "player-two").status_code == 400)
    assert _place(client, sample.operator, "player-three").json()["code"] == 105
