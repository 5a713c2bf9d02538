"""tickets.delivery: one attempt at a delivery, its record, and what the answer means.

These call the service directly (no worker) against a local PAM; test_worker_delivery.py
runs the same paths through a real Celery worker.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from prometheus_client import REGISTRY

from jackpot.core import clock
from tests.factories import OperatorFactory, TicketFactory
from tests.support.pam import Answer, ReceivedWebhook, ScriptedPam
from tests.tickets.webhooks.helpers import CREATE_FIELDS, DISCARD_FIELDS, attempts_of
from tickets.delivery.attempts import pam_call_deliver, pam_call_deliver_batch
from tickets.lifecycle import CANCELLED_BEFORE_CREATE, ticket_cancel_by_staff
from tickets.models import Ticket, WebhookAttempt, WebhookDelivery
from tickets.outbox.payloads import TICKET_CREATE, TICKET_DISCARD, TICKET_RESULT, body
from tickets.outbox.queueing import enqueue
from tickets.outbox.waking import SWEEP_PRIORITY, WAKER

pytestmark = pytest.mark.django_db


def queued_create(pam: ScriptedPam, **ticket_fields: object) -> tuple[Ticket, WebhookDelivery]:
    operator = OperatorFactory(webhook_url=pam.url)
    pam.trust(operator)
    ticket = TicketFactory.create(operator=operator, **ticket_fields)
    delivery = enqueue(ticket=ticket, webhook=TICKET_CREATE)
    return ticket, delivery


def make_due(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=clock.now() - dt.timedelta(seconds=1)
    )


def discard_of(ticket: Ticket) -> WebhookDelivery:
    return WebhookDelivery.objects.get(ticket=ticket, action="ticket_discard")


def test_2xx_marks_delivered_and_confirms_the_ticket_with_the_pam_player_id(
    pam: ScriptedPam,
) -> None:
    # given
    ticket, delivery = queued_create(pam, atag=None)
    pam.script("ticket_create", Answer(status=200, body=b'{"player_id":"PAM-1"}'))

    # when
    result = pam_call_deliver(delivery_id=delivery.pk)

    # then
    assert result == "delivered"
    delivery.refresh_from_db()
    ticket.refresh_from_db()
    assert (delivery.status, delivery.attempts_count, delivery.lease_until) == (
        "delivered",
        1,
        None,
    )
    assert delivery.last_error == ""
    [attempt] = WebhookAttempt.objects.filter(delivery=delivery)
    assert (attempt.number, attempt.http_status, attempt.outcome, attempt.error) == (
        1,
        200,
        "delivered",
        "",
    )
    assert attempt.response_excerpt == '{"player_id":"PAM-1"}'
    assert delivery.delivered_at is not None
    assert attempt.started_at <= delivery.delivered_at
    assert ticket.pam_confirmed_at == delivery.delivered_at
    assert ticket.user_id == "PAM-1"
    assert (ticket.status, ticket.approved, ticket.needs_reconciliation) == ("open", True, False)
    [request] = pam.received
    assert request.signature_ok
    assert request.body == body(TICKET_CREATE, ticket)
    assert request.action == "ticket_create"
    assert list(request.data or {}) == CREATE_FIELDS
    assert (request.data or {})["atag"] is None
    assert b" " not in request.body


def test_answer_without_player_id_confirms_and_keeps_user_id(pam: ScriptedPam) -> None:
    ticket, delivery = queued_create(pam, user_id="known-before")
    pam.script("ticket_create", Answer(status=200, body=b""))

    assert pam_call_deliver(delivery_id=delivery.pk) == "delivered"

    ticket.refresh_from_db()
    assert ticket.pam_confirmed_at is not None
    assert ticket.user_id == "known-before"


def test_a_delivered_row_is_never_sent_again(pam: ScriptedPam) -> None:
    _, delivery = queued_create(pam)
    pam_call_deliver(delivery_id=delivery.pk)

    assert pam_call_deliver(delivery_id=delivery.pk) == "already-delivered"
    assert len(pam.received) == 1


def test_5xx_schedules_a_retry_with_jittered_backoff(
    pam: ScriptedPam, settings, django_capture_on_commit_callbacks
) -> None:
    # given
    settings.PAM_RETRY_BASE_SECONDS = 4.0
    _, delivery = queued_create(pam)
    pam.script("ticket_create", Answer(status=503, body=b"busy"))
    before = clock.now()

    # when
    with django_capture_on_commit_callbacks() as kicks:
        result = pam_call_deliver(delivery_id=delivery.pk)

    # then
    after = clock.now()
    assert result == "retry-scheduled"
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert delivery.lease_until is None
    assert delivery.last_error == "HTTP 503"
    assert before + dt.timedelta(seconds=2) <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= after + dt.timedelta(seconds=4)
    assert attempts_of(delivery) == [(1, 503, "retryable")]
    assert len(kicks) == 1  # a countdown kick for the retry; the sweep covers it too
    assert pam_call_deliver(delivery_id=delivery.pk) == "not-due"
    assert len(pam.received) == 1


def test_500_three_times_then_200_is_delivered_at_the_fourth_attempt(pam: ScriptedPam) -> None:
    ticket, delivery = queued_create(pam)
    pam.script("ticket_create", 500, 500, 500, 200)

    results = []
    for _ in range(4):
        make_due(delivery)
        results.append(pam_call_deliver(delivery_id=delivery.pk))

    assert results == ["retry-scheduled"] * 3 + ["delivered"]
    assert attempts_of(delivery) == [
        (1, 500, "retryable"),
        (2, 500, "retryable"),
        (3, 500, "retryable"),
        (4, 200, "delivered"),
    ]
    assert {request.ticket_id for request in pam.received} == {ticket.pk}
    assert len({request.body for request in pam.received}) == 1


def test_4xx_cancels_the_ticket_and_queues_ticket_discard(pam: ScriptedPam) -> None:
    # given
    ticket, delivery = queued_create(pam)
    pam.script("ticket_create", Answer(status=402, body=b'{"error":"insufficient funds"}'))

    # when
    result = pam_call_deliver(delivery_id=delivery.pk)

    # then
    assert result == "discard-scheduled"
    delivery.refresh_from_db()
    ticket.refresh_from_db()
    assert (delivery.status, delivery.last_error) == ("failed", "HTTP 402")
    assert (ticket.status, ticket.approved, ticket.result, ticket.cancel_reason) == (
        "cancelled",
        False,
        "void",
        "pam_refused",
    )
    assert ticket.pam_confirmed_at is None
    discard = discard_of(ticket)
    assert discard.status == "pending"
    assert discard.body == body(TICKET_DISCARD, ticket, reason="pam_refused").decode()
    assert discard.retry_deadline is None

    # when the discard goes out
    assert pam_call_deliver(delivery_id=discard.pk) == "delivered"

    # then
    [_, sent] = pam.received
    assert sent.action == "ticket_discard"
    assert sent.signature_ok
    assert list(sent.data or {}) == DISCARD_FIELDS
    assert (sent.data or {})["reason"] == "pam_refused"


def test_failure_after_the_retry_window_gives_up_as_unreachable(pam: ScriptedPam, settings) -> None:
    settings.PAM_RETRY_WINDOW_SECONDS = 0
    ticket, delivery = queued_create(pam)
    pam.script("ticket_create", 502)

    assert pam_call_deliver(delivery_id=delivery.pk) == "discard-scheduled"

    ticket.refresh_from_db()
    assert (ticket.status, ticket.cancel_reason) == ("cancelled", "pam_unreachable")
    assert discard_of(ticket).body.endswith('"reason":"pam_unreachable"}}')


def test_the_last_retry_is_made_at_the_deadline(pam: ScriptedPam, settings) -> None:
    settings.PAM_RETRY_BASE_SECONDS = 600.0
    settings.PAM_RETRY_MAX_DELAY_SECONDS = 600.0
    settings.PAM_RETRY_WINDOW_SECONDS = 20
    _, delivery = queued_create(pam)
    pam.script("ticket_create", 500)

    assert pam_call_deliver(delivery_id=delivery.pk) == "retry-scheduled"

    delivery.refresh_from_db()
    assert delivery.retry_deadline == delivery.created_at + dt.timedelta(seconds=20)
    assert delivery.next_attempt_at == delivery.retry_deadline


def test_timeouts_are_retried_until_the_deadline_then_discarded(pam: ScriptedPam, settings) -> None:
    # given: a PAM slower than the read timeout, a 1.5 s window
    settings.PAM_READ_TIMEOUT_SECONDS = 0.2
    settings.PAM_RETRY_BASE_SECONDS = 0.1
    settings.PAM_RETRY_MAX_DELAY_SECONDS = 0.2
    settings.PAM_RETRY_WINDOW_SECONDS = 1.5
    ticket, delivery = queued_create(pam)
    for _ in range(20):
        pam.script("ticket_create", Answer(status=200, delay_seconds=0.5))

    # when: attempts are made whenever due, as the worker would
    results: list[str] = []
    while not results or results[-1] == "retry-scheduled":
        delivery.refresh_from_db()
        time.sleep(max(0.0, (delivery.next_attempt_at - clock.now()).total_seconds()))
        results.append(pam_call_deliver(delivery_id=delivery.pk))

    # then
    delivery.refresh_from_db()
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert results[-1] == "discard-scheduled"
    assert len(attempts) >= 3
    assert {(a.http_status, a.outcome) for a in attempts} == {(None, "retryable")}
    assert all(a.error.startswith("ReadTimeout") for a in attempts)
    assert delivery.retry_deadline is not None
    assert attempts[-1].started_at >= delivery.retry_deadline - dt.timedelta(seconds=0.25)
    assert attempts[-1].started_at <= delivery.retry_deadline + dt.timedelta(seconds=0.25)
    ticket.refresh_from_db()
    assert ticket.cancel_reason == "pam_unreachable"


def test_a_failed_discard_is_repeated_every_30_minutes_until_it_succeeds(
    pam: ScriptedPam, settings
) -> None:
    # given
    settings.PAM_DISCARD_RETRY_MINUTES = 30
    ticket, _ = queued_create(pam)
    ticket_cancel_by_staff(ticket=ticket)
    discard = discard_of(ticket)
    pam.script("ticket_discard", 500, 400, 200)

    # when / then: neither a 5xx nor a 4xx ends the discard
    for status in (500, 400):
        before = clock.now()
        assert pam_call_deliver(delivery_id=discard.pk) == "retry-scheduled"
        discard.refresh_from_db()
        assert discard.status == "pending"
        assert discard.last_error == f"HTTP {status}"
        wait = discard.next_attempt_at - before
        assert dt.timedelta(minutes=30) <= wait <= dt.timedelta(minutes=30, seconds=5)
        make_due(discard)
    assert pam_call_deliver(delivery_id=discard.pk) == "delivered"
    assert attempts_of(discard) == [
        (1, 500, "retryable"),
        (2, 400, "refused"),
        (3, 200, "delivered"),
    ]


def test_staff_cancel_stops_an_unsent_create_and_sends_the_discard(pam: ScriptedPam) -> None:
    # given
    ticket, create = queued_create(pam)

    # when
    ticket_cancel_by_staff(ticket=ticket)

    # then
    assert (ticket.status, ticket.approved, ticket.result, ticket.cancel_reason) == (
        "cancelled",
        False,
        "void",
        "staff_cancelled",
    )
    create.refresh_from_db()
    assert (create.status, create.last_error) == ("failed", CANCELLED_BEFORE_CREATE)
    assert pam_call_deliver(delivery_id=create.pk) == "already-failed"
    assert pam_call_deliver(delivery_id=discard_of(ticket).pk) == "delivered"
    assert [request.action for request in pam.received] == ["ticket_discard"]
    assert (pam.received[0].data or {})["reason"] == "staff_cancelled"


def test_discard_waits_while_the_create_is_in_flight(pam: ScriptedPam) -> None:
    # given: a worker holds the create
    ticket, create = queued_create(pam)
    WebhookDelivery.objects.filter(pk=create.pk).update(
        lease_until=clock.now() + dt.timedelta(minutes=1)
    )

    # when
    ticket_cancel_by_staff(ticket=ticket)

    # then
    create.refresh_from_db()
    assert create.status == "pending"
    assert pam_call_deliver(delivery_id=discard_of(ticket).pk) == "waiting-for-earlier"
    assert pam.received == []


def test_a_leased_row_is_left_to_its_worker(pam: ScriptedPam) -> None:
    _, delivery = queued_create(pam)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        lease_until=clock.now() + dt.timedelta(seconds=30)
    )

    assert pam_call_deliver(delivery_id=delivery.pk) == "in-flight"
    assert pam.received == []


def test_an_attempt_a_dead_worker_left_is_marked_interrupted(pam: ScriptedPam) -> None:
    # given: attempt 1 was claimed, then its worker died and the lease ran out
    _, delivery = queued_create(pam)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts_count=1, lease_until=clock.now() - dt.timedelta(seconds=1)
    )
    WebhookAttempt.objects.create(
        delivery=delivery, number=1, started_at=clock.now(), latency_ms=0, outcome="in_flight"
    )

    # when
    assert pam_call_deliver(delivery_id=delivery.pk) == "delivered"

    # then
    assert attempts_of(delivery) == [(1, None, "interrupted"), (2, 200, "delivered")]


def test_a_batch_makes_one_attempt_at_each_row_in_turn(pam: ScriptedPam) -> None:
    # given: three queued creates, the second already delivered
    created = [queued_create(pam) for _ in range(3)]
    (first, _), (second, done), (third, _) = created
    assert pam_call_deliver(delivery_id=done.pk) == "delivered"

    # when
    delivered = pam_call_deliver_batch(delivery_ids=[d.pk for _, d in created], at_once=1)

    # then
    assert delivered == 2
    assert [r.ticket_id for r in pam.received] == [second.pk, first.pk, third.pk]
    assert set(
        WebhookDelivery.objects.filter(pk__in=[d.pk for _, d in created]).values_list(
            "status", "attempts_count"
        )
    ) == {("delivered", 1)}


def test_a_batch_sends_rows_at_once_and_records_each_answer(pam: ScriptedPam) -> None:
    # given: four queued creates; the PAM takes 1 s over each: 200, 500, 400, 200
    (ok_ticket, ok), (_, flaky), (refused_ticket, refused), (_, ok_too) = [
        queued_create(pam) for _ in range(4)
    ]
    pam.script(flaky.ticket_id, Answer(status=500, delay_seconds=1))
    pam.script(refused.ticket_id, Answer(status=400, delay_seconds=1))
    pam.script("ticket_create", *[Answer(status=200, delay_seconds=1)] * 2)

    # when
    started = time.monotonic()
    delivered = pam_call_deliver_batch(
        delivery_ids=[ok.pk, flaky.pk, refused.pk, ok_too.pk], at_once=4
    )

    # then: sent at once (one after the other would take 4 s), each answer recorded
    assert time.monotonic() - started < 3
    assert delivered == 2
    assert len(pam.received) == 4
    assert attempts_of(ok) == [(1, 200, "delivered")]
    assert attempts_of(ok_too) == [(1, 200, "delivered")]
    assert attempts_of(flaky) == [(1, 500, "retryable")]
    assert attempts_of(refused) == [(1, 400, "refused")]
    rows = {
        row.pk: row
        for row in WebhookDelivery.objects.filter(ticket__in=[ok_ticket, refused_ticket])
    }
    flaky.refresh_from_db()
    assert (flaky.status, flaky.lease_until) == ("pending", None)
    assert flaky.next_attempt_at > clock.now()
    assert rows[ok.pk].status == "delivered"
    assert rows[refused.pk].status == "failed"
    ok_ticket.refresh_from_db()
    refused_ticket.refresh_from_db()
    assert ok_ticket.pam_confirmed_at is not None
    assert refused_ticket.status == "cancelled"
    assert discard_of(refused_ticket).status == "pending"


def test_a_row_sent_with_an_earlier_row_of_its_ticket_waits_for_it_then_is_woken(
    pam: ScriptedPam, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    # given: a ticket's create and, queued after it, its result webhook
    ticket, create = queued_create(pam, status="closed", result="won")
    result = enqueue(ticket=ticket, webhook=TICKET_RESULT)
    woken: list[int] = []

    def wake_now(ids: list[int], *, countdown: float | None = None) -> None:
        woken.extend(ids)

    monkeypatch.setattr(WAKER, "wake_now", wake_now)

    # when: both are in one turn
    with django_capture_on_commit_callbacks(execute=True):
        delivered = pam_call_deliver_batch(delivery_ids=[result.pk, create.pk], at_once=2)

    # then: only the create went out; the result webhook, which waited, is woken
    assert delivered == 1
    assert [request.action for request in pam.received] == ["ticket_create"]
    assert woken == [result.pk]
    assert pam_call_deliver(delivery_id=result.pk) == "delivered"
    assert [request.action for request in pam.received] == ["ticket_create", "ticket_win"]


def test_a_batch_out_of_time_leaves_its_rows_due(pam: ScriptedPam) -> None:
    _, delivery = queued_create(pam)

    assert pam_call_deliver_batch(delivery_ids=[delivery.pk], budget_seconds=0) == 0

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts_count, delivery.lease_until) == ("pending", 0, None)
    assert pam.received == []


def test_an_operator_past_its_share_of_a_batch_goes_to_the_back_and_the_others_go_on(
    pam: ScriptedPam, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a batch of a slow operator's three rows and another operator's row
    pam.script("ticket_create", *[Answer(status=200, delay_seconds=0.3)] * 3)
    _, slow_first = queued_create(pam)
    slow_second, slow_third = (
        enqueue(ticket=TicketFactory.create(operator=slow_first.operator), webhook=TICKET_CREATE)
        for _ in range(2)
    )
    published: list[tuple[list[int], int | None]] = []
    monkeypatch.setattr(
        WAKER,
        "publish",
        lambda ids, *, countdown=None, priority=None: published.append((list(ids), priority)),
    )
    with ScriptedPam() as fast_pam:
        _, fast = queued_create(fast_pam)

        # when: the slow PAM's first answer uses up its 0.2 s share
        delivered = pam_call_deliver_batch(
            delivery_ids=[slow_first.pk, slow_second.pk, fast.pk, slow_third.pk],
            share_seconds=0.2,
            at_once=1,
        )

        # then: the other operator was served; the slow one's rest was not tried but queued
        # again, behind everything else
        assert [r.ticket_id for r in fast_pam.received] == [fast.ticket_id]
    assert delivered == 2
    assert [r.ticket_id for r in pam.received] == [slow_first.ticket_id]
    assert published == [([slow_second.pk, slow_third.pk], SWEEP_PRIORITY)]
    assert set(
        WebhookDelivery.objects.filter(pk__in=[slow_second.pk, slow_third.pk]).values_list(
            "status", "attempts_count", "lease_until"
        )
    ) == {("pending", 0, None)}


def test_missing_row_is_reported(pam: ScriptedPam) -> None:
    assert pam_call_deliver(delivery_id=987_654_321) == "missing"


@pytest.mark.django_db(transaction=True)
def test_late_success_after_discard_keeps_the_ticket_cancelled_and_flags_it(
    pam: ScriptedPam,
) -> None:
    # given: staff cancel the ticket while its ticket_create is at the PAM
    ticket, create = queued_create(pam)

    def cancel_meanwhile(request: ReceivedWebhook) -> None:
        if request.action == "ticket_create":
            ticket_cancel_by_staff(ticket=Ticket.objects.get(pk=ticket.pk))
            connections.close_all()

    pam.on_request = cancel_meanwhile
    pam.script("ticket_create", Answer(status=200, body=b'{"player_id":"PAM-9"}'))

    # when
    result = pam_call_deliver(delivery_id=create.pk)

    # then: the success is recorded, the ticket stays discarded and is flagged
    assert result == "delivered"
    ticket.refresh_from_db()
    create.refresh_from_db()
    assert create.status == "delivered"
    assert (ticket.status, ticket.approved, ticket.result) == ("cancelled", False, "void")
    assert ticket.needs_reconciliation is True
    assert ticket.pam_confirmed_at is not None
    assert ticket.user_id == "PAM-9"
    # and the discard, which waited for the create, goes out after it
    assert pam_call_deliver(delivery_id=discard_of(ticket).pk) == "delivered"
    assert [request.action for request in pam.received] == ["ticket_create", "ticket_discard"]


@pytest.mark.django_db(transaction=True)
def test_a_2xx_for_a_row_another_worker_delivered_keeps_its_first_delivery(
    pam: ScriptedPam,
) -> None:
    # given: while the PAM holds the request, another worker (whose lease came after this
    # one's ran out) has delivered the row
    _, create = queued_create(pam)
    first = clock.now() - dt.timedelta(seconds=5)

    def delivered_meanwhile(request: ReceivedWebhook) -> None:
        WebhookDelivery.objects.filter(pk=create.pk).update(
            status="delivered", delivered_at=first, lease_until=None
        )
        connections.close_all()

    pam.on_request = delivered_meanwhile
    lags = lag_count("ticket_create")

    # when
    result = pam_call_deliver(delivery_id=create.pk)

    # then
    assert result == "delivered"
    create.refresh_from_db()
    assert (create.status, create.delivered_at) == ("delivered", first)
    assert attempts_of(create) == [(1, 200, "delivered")]
    assert lag_count("ticket_create") == lags


def lag_count(action: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "jackpot_pam_webhook_delivery_lag_seconds_count", {"action": action}
        )
        or 0.0
    )


def test_claim_and_record_take_a_bounded_number_of_queries(pam: ScriptedPam) -> None:
    _, delivery = queued_create(pam)

    with CaptureQueriesContext(connections["default"]) as queries:
        pam_call_deliver(delivery_id=delivery.pk)

    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    # claim: one statement (checks, lease, interrupted attempts, new attempt, operator);
    # record: one statement (attempt, row delivered, ticket confirmed, its next row)
    assert len(statements) == 2, [s[:80] for s in statements]
