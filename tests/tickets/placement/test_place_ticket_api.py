"""POST /be/tickets through HTTP: every documented code with its exact message, in the
contract's order (contract.md § POST /be/tickets, business checks)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from betcards.models import Bet, Betcard, BetcardStatus, BookmakerEvent, Event, Market, Team
from operators.models import Operator
from tests.factories import EventFactory, OperatorFactory, TicketFactory
from tests.support.api import signed_post
from tests.support.sample import Sample, sample_request, sample_setup
from tickets import identifiers
from tickets.models import Selection, Ticket, WebhookDelivery
from tickets.placement import write

pytestmark = pytest.mark.django_db

Arrange = Callable[[Sample, pytest.MonkeyPatch], dict[str, Any]]


def _replace_event(index: int, **changes: Any) -> dict[str, Any]:
    body = sample_request()
    body["events"][index] = {**body["events"][index], **changes}
    return body


def _event_not_on_card(sample: Sample, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    EventFactory(id=400_001)
    return _replace_event(2, id=400_001, bet=4_000_010)


def _disabled_team(sample: Sample, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    Team.objects.filter(id=sample.events[2].away_team_id).update(is_active=False)
    return sample_request()


def _bet_of_another_event(sample: Sample, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    return _replace_event(1, bet=22)  # bet 22 belongs to event 265827


def _started_event(sample: Sample, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    # the card still sells after this kick-off: staff set its close later (contract)
    Betcard.objects.filter(pk=sample.betcard.pk).update(
        closes_at=timezone.now() + dt.timedelta(days=3)
    )
    Event.objects.filter(id=265828).update(starts_at=timezone.now() - dt.timedelta(minutes=1))
    return sample_request()


def _no_bookmaker_event(sample: Sample, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    BookmakerEvent.objects.filter(event_id=265829).delete()
    return sample_request()


def _blocked_market(sample: Sample, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    Market.objects.filter(id=2658300).update(is_blocked=True)
    return sample_request()


def _odds_moved(sample: Sample, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    # 10.5 % of 2.55 is 0.26775: 2.55 -> 2.82 moves by 0.27
    Bet.objects.filter(id=14).update(odds=Decimal("2.82"))
    return sample_request()


def _codes_always_collide(sample: Sample, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    TicketFactory(
        code="TAKEN1", operator=sample.operator, betcard=sample.betcard, picks={265825: 14}
    )
    monkeypatch.setattr(identifiers, "ticket_code", lambda: "TAKEN1")
    return sample_request()


def _no_webhook_url(sample: Sample, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    type(sample.operator).objects.filter(pk=sample.operator.pk).update(webhook_url="")
    return sample_request()


def _betcard_of_other_operator(sample: Sample, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    sample.betcard.operator = Operator.objects.get(pk=OperatorFactory(name="rival").pk)
    sample.betcard.save()
    return sample_request()


def _betcard_closed(sample: Sample, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    sample.betcard.status = BetcardStatus.CLOSED
    sample.betcard.save()
    return sample_request()


def _betcard_not_yet_open(sample: Sample, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    sample.betcard.opens_at = timezone.now() + dt.timedelta(hours=1)
    sample.betcard.save()
    return sample_request()


def _betcard_sales_closed(sample: Sample, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    sample.betcard.closes_at = timezone.now() - dt.timedelta(seconds=1)
    sample.betcard.save()
    return sample_request()


def _currency_not_allowed(sample: Sample, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    type(sample.operator).objects.filter(pk=sample.operator.pk).update(currencies=["KES", "EUR"])
    return sample_request()


def _body(**changes: Any) -> Arrange:
    return lambda sample, monkeypatch: sample_request(**changes)


CASES: list[tuple[str, Arrange, int, str | None]] = [
    ("103 unknown event", lambda s, m: _replace_event(0, id=999_999), 103,
     "Event with `999999` identifier is not found"),
    ("103 event not on the card", _event_not_on_card, 103,
     "Event with `400001` identifier is not found"),
    ("104 empty events", _body(events=[]), 104, "Events list in ticket object can't be empty"),
    ("105 disabled team", _disabled_team, 105, None),  # message filled in the test
    ("106 unknown bet", lambda s, m: _replace_event(1, bet=999), 106,
     "Market for bet with `999` identifier is not found"),
    ("106 bet of another event", _bet_of_another_event, 106,
     "Market for bet with `22` identifier is not found"),
    ("107 started event", _started_event, 107,
     "Event with `265828` identifier is not available for play because it has already started"),
    ("108 no bookmaker event", _no_bookmaker_event, 108,
     "Bookmaker event for event with `265829` identifier is not found"),
    ("109 blocked market", _blocked_market, 109, "Market is blocked"),
    ("110 odds moved", _odds_moved, 110, "Ticket odds changed"),
    ("111 code collisions", _codes_always_collide, 111, "Duplicate key for code generation"),
    ("114 no webhook url", _no_webhook_url, 114, "No webhook url for operator with `acme` name"),
    ("115 other operator in body", _body(operator="someone-else"), 115,
     "Operators in request body and in request header are not identical"),
    ("118 too few events", lambda s, m: sample_request(events=sample_request()["events"][:5]),
     118, "Events list must contain at least 6 items."),
    ("119 unknown betcard", _body(betcard_code="NOPE42"), 119,
     "Betcard with `NOPE42` code is not found"),
    ("120 betcard of another operator", _betcard_of_other_operator, 120,
     "Betcard with `ABC123` code is not offered to operator with `acme` name"),
    ("121 betcard not open", _betcard_closed, 121,
     "Betcard with `ABC123` code is not open for sales"),
    ("122 before opens_at", _betcard_not_yet_open, 122,
     "Betcard with `ABC123` code is outside its sales window"),
    ("122 after closes_at", _betcard_sales_closed, 122,
     "Betcard with `ABC123` code is outside its sales window"),
    ("123 price", _body(price=600), 123, "Ticket price 600 differs from betcard price 500"),
    ("124 currency", _body(currency="EUR"), 124,
     "Ticket currency `EUR` differs from betcard currency `USD`"),
    ("125 prize", _body(prize=9_999), 125, "Ticket prize 9999 differs from betcard prize 10000"),
    ("126 bonus prizes", _body(bonus_prizes=[2_000, 1_500]), 126,
     "Ticket bonus prizes [2000, 1500] differ from betcard bonus prizes [2000, 1500, 1000]"),
    ("127 currency not allowed", _currency_not_allowed, 127,
     "Currency `USD` is not allowed for operator with `acme` name"),
]  # fmt: skip


EXTRA_KEYS = {
    109: {"event_id": 265830},
    110: {"event_id": 265825, "current_odds": 2.82},
}


@pytest.mark.parametrize(
    ("arrange", "code", "message"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_business_rejection_answers_400_with_code_and_exact_message(
    client, monkeypatch, arrange, code, message
):
    # given
    sample = sample_setup()
    body = arrange(sample, monkeypatch)
    tickets_before = Ticket.objects.count()
    if message is None:
        message = f"Team with `{sample.events[2].away_team_id}` identifier is not found"

    # when
    response = signed_post(client, sample.operator, "/be/tickets", body)

    # then
    assert response.status_code == 400
    answer = response.json()
    assert {"code": answer.pop("code"), "message": answer.pop("message")} == {
        "code": code,
        "message": message,
    }
    assert answer == EXTRA_KEYS.get(code, {})  # which event, for 109 and 110
    assert Ticket.objects.count() == tickets_before
    assert not Selection.objects.exclude(ticket__code="TAKEN1").exists()
    assert not WebhookDelivery.objects.exists()


def test_unknown_operator_answers_400_code_112(client):
    sample_setup()

    response = signed_post(
        client, "nobody", "/be/tickets", sample_request(operator="nobody"), secret="whatever"
    )

    assert response.status_code == 400
    assert response.json() == {"code": 112, "message": "Operator with `nobody` name is not found"}


@pytest.mark.parametrize(
    "in_test_transaction",
    [
        pytest.param(True, id="in-the-test-transaction"),
        # No transaction around the request: the write statement commits on its own, as in
        # production, and a collision fails only that statement.
        pytest.param(False, id="autocommit", marks=pytest.mark.django_db(transaction=True)),
    ],
)
def test_code_collisions_are_retried_before_giving_up(client, monkeypatch, in_test_transaction):
    # given two collisions, then a free code
    assert connection.in_atomic_block == in_test_transaction
    sample = sample_setup()
    TicketFactory(
        code="TAKEN1", operator=sample.operator, betcard=sample.betcard, picks={265825: 14}
    )
    codes = iter(["TAKEN1", "TAKEN1", "FRESH1"])
    monkeypatch.setattr(identifiers, "ticket_code", lambda: next(codes))

    # when
    response = signed_post(client, sample.operator, "/be/tickets", sample_request())

    # then
    assert response.status_code == 200
    assert response.json()["code"] == "FRESH1"
    assert Selection.objects.filter(ticket__code="FRESH1").count() == 6


# ----------------------------------------------------------------------------- order of checks
def test_empty_events_is_reported_before_betcard_problems(client):
    sample = sample_setup()

    response = signed_post(
        client, sample.operator, "/be/tickets", sample_request(events=[], betcard_code="NOPE42")
    )

    assert response.json()["code"] == 104


def test_betcard_problems_are_reported_before_too_few_events(client):
    sample = sample_setup()
    body = sample_request(price=600, events=sample_request()["events"][:1])

    response = signed_post(client, sample.operator, "/be/tickets", body)

    assert response.json()["code"] == 123


def test_too_few_events_is_reported_before_event_problems(client):
    sample = sample_setup()
    body = sample_request(events=[{"id": 999_999, "bet": 1, "odds": 2.0}])

    response = signed_post(client, sample.operator, "/be/tickets", body)

    assert response.json()["code"] == 118


def test_events_are_checked_in_request_order(client):
    # given a bad bet on the first event and an unknown second event
    sample = sample_setup()
    body = sample_request()
    body["events"][0]["bet"] = 999
    body["events"][1]["id"] = 999_999

    # when
    response = signed_post(client, sample.operator, "/be/tickets", body)

    # then
    assert response.json() == {
        "code": 106,
        "message": "Market for bet with `999` identifier is not found",
    }


def test_checks_of_one_event_run_in_documented_order(client):
    # given event 265827 started (the card closes later), its market blocked and its odds
    # moved: 107 comes first
    sample = sample_setup()
    Betcard.objects.filter(pk=sample.betcard.pk).update(
        closes_at=timezone.now() + dt.timedelta(days=3)
    )
    Event.objects.filter(id=265827).update(starts_at=timezone.now() - dt.timedelta(hours=1))
    Market.objects.filter(id=2658270).update(is_blocked=True)
    Bet.objects.filter(id=22).update(odds=Decimal(9))

    # when
    response = signed_post(client, sample.operator, "/be/tickets", sample_request())

    # then
    assert response.json()["code"] == 107


def test_a_card_without_closes_at_stops_selling_at_its_first_kick_off(client):
    # given a card of 6 events needing 5, its first event started two hours ago
    sample = sample_setup()
    Betcard.objects.filter(pk=sample.betcard.pk).update(min_events=5, closes_at=None)
    Event.objects.filter(id=265825).update(starts_at=timezone.now() - dt.timedelta(hours=2))

    # when a ticket is placed on the other five
    body = sample_request(events=sample_request()["events"][1:])
    response = signed_post(client, sample.operator, "/be/tickets", body)

    # then: the jackpot closed at its first kick-off
    assert response.status_code == 400
    assert response.json() == {
        "code": 122,
        "message": "Betcard with `ABC123` code is outside its sales window",
    }


# ----------------------------------------------------------------------------- odds and taxes
@pytest.mark.parametrize(
    ("current", "accepted"),
    [("2.55", True), ("2.8177", False), ("2.817", True), ("2.283", True), ("2.282", False)],
)
def test_odds_within_odds_diff_percent_are_accepted(client, current, accepted):
    # given 10.5 % of 2.55 = 0.26775, so 2.28225..2.81775 are accepted
    sample = sample_setup()
    Bet.objects.filter(id=14).update(odds=Decimal(current).quantize(Decimal("0.001")))

    # when
    response = signed_post(client, sample.operator, "/be/tickets", sample_request())

    # then
    assert (response.status_code == 200) is accepted, response.content


def test_zero_odds_diff_accepts_only_identical_odds(client):
    sample = sample_setup()
    assert (
        signed_post(client, sample.operator, "/be/tickets", sample_request(odds_diff=0)).status_code
        == 200
    )
    Bet.objects.filter(id=14).update(odds=Decimal("2.551"))

    # (another player: the same signed bytes again would be a replay of the first)
    response = signed_post(
        client, sample.operator, "/be/tickets", sample_request(odds_diff=0, token="other")
    )

    # the message is the platform's; the answer names the event and its odds now, after it
    assert list(response.json().items()) == [
        ("code", 110),
        ("message", "Ticket odds changed"),
        ("event_id", 265825),
        ("current_odds", 2.551),
    ]


def test_ticket_stores_accepted_odds_and_their_product(client):
    # given the current odds of bet 14 moved within tolerance
    sample = sample_setup()
    Bet.objects.filter(id=14).update(odds=Decimal("2.6"))

    # when
    body = signed_post(client, sample.operator, "/be/tickets", sample_request()).json()

    # then the product uses the accepted odds: 2.6*3.62*1.55*2.11*5.1*1.78 = 279.4385057880
    assert body["odds"] == 279.44
    selection = Selection.objects.get(ticket_id=body["id"], event_id=265825)
    assert (selection.odds_submitted, selection.odds_accepted) == (Decimal("2.55"), Decimal("2.6"))


def test_exclusive_excise_is_charged_on_top_of_the_price(client):
    sample = sample_setup(ext_type="exclusive")

    body = signed_post(client, sample.operator, "/be/tickets", sample_request()).json()

    assert (body["price"], body["stake"], body["ext_amount"], body["ext_type"]) == (
        500, 500, 63, "exclusive",
    )  # fmt: skip


def test_affiliate_commission_needs_operator_percent_and_atag(client):
    # given an operator paying 3 % affiliate commission
    sample = sample_setup(aff_comm_percent=Decimal(3))

    # when
    with_tag = signed_post(
        client, sample.operator, "/be/tickets", sample_request(atag="affiliate-1")
    ).json()
    without_tag = signed_post(client, sample.operator, "/be/tickets", sample_request()).json()

    # then 3 % of the 444 stake = 13.32 -> 13
    assert (with_tag["aff_instant_comm_amt"], with_tag["aff_instant_comm_pct"]) == (13, 3.0)
    assert (without_tag["aff_instant_comm_amt"], without_tag["aff_instant_comm_pct"]) == (
        None, None,
    )  # fmt: skip


def test_events_may_come_in_any_order_and_min_events_allows_fewer(client):
    # given a card that needs 4 of its 6 events
    sample = sample_setup()
    sample.betcard.min_events = 4
    sample.betcard.save()
    events = sample_request()["events"][:4][::-1]

    # when
    response = signed_post(client, sample.operator, "/be/tickets", sample_request(events=events))

    # then
    assert response.status_code == 200
    assert Selection.objects.filter(ticket_id=response.json()["id"]).count() == 4


def test_ticket_selections_and_webhook_are_written_together_or_not_at_all(client, monkeypatch):
    # given the outbox write fails (the database refuses the webhook row, the last one)
    sample = sample_setup()
    build = write.pending_row

    def refused_row(**kwargs: Any) -> WebhookDelivery:
        delivery = build(**kwargs)
        delivery.status = "lost"  # breaks the delivery_status_valid check constraint
        return delivery

    monkeypatch.setattr(write, "pending_row", refused_row)

    # when
    response = signed_post(client, sample.operator, "/be/tickets", sample_request())

    # then the operator gets a JSON 500, not an HTML page
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()
    # then the ticket and its selections were rolled back with it
    assert not Ticket.objects.exists()
    assert not Selection.objects.exists()
    assert not WebhookDelivery.objects.exists()
