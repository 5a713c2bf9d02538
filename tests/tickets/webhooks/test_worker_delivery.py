"""PAM webhooks end to end: a real Celery worker (prefork, with beat), Redis and a local PAM.

The worker runs with the short timeouts and retry settings of
`tests.support.worker.FAST_PAM_SETTINGS` (1.5 s read timeout, 4 s retry window, 4 s lease,
0.5 s sweep taking 10 rows at a time).
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.db import transaction
from django.test import Client

from jackpot.core import clock
from tests.factories import OperatorFactory, TicketFactory
from tests.support.api import signed_post
from tests.support.pam import Answer, ReceivedWebhook, ScriptedPam, player_id_for
from tests.support.sample import sample_request, sample_setup
from tests.support.worker import CeleryWorker, RedisServer, wait_until
from tests.tickets.webhooks.helpers import CREATE_FIELDS, attempts_of
from tickets.models import Ticket, WebhookAttempt, WebhookDelivery
from tickets.outbox.payloads import TICKET_CREATE, TICKET_RESULT, body
from tickets.outbox.queueing import enqueue, pending_row
from tickets.outbox.waking import WAKER

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def delivered(delivery_id: int) -> bool:
    return WebhookDelivery.objects.get(pk=delivery_id).status == "delivered"


def placed_create(pam: ScriptedPam) -> tuple[Ticket, WebhookDelivery]:
    """A ticket and its ticket_create written in one transaction (kicked after commit)."""
    operator = OperatorFactory(webhook_url=pam.url)
    pam.trust(operator)
    with transaction.atomic():
        ticket = TicketFactory.create(operator=operator)
        delivery = enqueue(ticket=ticket, webhook=TICKET_CREATE)
    return ticket, delivery


def test_a_placed_ticket_reaches_the_pam_signed_in_order_and_shows_delivered(
    pam: ScriptedPam, celery_worker: CeleryWorker, client: Client
) -> None:
    # given
    sample = sample_setup(webhook_url=pam.url)
    pam.trust(sample.operator)

    # when
    response = signed_post(client, sample.operator, "/be/tickets", sample_request())

    # then
    assert response.status_code == 200, response.content
    ticket_id = response.json()["id"]
    delivery = WebhookDelivery.objects.get(ticket_id=ticket_id, action="ticket_create")
    wait_until(lambda: delivered(delivery.pk), what="ticket_create delivered")
    ticket = Ticket.objects.get(pk=ticket_id)
    [request] = pam.received
    assert request.signature_ok
    assert request.body == body(TICKET_CREATE, ticket)
    assert list(request.data or {}) == CREATE_FIELDS
    assert (request.data or {})["atag"] is None
    assert ticket.pam_confirmed_at is not None
    assert ticket.user_id == player_id_for("sometokenvalue")
    assert attempts_of(delivery) == [(1, 200, "delivered")]


def test_pam_500_three_times_then_200_is_delivered_with_four_attempts(
    pam: ScriptedPam, celery_worker: CeleryWorker
) -> None:
    pam.script("ticket_create", 500, 500, 500)
    ticket, delivery = placed_create(pam)

    wait_until(lambda: delivered(delivery.pk), what="delivery after three 500s")

    assert attempts_of(delivery) == [
        (1, 500, "retryable"),
        (2, 500, "retryable"),
        (3, 500, "retryable"),
        (4, 200, "delivered"),
    ]
    assert [request.ticket_id for request in pam.received] == [ticket.pk] * 4
    ticket.refresh_from_db()
    assert (ticket.status, ticket.pam_confirmed_at is not None) == ("open", True)


def test_pam_4xx_cancels_the_ticket_and_sends_ticket_discard(
    pam: ScriptedPam, celery_worker: CeleryWorker
) -> None:
    pam.script("ticket_create", Answer(status=400, body=b'{"error":"player blocked"}'))
    ticket, delivery = placed_create(pam)

    [_, discard] = pam.wait_for(lambda got: len(got) == 2, what="ticket_discard")

    assert discard.action == "ticket_discard"
    assert discard.signature_ok
    assert (discard.data or {})["reason"] == "pam_refused"
    assert discard.ticket_id == ticket.pk
    ticket.refresh_from_db()
    assert (ticket.status, ticket.approved, ticket.result, ticket.cancel_reason) == (
        "cancelled",
        False,
        "void",
        "pam_refused",
    )
    assert attempts_of(delivery) == [(1, 400, "refused")]
    wait_until(
        lambda: WebhookDelivery.objects.filter(
            ticket=ticket, action="ticket_discard", status="delivered"
        ).exists(),
        what="ticket_discard marked delivered",
    )


def test_pam_timing_out_is_retried_within_the_window_then_discarded(
    pam: ScriptedPam, celery_worker: CeleryWorker
) -> None:
    # given: a PAM that answers ticket_create after 2 s, past the worker's 1.5 s timeout
    for _ in range(30):
        pam.script("ticket_create", Answer(status=200, delay_seconds=2.0))
    started = time.monotonic()
    ticket, delivery = placed_create(pam)

    # when
    pam.wait_for(lambda got: bool(pam.of_action("ticket_discard")), what="ticket_discard")

    # then: several timed-out attempts within the 4 s window, then the discard
    elapsed = time.monotonic() - started
    delivery.refresh_from_db()
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert delivery.status == "failed"
    assert len(attempts) >= 3
    assert {(a.http_status, a.outcome) for a in attempts} == {(None, "retryable")}
    assert all(a.error.startswith("ReadTimeout") for a in attempts)
    assert delivery.retry_deadline is not None
    assert attempts[-1].started_at <= delivery.retry_deadline
    assert elapsed < 4 + 1.5 + 3  # the window, its last timeout, then the discard
    ticket.refresh_from_db()
    assert (ticket.status, ticket.cancel_reason) == ("cancelled", "pam_unreachable")
    [discard] = pam.of_action("ticket_discard")
    assert (discard.data or {})["reason"] == "pam_unreachable"


def test_tickets_placed_while_redis_is_down_are_delivered_after_it_returns(
    pam: ScriptedPam, celery_worker: CeleryWorker, worker_redis: RedisServer, client: Client
) -> None:
    # given: the worker and this process use a private Redis
    sample = sample_setup(webhook_url=pam.url)
    pam.trust(sample.operator)
    WAKER.publish([987_654_321])  # this process has published before: transport loaded, pooled

    # when: Redis stops and tickets are placed
    worker_redis.stop()
    durations, ticket_ids = [], []
    for number in range(3):
        started = time.monotonic()
        response = signed_post(
            client, sample.operator, "/be/tickets", sample_request(token=f"p-{number}")
        )
        durations.append(time.monotonic() - started)
        assert response.status_code == 200, response.content
        ticket_ids.append(response.json()["id"])

    # then: placement stayed fast and nothing was sent
    assert max(durations) < 1.0, durations
    assert pam.received == []
    rows = WebhookDelivery.objects.filter(ticket_id__in=ticket_ids)
    assert set(rows.values_list("status", "attempts_count")) == {("pending", 0)}

    # when Redis returns (empty: the kicks were never queued)
    worker_redis.start()

    # then the sweep sends every webhook
    wait_until(
        lambda: rows.filter(status="delivered").count() == 3,
        timeout=30,
        what="all three webhooks delivered after Redis returned",
    )
    assert sorted(request.ticket_id or "" for request in pam.received) == sorted(ticket_ids)


def test_a_worker_killed_mid_delivery_does_not_lose_the_webhook(
    pam: ScriptedPam, celery_worker: CeleryWorker
) -> None:
    # given: the worker is killed by SIGKILL the moment the PAM gets the first ticket_create,
    # before it can answer
    def kill_the_worker_once(request: ReceivedWebhook) -> None:
        if len(pam.received) == 0:
            celery_worker.kill()

    pam.on_request = kill_the_worker_once
    pam.script("ticket_create", Answer(status=200, delay_seconds=5))
    ticket, delivery = placed_create(pam)
    pam.wait_for(lambda got: len(got) == 1, what="the first ticket_create")
    assert not celery_worker.running
    assert attempts_of(delivery) == [(1, None, "in_flight")]

    # when: a new worker starts
    celery_worker.start()

    # then: once the dead worker's lease runs out, the sweep has the webhook sent again
    wait_until(lambda: delivered(delivery.pk), timeout=20, what="delivery after SIGKILL")
    first, second = pam.of_action("ticket_create")
    assert first.body == second.body
    assert first.ticket_id == second.ticket_id == ticket.pk
    assert attempts_of(delivery) == [(1, None, "interrupted"), (2, 200, "delivered")]


def test_a_backlog_left_to_the_sweep_is_handed_out_by_one_run_and_delivered(
    pam: ScriptedPam, celery_worker: CeleryWorker
) -> None:
    # given: three sweep batches' worth of overdue rows nobody kicked (as settlement leaves
    # a large batch of result webhooks to the sweep)
    operator = OperatorFactory(webhook_url=pam.url)
    pam.trust(operator)
    overdue = clock.now() - dt.timedelta(minutes=1)
    with transaction.atomic():
        rows = []
        for _ in range(30):
            ticket = TicketFactory.create(operator=operator, status="closed", result="won")
            row = pending_row(ticket=ticket, webhook=TICKET_RESULT)
            row.next_attempt_at = overdue
            row.save(force_insert=True)
            rows.append(row)

    # when / then: every row is delivered once, all handed out by one sweep run
    ids = [row.pk for row in rows]
    wait_until(
        lambda: WebhookDelivery.objects.filter(pk__in=ids, status="delivered").count() == 30,
        timeout=20,
        what="the backlog delivered",
    )
    assert "event='pam_outbox_swept' count=30 batches=4" in celery_worker.log()
    assert sorted(r.ticket_id or "" for r in pam.of_action("ticket_win")) == sorted(
        row.ticket_id or "" for row in rows
    )
    assert set(
        WebhookDelivery.objects.filter(pk__in=ids).values_list("attempts_count", flat=True)
    ) == {1}


def test_a_slow_pam_gets_its_share_and_another_operator_is_not_kept_waiting(
    pam: ScriptedPam, celery_worker: CeleryWorker
) -> None:
    # given: one pool process (sending 8 at once); an operator whose PAM answers in 1 s
    # has 20 webhooks queued
    slow = OperatorFactory(webhook_url=pam.url)
    pam.trust(slow)
    pam.script(None, *[Answer(status=200, delay_seconds=1.0)] * 20)
    with transaction.atomic():
        slow_rows = [
            enqueue(ticket=TicketFactory.create(operator=slow), webhook=TICKET_CREATE)
            for _ in range(20)
        ]
    pam.wait_for(lambda received: len(received) >= 1, what="the slow PAM's first webhook")

    with ScriptedPam() as fast_pam:
        fast = OperatorFactory(webhook_url=fast_pam.url)
        fast_pam.trust(fast)

        # when: another operator's ticket is placed while the slow batch is being sent
        with transaction.atomic():
            enqueue(ticket=TicketFactory.create(operator=fast), webhook=TICKET_CREATE)

        # then: it is sent once the slow PAM has used its share (2 s of answers: the first 8
        # at once took 8), not after the 3 s the whole batch takes
        [other] = fast_pam.wait_for(
            lambda received: len(received) == 1,
            timeout=5.5,
            what="the other operator's ticket_create before the slow batch ends",
        )
    wait_until(
        lambda: all(delivered(row.pk) for row in slow_rows),
        timeout=30,
        what="the slow operator's deferred webhooks",
    )
    assert other.received_at < max(request.received_at for request in pam.received)
    assert sorted(str(r.ticket_id) for r in pam.received) == sorted(
        str(r.ticket_id) for r in slow_rows
    )
    assert set(
        WebhookDelivery.objects.filter(pk__in=[r.pk for r in slow_rows]).values_list(
            "attempts_count", flat=True
        )
    ) == {1}
