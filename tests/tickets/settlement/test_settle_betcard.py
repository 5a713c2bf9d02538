"""Settling a betcard: grading, prize tiers, WHT and result webhooks (contract § Settlement)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from betcards.models import BetcardStatus, Market
from jackpot.core.errors import ResultsMissing
from tests.factories import BetcardFactory, OperatorFactory, TicketFactory
from tests.tickets.settlement.conftest import AWAY, DRAW, VOID, card_event_ids, picks, results_enter
from tickets.models import (
    Selection,
    Settlement,
    Ticket,
    TicketResult,
    TicketStatus,
    WebhookDelivery,
)
from tickets.outbox.payloads import (
    TICKET_RESULT,
    body,
)
from tickets.settlement.rounds import betcard_settle
from tickets.settlement.tiers import TierShare

pytestmark = pytest.mark.django_db


def payout(code: str) -> tuple[str, str, int | None, int, int, int]:
    t = Ticket.objects.get(code=code)
    return (t.status, t.result, t.misses, t.gross_payout, t.wht_amount, t.net_payout)


@pytest.fixture
def card13():
    """13 events; every event won by the home side except the 13th, which is void."""
    card = BetcardFactory(
        events=13, prize=100_000, bonus_prizes=[20_000, 10_001, 300, 5_000], code="MEGA13"
    )
    events = card_event_ids(card)
    results_enter(card, {events[12]: VOID})
    return card, events


def test_grades_a_13_event_card_into_tiers_with_ties_a_void_event_and_remainders(card13):
    # given: WHT 10 %, stake 444 (price 500, 12.5 % inclusive excise)
    card, ev = card13
    acme = OperatorFactory(name="acme", wht_percent=Decimal(10))

    def ticket(code: str, changes: dict[int, int | None] | None = None, **kw) -> None:
        TicketFactory(code=code, operator=acme, betcard=card, picks=picks(card, changes), **kw)

    ticket("JACK01")  # all home: no miss
    ticket("JACK02", {ev[12]: AWAY})  # wrong pick on the void event: still matched
    ticket("JACK03", {ev[12]: None})  # did not pick the void event: matched for everyone
    ticket("ONE001", {ev[0]: None})  # did not pick event 1: a miss
    ticket("ONE002", {ev[1]: DRAW})
    ticket("ONE003", {ev[11]: AWAY})
    ticket("TWO001", {ev[1]: DRAW, ev[2]: AWAY})
    ticket("THREE1", {ev[3]: DRAW, ev[4]: DRAW, ev[5]: DRAW})
    ticket("FIVE01", dict.fromkeys(ev[:5], AWAY))
    ticket("CANCEL", status=TicketStatus.CANCELLED, result=TicketResult.VOID, approved=False)

    # when
    report = betcard_settle(betcard=card)

    # then: 3 jackpot winners share 100000 (33333 each, 1 left); 3 one-miss tickets share
    # 20000 (6666 each, 2 left); one two-miss ticket takes 10001; one three-miss ticket takes
    # 300 (below its stake: no WHT); nobody has 4 misses, so 5000 stays unpaid
    assert payout("JACK01") == ("closed", "won", 0, 33_333, 3_289, 30_044)
    assert payout("JACK02") == payout("JACK03") == payout("JACK01")
    assert payout("ONE001") == ("closed", "won", 1, 6_666, 622, 6_044)
    assert payout("ONE002") == payout("ONE003") == payout("ONE001")
    assert payout("TWO001") == ("closed", "won", 2, 10_001, 956, 9_045)
    assert payout("THREE1") == ("closed", "won", 3, 300, 0, 300)
    assert payout("FIVE01") == ("closed", "lost", 5, 0, 0, 0)
    assert payout("CANCEL") == ("cancelled", "void", None, 0, 0, 0)
    assert report.tiers == (
        TierShare(misses=0, amount=100_000, winners=3, share=33_333, remainder=1),
        TierShare(misses=1, amount=20_000, winners=3, share=6_666, remainder=2),
        TierShare(misses=2, amount=10_001, winners=1, share=10_001, remainder=0),
        TierShare(misses=3, amount=300, winners=1, share=300, remainder=0),
        TierShare(misses=4, amount=5_000, winners=0, share=0, remainder=5_000),
    )
    assert (report.tickets, report.won, report.lost, report.cancelled) == (9, 8, 1, 1)
    assert (report.gross_payout, report.remainder, report.unbalanced) == (130_298, 5_003, 0)
    assert report.wht_amount == 3 * 3_289 + 3 * 622 + 956
    card.refresh_from_db()
    assert card.status == BetcardStatus.SETTLED
    assert card.settled_at is not None


def test_each_settled_ticket_gets_one_result_webhook_with_the_contract_body(card13):
    card, ev = card13
    op = OperatorFactory(name='ops "east" ü', wht_percent=Decimal("12.5"))
    winner = TicketFactory(operator=op, betcard=card, token='tok"\\\n€')
    loser = TicketFactory(operator=op, betcard=card, picks=picks(card, dict.fromkeys(ev, DRAW)))
    cancelled = TicketFactory(operator=op, betcard=card, status=TicketStatus.CANCELLED)

    betcard_settle(betcard=card)

    for ticket, action in ((winner, "ticket_win"), (loser, "ticket_lost")):
        ticket.refresh_from_db()
        (delivery,) = WebhookDelivery.objects.filter(ticket=ticket)
        assert (delivery.action, delivery.dedupe_key, delivery.status) == (
            action,
            "result:1",
            "pending",
        )
        assert delivery.body == body(TICKET_RESULT, ticket).decode()
    assert not WebhookDelivery.objects.filter(ticket=cancelled).exists()


@pytest.mark.parametrize("wht", ["0", "7.25", "10", "100", "0.1"])
def test_the_sql_built_body_renders_percentages_like_python(card13, wht):
    card, _ev = card13
    ticket = TicketFactory(operator=OperatorFactory(wht_percent=Decimal(wht)), betcard=card)

    betcard_settle(betcard=card)

    ticket.refresh_from_db()
    sent = WebhookDelivery.objects.get(ticket=ticket).body
    assert sent == body(TICKET_RESULT, ticket).decode()


def test_selections_get_their_event_result(card13):
    card, ev = card13
    ticket = TicketFactory(betcard=card, picks=picks(card, {ev[0]: DRAW}))

    betcard_settle(betcard=card)

    results = dict(Selection.objects.filter(ticket=ticket).values_list("event_id", "result"))
    assert results == {**dict.fromkeys(ev[1:12], "won"), ev[0]: "lost", ev[12]: "void"}


def test_refuses_while_an_event_has_no_result_and_changes_nothing():
    # given
    card = BetcardFactory(events=3, code="NORES1")
    _first, second, third = card_event_ids(card)
    results_enter(card)
    Market.objects.filter(pk__in=[second * 10, third * 10]).update(winning_bet=None)
    ticket = TicketFactory(betcard=card)

    # when
    with pytest.raises(ResultsMissing) as refused:
        betcard_settle(betcard=card)

    # then
    assert refused.value.message == (
        f"Betcard `NORES1` cannot be settled: events without a result: {second}, {third}"
    )
    assert payout(ticket.code) == ("open", "pending", None, 0, 0, 0)
    assert not Settlement.objects.exists()
    assert not WebhookDelivery.objects.exists()
    card.refresh_from_db()
    assert card.status == BetcardStatus.OPEN


def test_settling_twice_pays_once_and_sends_once(card13):
    card, _ev = card13
    tickets = TicketFactory.create_batch(3, betcard=card)

    first = betcard_settle(betcard=card)
    paid = [payout(t.code) for t in tickets]
    second = betcard_settle(betcard=card)

    assert (first.already_settled, first.graded_now) == (False, 3)
    assert (second.already_settled, second.graded_now) == (True, 0)
    assert [payout(t.code) for t in tickets] == paid
    assert WebhookDelivery.objects.count() == 3
    assert Settlement.objects.count() == 1
    assert second.tiers == first.tiers


def test_resumes_after_a_crash_between_batches_and_pays_each_ticket_once(card13):
    # given: a run that dies after its first batch of 2
    card, ev = card13
    winners = TicketFactory.create_batch(3, betcard=card)
    losers = TicketFactory.create_batch(
        2, betcard=card, picks=picks(card, dict.fromkeys(ev[:5], AWAY))
    )

    class Killed(Exception):
        pass

    def die(phase: str, done: int, total: int) -> None:
        raise Killed(f"{phase} {done}/{total}")

    with pytest.raises(Killed, match="grading tickets 2/5"):
        betcard_settle(betcard=card, progress=die, batch_size=2)
    assert Ticket.objects.filter(status="closed").count() == 2

    # when
    seen: list[tuple[int, int]] = []
    report = betcard_settle(betcard=card, progress=lambda *p: seen.append(p), batch_size=2)

    # then: the frozen tiers (3 winners) are used, each ticket is paid and told once
    assert seen == [
        ("grading tickets", 2, 3),
        ("grading tickets", 3, 3),
        ("selection results", 5, 5),
    ]
    assert report.graded_now == 3
    assert {payout(t.code) for t in winners} == {("closed", "won", 0, 33_333, 3_289, 30_044)}
    assert {payout(t.code)[1] for t in losers} == {"lost"}
    assert WebhookDelivery.objects.filter(dedupe_key="result:1").count() == 5
    assert WebhookDelivery.objects.count() == 5


def test_a_card_whose_events_are_all_void_voids_and_refunds_every_ticket():
    card = BetcardFactory(events=2, code="VOIDED")
    results_enter(card, dict.fromkeys(card_event_ids(card), VOID))
    ticket = TicketFactory(betcard=card)

    report = betcard_settle(betcard=card)

    assert payout(ticket.code) == ("closed", "void", 0, 0, 0, 0)
    assert (report.all_void, report.void, report.refunds, report.gross_payout) == (
        True,
        1,
        500,
        0,
    )
    assert report.remainder == 10_000 + 2_000 + 1_500 + 1_000
    ticket.refresh_from_db()
    sent = WebhookDelivery.objects.get(ticket=ticket).body
    assert sent == body(TICKET_RESULT, ticket).decode()
