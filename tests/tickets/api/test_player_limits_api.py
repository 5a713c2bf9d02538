"""Player limits (contract.md § Limits): tickets per player per card (130), spend per player
per operator-local day (131), reservations included, never overshot by concurrent requests."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client

from betcards.models import Bet
from jackpot.core import clock
from tests.factories import BetcardFactory, TicketFactory
from tests.support.api import signed_post
from tests.support.sample import sample_request, sample_setup
from tickets.models import Ticket, TicketStatus

pytestmark = pytest.mark.django_db

PLACE, RESERVE = "/be/tickets", "/be/tickets/reserve"


def place(client, sample, path=PLACE, **changes):
    return signed_post(client, sample.operator, path, sample_request(**changes))


def test_the_ticket_limit_counts_open_and_reserved_tickets_of_the_player_on_the_card(client):
    # given: two tickets allowed per player and card
    sample = sample_setup(max_tickets_per_player=2)
    assert place(client, sample, rtag="1").status_code == 200
    assert place(client, sample, RESERVE, rtag="2").status_code == 200

    # when: a third, and another player's first
    third = place(client, sample, rtag="3")
    other = place(client, sample, token="another-player")

    # then
    assert third.status_code == 400
    assert third.json() == {
        "code": 130,
        "message": "Player with `sometokenvalue` token has reached the limit of 2 tickets on "
        "betcard with `ABC123` code",
    }
    assert other.status_code == 200
    assert Ticket.objects.filter(token="sometokenvalue").count() == 2


def test_cancelled_and_settled_tickets_do_not_count_toward_the_ticket_limit(client):
    sample = sample_setup(max_tickets_per_player=1)
    first = place(client, sample).json()
    Ticket.objects.filter(pk=first["id"]).update(status=TicketStatus.CANCELLED)

    assert place(client, sample, rtag="again").status_code == 200


def test_the_ticket_limit_is_per_card(client):
    sample = sample_setup(max_tickets_per_player=1)
    TicketFactory(operator=sample.operator, token="sometokenvalue", betcard=BetcardFactory())

    assert place(client, sample).status_code == 200


def test_the_spend_limit_counts_todays_tickets_not_cancelled(client):
    # given: 1000 cents a day, tickets at 500
    sample = sample_setup(max_daily_spend=1000)
    assert place(client, sample, rtag="1").status_code == 200
    assert place(client, sample, RESERVE, rtag="2").status_code == 200

    # when
    third = place(client, sample, rtag="3")

    # then
    assert third.status_code == 400
    assert third.json() == {
        "code": 131,
        "message": "Player with `sometokenvalue` token has reached the daily spend limit of 1000",
    }


def test_a_ticket_that_would_go_above_the_spend_limit_is_refused(client):
    sample = sample_setup(max_daily_spend=999)
    assert place(client, sample, rtag="1").status_code == 200

    assert place(client, sample, rtag="2").json()["code"] == 131


def test_the_day_is_the_operators_calendar_day(client):
    # given: Nairobi is UTC+3; a ticket of yesterday (local) and one of today
    sample = sample_setup(max_daily_spend=1000)
    local_midnight = (
        clock.now()
        .astimezone(clock.zone("Africa/Nairobi"))
        .replace(hour=0, minute=0, second=0, microsecond=0)
    )
    for created, rtag in (
        (local_midnight - dt.timedelta(minutes=1), "yesterday"),
        (local_midnight + dt.timedelta(minutes=1), "today"),
    ):
        TicketFactory(
            operator=sample.operator,
            betcard=sample.betcard,
            token="sometokenvalue",
            created_at=created,
            rtag=rtag,
            picks={265825: 14},
        )

    # then: only today's 500 counts, so one more at 500 fits and the next does not
    assert place(client, sample, rtag="a").status_code == 200
    assert place(client, sample, rtag="b").json()["code"] == 131


def test_limits_come_after_the_selection_checks(client):
    # given: the limit is reached and the odds moved
    sample = sample_setup(max_tickets_per_player=1)
    place(client, sample)
    Bet.objects.filter(pk=14).update(odds=Decimal("9.9"))

    response = place(client, sample, rtag="later", odds_diff=0)

    assert response.json()["code"] == 110


def test_an_operator_without_limits_sells_without_end(client):
    sample = sample_setup()

    answers = [place(client, sample, rtag=str(n)).status_code for n in range(4)]

    assert answers == [200] * 4


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_placements_by_one_player_at_a_limit_of_3_make_exactly_3():
    # given
    sample = sample_setup(max_tickets_per_player=3)
    answers: list[int] = []
    start = threading.Barrier(20)

    def send(number: int) -> None:
        client = Client()
        start.wait()
        try:
            answers.append(place(client, sample, rtag=f"r{number}").status_code)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=send, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then
    assert sorted(answers) == [200] * 3 + [400] * 17
    assert Ticket.objects.filter(token="sometokenvalue").count() == 3
