"""GET /bc/jackpots/{code} (contract.md § Bet Card API): the card's shape, scoping, 304s."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from betcards.models import Bet, BetcardStatus, Market
from tests.factories import BetcardFactory, EventFactory, OperatorFactory
from tests.support.api import signed_get
from tests.support.sample import SAMPLE_PICKS, sample_setup

pytestmark = pytest.mark.django_db


@pytest.fixture
def sample():
    return sample_setup()


def test_card_shows_its_terms_events_markets_and_current_odds(client, sample):
    # given
    starts = timezone.now().replace(microsecond=0) + dt.timedelta(days=2)
    for event in sample.events:
        event.starts_at = starts
        event.save()
    first = sample.events[0]

    # when
    response = signed_get(client, sample.operator, "/bc/jackpots/ABC123")

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    events = body.pop("events")
    assert body == {
        "code": "ABC123",
        "name": sample.betcard.name,
        "status": "open",
        "price": 500,
        "currency": "USD",
        "prize": 10_000,
        "bonus_prizes": [2_000, 1_500, 1_000],
        "min_events": 6,
        "opens": sample.betcard.opens_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "operator_time_opens": (sample.betcard.opens_at + dt.timedelta(hours=3))
        .astimezone(dt.UTC)
        .strftime("%Y-%m-%dT%H:%M:%S.%f"),
        # no closes_at: sales stop at the first kick-off
        "closes": starts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "operator_time_closes": (starts + dt.timedelta(hours=3))
        .astimezone(dt.UTC)
        .strftime("%Y-%m-%dT%H:%M:%S.%f"),
    }
    assert [event["id"] for event in events] == [event_id for event_id, _, _ in SAMPLE_PICKS]
    assert events[0] == {
        "id": first.id,
        "starts": starts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "operator_time_starts": (starts + dt.timedelta(hours=3))
        .astimezone(dt.UTC)
        .strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "home_team": {"id": first.home_team_id, "name": first.home_team.name},
        "away_team": {"id": first.away_team_id, "name": first.away_team.name},
        "markets": [
            {
                "id": 2658250,
                "name": "1X2",
                "blocked": False,
                "result": None,
                "bets": [
                    {"id": 14, "name": "1", "odds": 2.55},
                    {"id": 2658251, "name": "X", "odds": 3.1},
                    {"id": 2658252, "name": "2", "odds": 2.7},
                ],
            }
        ],
    }


def test_odds_are_exact_decimals_without_trailing_zeros(client, sample):
    Bet.objects.filter(pk=14).update(odds=Decimal("10.000"))

    response = signed_get(client, sample.operator, "/bc/jackpots/ABC123")

    assert b'{"id":14,"name":"1","odds":10}' in response.content
    assert b'{"id":34,"name":"1","odds":3.62}' in response.content
    assert b'{"id":66,"name":"1","odds":5.1}' in response.content


def test_events_follow_card_order_and_markets_and_bets_their_ids(client):
    # given: the card lists the later-created event first
    operator = OperatorFactory()
    later, earlier = EventFactory(id=900_002), EventFactory(id=900_001)
    Market.objects.create(id=1, event=later, name="Total goals")
    card = BetcardFactory(events=[later, earlier])

    # when
    body = signed_get(client, operator, f"/bc/jackpots/{card.code}").json()

    # then
    assert [event["id"] for event in body["events"]] == [900_002, 900_001]
    assert [market["id"] for market in body["events"][0]["markets"]] == [1, 9_000_020]
    assert [bet["id"] for bet in body["events"][1]["markets"][0]["bets"]] == [
        9_000_010, 9_000_011, 9_000_012,
    ]  # fmt: skip


def test_results_show_a_winning_bet_or_void(client, sample):
    Market.objects.filter(pk=2658250).update(winning_bet_id=14)
    Market.objects.filter(pk=2658260).update(is_void=True)

    events = signed_get(client, sample.operator, "/bc/jackpots/ABC123").json()["events"]

    assert [event["markets"][0]["result"] for event in events[:3]] == [
        {"winning_bet": 14}, {"void": True}, None,
    ]  # fmt: skip


def test_min_events_and_closes_come_from_the_card_when_set(client, sample):
    closes_at = timezone.now().replace(microsecond=0) + dt.timedelta(hours=5)
    sample.betcard.min_events = 4
    sample.betcard.closes_at = closes_at
    sample.betcard.save()

    body = signed_get(client, sample.operator, "/bc/jackpots/ABC123").json()

    assert body["min_events"] == 4
    assert body["closes"] == closes_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


@pytest.mark.parametrize("code", ["NOPE", "abc123", "ABC1234", "%F0%9F%8E%B0", "A" * 300])
def test_unknown_card_is_404_119(client, sample, code):
    response = signed_get(client, sample.operator, f"/bc/jackpots/{code}")

    assert response.status_code == 404
    assert response.json()["code"] == 119
    assert response.json()["message"].startswith("Betcard with `")


def test_card_restricted_to_another_operator_is_404_like_an_unknown_one(client, sample):
    # given
    rival = OperatorFactory(name="rival")
    BetcardFactory(code="RIVAL1", operator=rival, events=2)

    # when
    theirs = signed_get(client, sample.operator, "/bc/jackpots/RIVAL1")
    own = signed_get(client, rival, "/bc/jackpots/RIVAL1")

    # then
    assert theirs.status_code == 404
    assert theirs.json() == {"code": 119, "message": "Betcard with `RIVAL1` code is not found"}
    assert own.status_code == 200


@pytest.mark.parametrize("status", [BetcardStatus.CLOSED, BetcardStatus.SETTLED])
def test_a_card_that_no_longer_sells_is_still_shown_with_its_status(client, sample, status):
    sample.betcard.status = status
    sample.betcard.save()

    body = signed_get(client, sample.operator, "/bc/jackpots/ABC123").json()

    assert body["status"] == status


def test_draft_card_is_shown_to_nobody(client, sample):
    sample.betcard.status = BetcardStatus.DRAFT
    sample.betcard.save()

    response = signed_get(client, sample.operator, "/bc/jackpots/ABC123")

    assert response.status_code == 404
    assert response.json()["code"] == 119


# ----------------------------------------------------------------------------- caching
def test_every_answer_carries_an_etag_and_a_matching_if_none_match_gets_304(client, sample):
    # given
    first = signed_get(client, sample.operator, "/bc/jackpots/ABC123")
    etag = first["ETag"]

    # when
    again = signed_get(
        client, sample.operator, "/bc/jackpots/ABC123", headers={"If-None-Match": etag}
    )

    # then
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag


@pytest.mark.parametrize("header", ['"stale"', "*", 'W/"{etag}"', '"other", "{etag}"'])
def test_if_none_match_forms(client, sample, header):
    etag = signed_get(client, sample.operator, "/bc/jackpots/ABC123")["ETag"]
    wanted = header.replace('"{etag}"', etag)

    response = signed_get(
        client, sample.operator, "/bc/jackpots/ABC123", headers={"If-None-Match": wanted}
    )

    assert response.status_code == (200 if header == '"stale"' else 304)


def test_the_answer_is_kept_not_rebuilt_per_request(client, sample, django_assert_num_queries):
    signed_get(client, sample.operator, "/bc/jackpots/ABC123")  # builds and keeps it

    # authentication reads the operator; the card and its kept answer are one query
    with django_assert_num_queries(2):
        response = signed_get(client, sample.operator, "/bc/jackpots/ABC123")

    assert response.status_code == 200


def test_operators_in_other_time_zones_get_their_own_times_and_etag(client, sample):
    # given
    utc = OperatorFactory(name="utc-operator", timezone="UTC")

    # when
    nairobi = signed_get(client, sample.operator, "/bc/jackpots/ABC123")
    london = signed_get(client, utc, "/bc/jackpots/ABC123")

    # then
    assert nairobi.json()["operator_time_opens"] != london.json()["operator_time_opens"]
    assert london.json()["operator_time_opens"] == london.json()["opens"]
    assert nairobi["ETag"] != london["ETag"]
