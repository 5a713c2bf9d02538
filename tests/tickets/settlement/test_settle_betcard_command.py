"""`manage.py settle_betcard` (operations.md): settle, refuse, resettle from the shell."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from betcards.models import Market, MarketResultChange
from tests.factories import BetcardFactory, TicketFactory
from tests.tickets.settlement.conftest import DRAW, bet_id, card_event_ids, picks, results_enter
from tickets.models import Settlement, Ticket

pytestmark = pytest.mark.django_db


def settle(*args: str) -> str:
    out = io.StringIO()
    call_command("settle_betcard", *args, "--no-progress", stdout=out)
    return out.getvalue()


@pytest.fixture
def card():
    card = BetcardFactory(events=2, code="CMD001", prize=10_000, bonus_prizes=[2_000])
    results_enter(card)
    return card


def test_settles_and_prints_the_tiers_and_totals(card):
    TicketFactory.create_batch(3, betcard=card)

    out = settle("CMD001")

    assert "Betcard CMD001, settlement round 1" in out
    assert "graded now 3; tickets 3: won 3, lost 0, void 0; cancelled (not graded) 0" in out
    assert "gross 9999, WHT 867, net 9132, refunds 0 (cents); prize pool 12000, remainder 2001" in (
        out
    )
    assert "2000 (no winners)" in out


def test_json_report_for_scripts(card):
    TicketFactory(betcard=card)

    report = json.loads(settle("CMD001", "--json"))

    assert (report["round"], report["graded_now"], report["gross_payout"]) == (1, 1, 10_000)
    assert report["tiers"][1] == {
        "misses": 1,
        "amount": 2_000,
        "winners": 0,
        "share": 0,
        "remainder": 2_000,
    }
    assert (report["prize_pool"], report["remainder"], report["unbalanced"]) == (12_000, 2_000, 0)


def test_second_run_says_nothing_changed(card):
    TicketFactory(betcard=card)
    settle("CMD001")

    assert "Betcard CMD001 is already settled: nothing changed." in settle("CMD001")


def test_refuses_without_results_and_exits_with_the_reason():
    card = BetcardFactory(events=1, code="CMD002")
    (event_id,) = card_event_ids(card)

    with pytest.raises(CommandError, match=f"events without a result: {event_id}$"):
        settle("CMD002")
    assert not Settlement.objects.exists()


def test_unknown_betcard():
    with pytest.raises(CommandError, match="Betcard `NOPE` is not found"):
        settle("NOPE")


def test_resettles_with_a_correction_a_reason_and_the_staff_member(card, django_user_model):
    # given
    _first, second = card_event_ids(card)
    ticket = TicketFactory(betcard=card, picks=picks(card, {second: DRAW}))
    settle("CMD001")
    django_user_model.objects.create_user("manager")

    # when
    out = settle(
        "CMD001",
        "--resettle",
        "--reason",
        "feed error on event 2",
        "--winning-bet",
        f"{second * 10}:{bet_id(second, DRAW)}",
        "--by",
        "manager",
    )

    # then
    assert "settlement round 2" in out
    assert "rolled back and re-sent 1; final tickets kept as they were 0" in out
    ticket.refresh_from_db()
    assert (ticket.result, ticket.gross_payout) == ("won", 10_000)
    change = MarketResultChange.objects.latest("pk")
    assert (change.changed_by.username, change.reason) == ("manager", "feed error on event 2")
    assert Market.objects.get(pk=second * 10).winning_bet_id == bet_id(second, DRAW)
    assert Ticket.objects.get(pk=ticket.pk).settlement_round == 2


def test_corrections_need_resettle(card):
    first, _second = card_event_ids(card)

    with pytest.raises(CommandError, match="add --resettle"):
        settle("CMD001", "--void", str(first * 10))
