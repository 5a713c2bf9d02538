"""Result webhooks reach a local PAM through a real Celery worker (prefork, with beat).

Uses the `hooks` test support: `ScriptedPam` (a local signed-webhook PAM on an OS-chosen
port) and `CeleryWorker` (a worker subprocess on the test database). The worker's broker is
this suite's own Redis database (REDIS_URL), purged at start.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import BetcardFactory, OperatorFactory, TicketFactory
from tests.support.pam import ScriptedPam
from tests.support.worker import CeleryWorker
from tests.tickets.settlement.conftest import (
    AWAY,
    DRAW,
    bet_id,
    card_event_ids,
    picks,
    results_enter,
)
from tests.tickets.webhooks.helpers import attempts_of, wait_until
from tickets.models import Ticket, TicketStatus, WebhookDelivery
from tickets.outbox.payloads import (
    TICKET_CLOSED,
    TICKET_RESULT,
    TICKET_ROLLBACK,
    body,
)
from tickets.settlement.rounds import ResultCorrection, betcard_resettle, betcard_settle

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def worker(tmp_path: Path, **env: str) -> CeleryWorker:
    return CeleryWorker(broker_url=settings.CELERY_BROKER_URL, log_dir=tmp_path, env=env)


@pytest.fixture
def card_with_tickets(pam: ScriptedPam):
    """3 events won at home; A and B have all three, L has none, C is cancelled."""
    operator = OperatorFactory(name="settle-e2e", webhook_url=pam.url, wht_percent=Decimal(10))
    pam.trust(operator)
    card = BetcardFactory(events=3, code="E2E001", prize=10_000, bonus_prizes=[2_000])
    ev = card_event_ids(card)
    results_enter(card)
    tickets = {
        "A": TicketFactory(operator=operator, betcard=card),
        "B": TicketFactory(operator=operator, betcard=card, picks=picks(card, {ev[2]: DRAW})),
        "L": TicketFactory(
            operator=operator, betcard=card, picks=picks(card, dict.fromkeys(ev, AWAY))
        ),
        "C": TicketFactory(operator=operator, betcard=card, status=TicketStatus.CANCELLED),
    }
    return card, ev, tickets


def received(pam: ScriptedPam, ticket: Ticket) -> list[str | None]:
    return [r.action for r in pam.received if r.ticket_id == ticket.pk]


def all_delivered() -> bool:
    return not WebhookDelivery.objects.exclude(status="delivered").exists()


def test_result_webhooks_reach_the_pam_and_a_resettlement_sends_rollback_then_result(
    pam: ScriptedPam, card_with_tickets, tmp_path: Path
) -> None:
    # given
    card, ev, t = card_with_tickets
    celery = worker(tmp_path).start(purge=True)
    try:
        # when: the card is settled
        betcard_settle(betcard=card)
        wait_until(all_delivered, timeout=30, what="result webhooks delivered")

        # then: one signed result webhook per graded ticket, with the contract's body
        for key, action in (("A", "ticket_win"), ("B", "ticket_win"), ("L", "ticket_lost")):
            t[key].refresh_from_db()
            [request] = [r for r in pam.received if r.ticket_id == t[key].pk]
            assert request.signature_ok
            assert request.action == action
            assert request.body == body(TICKET_RESULT, t[key])
            delivery = WebhookDelivery.objects.get(ticket=t[key])
            assert attempts_of(delivery) == [(1, 200, "delivered")]
        assert received(pam, t["C"]) == []
        assert json.loads(pam.received[0].body)["data"]["wht"] == 10.0

        # when: event 3 was a draw: B takes the jackpot, A the bonus prize
        betcard_resettle(
            betcard=card,
            reason="feed corrected event 3",
            changed_by=None,
            corrections=[
                ResultCorrection(
                    market=card.events.get(pk=ev[2]).markets.get(),
                    winning_bet_id=bet_id(ev[2], DRAW),
                )
            ],
        )
        wait_until(all_delivered, timeout=30, what="rollbacks and new results delivered")

        # then: rollback first, then the new result, for each changed ticket only
        for key in "AB":
            t[key].refresh_from_db()
            assert received(pam, t[key]) == ["ticket_win", "ticket_rollback", "ticket_win"]
            rollback, new_result = [r for r in pam.received if r.ticket_id == t[key].pk][1:]
            assert rollback.body == body(TICKET_ROLLBACK, t[key], reason="feed corrected event 3")
            assert new_result.body == body(TICKET_RESULT, t[key])
        assert (t["A"].gross_payout, t["B"].gross_payout) == (2_000, 10_000)
        assert received(pam, t["L"]) == ["ticket_lost"]
    finally:
        celery.stop()


def test_ticket_closed_follows_the_delivered_result_via_beat(
    pam: ScriptedPam, card_with_tickets, tmp_path: Path
) -> None:
    # given: a worker whose beat closes tickets as soon as their result is delivered
    card, _ev, t = card_with_tickets
    celery = worker(
        tmp_path, TICKET_CLOSED_DELAY_HOURS="0", TICKET_CLOSED_SWEEP_SECONDS="0.5"
    ).start(purge=True)
    try:
        # when
        betcard_settle(betcard=card)

        # then
        wait_until(
            lambda: Ticket.objects.filter(closed_at__isnull=False).count() == 3 and all_delivered(),
            timeout=30,
            what="ticket_closed delivered",
        )
        for key in "ABL":
            t[key].refresh_from_db()
            assert received(pam, t[key])[-1] == "ticket_closed"
            closing = [r for r in pam.received if r.ticket_id == t[key].pk][-1]
            assert closing.body == body(TICKET_CLOSED, t[key])
        assert received(pam, t["C"]) == []
    finally:
        celery.stop()
