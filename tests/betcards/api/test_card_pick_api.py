"""GET /bc/jackpots/{code}/pick (contract.md § Bet Card API): a selection ready to place."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.utils import timezone

from betcards.models import Bet, BetcardStatus, Event, Market
from tests.factories import BetcardFactory, OperatorFactory
from tests.support.api import signed_get, signed_post
from tests.support.sample import SAMPLE_PICKS, sample_request, sample_setup

pytestmark = pytest.mark.django_db

PICK = "/bc/jackpots/ABC123/pick"


@pytest.fixture
def sample():
    return sample_setup()


def pick(client, sample, query: str):
    return signed_get(client, sample.operator, f"{PICK}?{query}")


def test_favourites_take_each_events_lowest_odds_in_card_order(client, sample):
    response = pick(client, sample, "strategy=favourites")

    assert response.status_code == 200
    # the lowest of the sample's bet and the others (3.1 for X, 2.7 for the away side)
    expected = [
        {"id": 265825, "bet": 14, "odds": 2.55},
        {"id": 265826, "bet": 2658262, "odds": 2.7},
        {"id": 265827, "bet": 22, "odds": 1.55},
        {"id": 265828, "bet": 83, "odds": 2.11},
        {"id": 265829, "bet": 2658292, "odds": 2.7},
        {"id": 265830, "bet": 25, "odds": 1.78},
    ]
    assert response.json() == {
        "betcard_code": "ABC123",
        "price": 500,
        "currency": "USD",
        "prize": 10_000,
        "bonus_prizes": [2_000, 1_500, 1_000],
        "events": expected,
    }


def test_favourites_break_ties_by_the_lowest_bet_id(client, sample):
    Bet.objects.filter(pk__in=[14, 2658251, 2658252]).update(odds=Decimal("2.000"))

    events = pick(client, sample, "strategy=favourites").json()["events"]

    assert events[0] == {"id": 265825, "bet": 14, "odds": 2}


def test_random_is_repeatable_with_a_seed(client, sample):
    first = pick(client, sample, "strategy=random&seed=42").json()
    again = pick(client, sample, "strategy=random&seed=42").json()

    assert first == again


def test_random_is_uniform_over_each_events_bets(client, sample):
    # 120 seeds, three bets per event: each bet near 40 times (fixed seeds: deterministic)
    chosen: Counter[int] = Counter()
    for seed in range(120):
        events = pick(client, sample, f"strategy=random&seed={seed}").json()["events"]
        chosen.update(event["bet"] for event in events if event["id"] == 265825)

    assert set(chosen) == {14, 2658251, 2658252}
    assert all(25 <= count <= 55 for count in chosen.values()), chosen


def test_random_without_a_seed_picks_one_bet_of_each_event(client, sample):
    events = pick(client, sample, "strategy=random").json()["events"]

    bets_of = {
        event_id: set(Bet.objects.filter(market__event_id=event_id).values_list("pk", flat=True))
        for event_id, _, _ in SAMPLE_PICKS
    }
    assert [event["id"] for event in events] == list(bets_of)
    assert all(event["bet"] in bets_of[event["id"]] for event in events)


def test_only_events_still_on_sale_are_picked(client, sample):
    # given: a 4-event minimum, sales open past the kick-offs; one event started, one blocked
    sample.betcard.min_events = 4
    sample.betcard.closes_at = timezone.now() + dt.timedelta(days=3)
    sample.betcard.save()
    Event.objects.filter(pk=265826).update(starts_at=timezone.now() - dt.timedelta(minutes=1))
    Market.objects.filter(event_id=265827).update(is_blocked=True)

    # when
    events = pick(client, sample, "strategy=favourites").json()["events"]

    # then
    assert [event["id"] for event in events] == [265825, 265828, 265829, 265830]


def test_fewer_events_on_sale_than_the_minimum_is_400_118(client, sample):
    sample.betcard.min_events = 6
    sample.betcard.save()
    Market.objects.filter(event_id=265827).update(is_blocked=True)

    response = pick(client, sample, "strategy=favourites")

    assert response.status_code == 400
    assert response.json() == {
        "code": 118,
        "message": "Events list must contain at least 6 items.",
    }


@pytest.mark.parametrize("kind", ["draft", "not offered"])
def test_a_draft_or_not_offered_card_is_404_119_as_reading_it_is(client, sample, kind):
    # a quick pick must not reveal that a draft exists
    if kind == "draft":
        sample.betcard.status = BetcardStatus.DRAFT
    else:
        sample.betcard.operator = OperatorFactory()
    sample.betcard.save()

    response = pick(client, sample, "strategy=favourites")
    read = signed_get(client, sample.operator, "/bc/jackpots/ABC123")

    assert response.status_code == read.status_code == 404
    assert (
        response.json()
        == read.json()
        == {
            "code": 119,
            "message": "Betcard with `ABC123` code is not found",
        }
    )


def test_a_closed_card_is_400_121_like_a_placement(client, sample):
    sample.betcard.status = BetcardStatus.CLOSED
    sample.betcard.save()

    response = pick(client, sample, "strategy=favourites")
    placed = signed_post(client, sample.operator, "/be/tickets", sample_request())

    assert response.status_code == placed.status_code == 400
    assert response.json() == placed.json()
    assert response.json()["code"] == 121


def test_a_card_outside_its_sales_window_is_400_122(client, sample):
    sample.betcard.opens_at = timezone.now() + dt.timedelta(hours=1)
    sample.betcard.save()

    response = pick(client, sample, "strategy=favourites")

    assert response.status_code == 400
    assert response.json() == {
        "code": 122,
        "message": "Betcard with `ABC123` code is outside its sales window",
    }


@pytest.mark.parametrize("restricted", [False, True])
def test_unknown_or_not_offered_card_is_404_119(client, sample, restricted):
    code: str = "NOPE"
    if restricted:
        code = BetcardFactory.create(events=2, operator=OperatorFactory()).code

    response = signed_get(client, sample.operator, f"/bc/jackpots/{code}/pick?strategy=random")

    assert response.status_code == 404
    assert response.json() == {"code": 119, "message": f"Betcard with `{code}` code is not found"}


@pytest.mark.parametrize(
    ("query", "bad"),
    [
        ("", ["strategy"]),
        ("strategy=cheapest", ["strategy"]),
        ("strategy=FAVOURITES", ["strategy"]),
        ("strategy=random&seed=-1", ["seed"]),
        ("strategy=random&seed=1.5", ["seed"]),
        ("strategy=random&seed=99999999999999999999", ["seed"]),
        ("strategy=x&seed=y", ["strategy", "seed"]),
    ],
)
def test_bad_parameters_are_422_naming_each(client, sample, query, bad):
    response = pick(client, sample, query)

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [
        ["query", name] for name in bad
    ]


@pytest.mark.parametrize("strategy", ["favourites", "random&seed=7"])
def test_the_picked_selection_places_a_ticket(client, sample, strategy):
    # given
    chosen = pick(client, sample, f"strategy={strategy}").json()

    # when
    response = signed_post(
        client,
        sample.operator,
        "/be/tickets",
        sample_request(
            events=chosen["events"],
            price=chosen["price"],
            currency=chosen["currency"],
            prize=chosen["prize"],
            bonus_prizes=chosen["bonus_prizes"],
            betcard_code=chosen["betcard_code"],
        ),
    )

    # then
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "open"
