"""Correcting a result on a settled card: an explicit, audited resettlement."""

from __future__ import annotations

import pytest
from django.utils import timezone

from betcards.models import Bet, Market, MarketResultChange
from betcards.results import market_result_set
from tests.factories import BetcardFactory, TicketFactory
from tests.tickets.settlement.conftest import (
    AWAY,
    DRAW,
    bet_id,
    card_event_ids,
    picks,
    results_enter,
)
from tickets.models import Selection, Settlement, Ticket, WebhookDelivery
from tickets.outbox.payloads import (
    TICKET_RESULT,
    TICKET_ROLLBACK,
    body,
)
from tickets.settlement.rounds import (
    BetcardNotSettled,
    ResettlementReasonMissing,
    ResultCorrection,
    ResultsMissing,
    betcard_resettle,
    betcard_resettle_check,
    betcard_settle,
    betcard_settle_check,
)

pytestmark = pytest.mark.django_db

REASON = "event 3 was a draw, the feed reported a home win"


def gross(ticket: Ticket) -> int:
    ticket.refresh_from_db()
    return ticket.gross_payout


def selection_result(ticket: Ticket, event_id: int) -> str:
    return Selection.objects.get(ticket=ticket, event_id=event_id).result


def webhooks(ticket: Ticket) -> list[tuple[str, str]]:
    return list(
        WebhookDelivery.objects.filter(ticket=ticket)
        .order_by("pk")
        .values_list("action", "dedupe_key")
    )


@pytest.fixture
def settled(django_user_model):
    """3 events won at home, prize 10000, one bonus prize 2000; A had all three right."""
    card = BetcardFactory(events=3, prize=10_000, bonus_prizes=[2_000], code="RESET1")
    ev = card_event_ids(card)
    results_enter(card)
    tickets = {
        "A": TicketFactory(betcard=card),  # 0 misses now, 1 after the correction
        "B": TicketFactory(betcard=card, picks=picks(card, {ev[2]: DRAW})),  # 1, then 0
        "F": TicketFactory(betcard=card, picks=picks(card, {ev[2]: DRAW})),  # like B, final
        "L": TicketFactory(betcard=card, picks=picks(card, dict.fromkeys(ev, AWAY))),  # lost
    }
    betcard_settle(betcard=card)
    Ticket.objects.filter(pk=tickets["F"].pk).update(closed_at=timezone.now())
    staff = django_user_model.objects.create_user("clerk")
    correction = ResultCorrection(
        market=Market.objects.get(pk=ev[2] * 10), winning_bet_id=bet_id(ev[2], DRAW)
    )
    return card, tickets, staff, correction


def test_resettlement_sends_rollback_then_the_new_result_to_changed_tickets(settled):
    # given: A had the jackpot alone; B and F shared the bonus prize (1000 each)
    card, t, staff, correction = settled
    assert [gross(t[k]) for k in "ABFL"] == [10_000, 1_000, 1_000, 0]

    # when: event 3 was a draw after all
    report = betcard_resettle(
        betcard=card, reason=REASON, changed_by=staff, corrections=[correction]
    )

    # then: B and F now share the jackpot, A takes the bonus prize alone; F is closed
    # (final) and keeps its 1000 without an override
    assert [gross(t[k]) for k in "ABFL"] == [2_000, 5_000, 1_000, 0]
    for key in "AB":
        assert webhooks(t[key]) == [
            ("ticket_win", "result:1"),
            ("ticket_rollback", "rollback:2"),
            ("ticket_win", "result:2"),
        ]
    assert webhooks(t["F"]) == [("ticket_win", "result:1")]
    assert webhooks(t["L"]) == [("ticket_lost", "result:1")]
    rollback, new_result = WebhookDelivery.objects.filter(ticket=t["A"]).order_by("pk")[1:]
    assert rollback.body == body(TICKET_ROLLBACK, t["A"], reason=REASON).decode()
    assert new_result.body == body(TICKET_RESULT, t["A"]).decode()
    assert (report.round, report.rolled_back, report.kept_final) == (2, 2, 1)
    event_3 = correction.market.event_id
    assert selection_result(t["A"], event_3) == "lost"
    assert selection_result(t["B"], event_3) == "won"
    assert selection_result(t["F"], event_3) == "lost"  # final: left as it was
    assert report.unbalanced == 12_000 - (2_000 + 5_000 + 1_000) - 0 == 4_000
    assert t["A"].settlement_round == t["B"].settlement_round == 2
    assert t["A"].closed_at is None


