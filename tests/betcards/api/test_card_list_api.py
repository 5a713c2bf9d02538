"""GET /bc/jackpots (contract.md § Bet Card API): which cards an operator sees, in order."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from betcards.models import BetcardStatus
from tests.factories import BetcardFactory, EventFactory, OperatorFactory
from tests.support.api import signed_get

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return OperatorFactory()


BASE = timezone.now().replace(microsecond=0)


def card_starting_in(hours: float, **fields):
    event = EventFactory(starts_at=BASE + dt.timedelta(hours=hours))
    return BetcardFactory(events=[event], **fields)


def codes(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [card["code"] for card in response.json()]


def test_cards_on_sale_now_are_listed_earliest_first_event_first_then_by_code(client, operator):
    card_starting_in(48, code="LATER")
    card_starting_in(24, code="SOONB")
    card_starting_in(24, code="SOONA")

    response = signed_get(client, operator, "/bc/jackpots")

    assert codes(response) == ["SOONA", "SOONB", "LATER"]


def test_each_listed_card_has_the_detail_shape(client, operator):
    card = card_starting_in(24)

    listed = signed_get(client, operator, "/bc/jackpots").json()
    detail = signed_get(client, operator, f"/bc/jackpots/{card.code}").json()

    assert listed == [detail]


def test_by_default_only_cards_on_sale_now_are_listed(client, operator):
    now = timezone.now()
    card_starting_in(24, code="SELLING")
    card_starting_in(24, code="DRAFT", status=BetcardStatus.DRAFT)
    card_starting_in(24, code="CLOSED", status=BetcardStatus.CLOSED)
    card_starting_in(24, code="SETTLED", status=BetcardStatus.SETTLED)
    card_starting_in(24, code="NOTYET", opens_at=now + dt.timedelta(hours=1))
    card_starting_in(24, code="ENDED", closes_at=now - dt.timedelta(minutes=1))
    card_starting_in(-1, code="KICKEDOFF")  # no closes_at: sales stopped at the kick-off
    BetcardFactory(code="EMPTY")  # no events: nothing to sell, yet not past any kick-off

    assert codes(signed_get(client, operator, "/bc/jackpots")) == ["SELLING", "EMPTY"]


def test_status_filter_lists_cards_in_those_statuses_whatever_their_window(client, operator):
    card_starting_in(-1, code="KICKEDOFF")
    card_starting_in(2, code="CLOSED", status=BetcardStatus.CLOSED)
    card_starting_in(3, code="SETTLED", status=BetcardStatus.SETTLED)
    card_starting_in(4, code="DRAFT", status=BetcardStatus.DRAFT)

    closed = signed_get(client, operator, "/bc/jackpots?status=closed")
    several = signed_get(client, operator, "/bc/jackpots?status=open&status=settled")

    assert codes(closed) == ["CLOSED"]
    assert codes(several) == ["KICKEDOFF", "SETTLED"]


@pytest.mark.parametrize(
    "query", ["status=draft", "status=OPEN", "status=", "status=open&status=x"]
)
def test_unknown_status_is_422_naming_the_parameter(client, operator, query):
    response = signed_get(client, operator, f"/bc/jackpots?{query}")

    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [error["loc"] for error in errors] == [["query", "status"]]
    assert "'open', 'closed', 'settled'" in errors[0]["msg"]


def test_cards_restricted_to_another_operator_are_not_listed(client, operator):
    rival = OperatorFactory()
    card_starting_in(24, code="ALL")
    card_starting_in(25, code="MINE", operator=operator)
    card_starting_in(26, code="THEIRS", operator=rival)

    assert codes(signed_get(client, operator, "/bc/jackpots")) == ["ALL", "MINE"]
    assert codes(signed_get(client, rival, "/bc/jackpots")) == ["ALL", "THEIRS"]


def test_no_card_on_sale_is_an_empty_list(client, operator):
    response = signed_get(client, operator, "/bc/jackpots")

    assert response.status_code == 200
    assert response.json() == []


def test_the_list_has_an_etag_that_changes_with_any_card_or_the_list(client, operator):
    # given
    card = card_starting_in(24)
    first = signed_get(client, operator, "/bc/jackpots")["ETag"]
    same = signed_get(client, operator, "/bc/jackpots", headers={"If-None-Match": first})

    # when: one card's price changes, then a card joins the list
    card.price = 600
    card.save()
    repriced = signed_get(client, operator, "/bc/jackpots")["ETag"]
    card_starting_in(30)
    longer = signed_get(client, operator, "/bc/jackpots")["ETag"]

    # then
    assert same.status_code == 304
    assert same.content == b""
    assert first != repriced
    assert longer != repriced