def test_resettlement_is_audited_with_who_why_and_the_corrected_result(settled):
    card, _t, staff, correction = settled

    betcard_resettle(betcard=card, reason=REASON, changed_by=staff, corrections=[correction])

    change = MarketResultChange.objects.latest("pk")
    assert (change.market_id, change.winning_bet_id, change.changed_by, change.reason) == (
        correction.market.pk,
        correction.winning_bet_id,
        staff,
        REASON,
    )
    assert change.source == "resettlement"
    round_2 = Settlement.objects.get(betcard=card, number=2)
    assert (round_2.reason, round_2.requested_by, round_2.override_closed) == (REASON, staff, False)
    assert round_2.finished_at is not None


def test_a_staff_override_also_regrades_closed_tickets(settled):
    card, t, staff, correction = settled

    report = betcard_resettle(
        betcard=card,
        reason=REASON,
        changed_by=staff,
        corrections=[correction],
        override_closed=True,
    )

    assert [gross(t[k]) for k in "ABFL"] == [2_000, 5_000, 5_000, 0]
    assert webhooks(t["F"])[1:] == [("ticket_rollback", "rollback:2"), ("ticket_win", "result:2")]
    assert t["F"].closed_at is None  # final again only after a new ticket_closed
    assert selection_result(t["F"], correction.market.event_id) == "won"
    assert (report.rolled_back, report.kept_final, report.unbalanced) == (3, 0, 0)
    assert Settlement.objects.get(betcard=card, number=2).override_closed is True


def test_resettling_again_or_resuming_sends_nothing_twice(settled):
    card, _t, staff, correction = settled
    betcard_resettle(betcard=card, reason=REASON, changed_by=staff, corrections=[correction])
    sent = WebhookDelivery.objects.count()

    again = betcard_settle(betcard=card)

    assert again.already_settled is True
    assert WebhookDelivery.objects.count() == sent


def test_results_edited_after_settlement_are_flagged_until_resettled(settled):
    card, _t, staff, correction = settled
    market_result_set(
        market=correction.market,
        winning_bet=Bet.objects.get(pk=correction.winning_bet_id),
        void=False,
        changed_by=staff,
        source="admin",
    )

    flagged = betcard_settle(betcard=card)
    report = betcard_resettle(betcard=card, reason=REASON, changed_by=staff)

    assert (flagged.already_settled, flagged.results_changed) == (True, True)
    assert (report.results_changed, report.rolled_back) == (False, 2)


def test_resettlement_needs_a_reason_and_a_settled_card(settled):
    card, _t, staff, _correction = settled
    fresh = BetcardFactory(events=1, code="FRESH1")

    with pytest.raises(ResettlementReasonMissing):
        betcard_resettle(betcard=card, reason="  ", changed_by=staff)
    with pytest.raises(BetcardNotSettled) as refused:
        betcard_resettle(betcard=fresh, reason=REASON, changed_by=staff)
    assert refused.value.message == (
        "Betcard `FRESH1` is not settled yet: settle it before correcting a result"
    )
    assert Settlement.objects.filter(betcard=card).count() == 1


def test_checks_for_background_runs_refuse_like_the_services(settled):
    card, _t, _staff, correction = settled
    unresulted = BetcardFactory(events=1, code="NORES2")

    with pytest.raises(ResultsMissing):
        betcard_settle_check(betcard=unresulted)
    betcard_settle_check(betcard=card)  # settled: settling again is a harmless no-op
    with pytest.raises(BetcardNotSettled):
        betcard_resettle_check(betcard=unresulted, reason=REASON)
    with pytest.raises(ResettlementReasonMissing):
        betcard_resettle_check(betcard=card, reason="")
    betcard_resettle_check(betcard=card, reason=REASON)
    market_result_set(market=correction.market, winning_bet=None, void=False, source="admin")
    with pytest.raises(ResultsMissing):
        betcard_resettle_check(betcard=card, reason=REASON)
    assert Settlement.objects.filter(betcard=card).count() == 1
