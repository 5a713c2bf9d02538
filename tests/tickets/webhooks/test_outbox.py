"""The outbox: wakes that never fail placement, the sweep, back-office actions on rows."""

from __future__ import annotations

import datetime as dt
import random
import time

import pytest
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from jackpot.core import clock
from jackpot.core.errors import DeliveryNotRetryable, TicketNotCancellable
from tests.factories import OperatorFactory, TicketFactory
from tests.support.pam import ScriptedPam
from tests.support.worker import QueuedTask, RedisServer, celery_broker, free_port
from tickets.delivery.attempts import pam_call_deliver
from tickets.delivery.schedule import delivery_retry_now, retry_delay
from tickets.lifecycle import ticket_cancel_by_staff
from tickets.models import Ticket, WebhookDelivery
from tickets.outbox.payloads import TICKET_CREATE
from tickets.outbox.queueing import enqueue
from tickets.outbox.sweep import pam_outbox_sweep
from tickets.outbox.waking import DELIVER_BATCH_TASK, PAUSE_SECONDS, SWEEP_PRIORITY, WAKER

pytestmark = pytest.mark.django_db


def kicks(result: str) -> float:
    return REGISTRY.get_sample_value("jackpot_pam_outbox_kicks_total", {"result": result}) or 0.0


def queued(ticket: Ticket, action: str = "ticket_create", **row: object) -> WebhookDelivery:
    """A pending row of `action` (with a ticket_create body) and the `row` values given."""
    delivery = enqueue(ticket=ticket, webhook=TICKET_CREATE, dedupe_key=action)
    if action != "ticket_create":
        row = {"action": action, **row}
    if row:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**row)
        delivery.refresh_from_db()
    return delivery


def ago(seconds: float) -> dt.datetime:
    return clock.now() - dt.timedelta(seconds=seconds)


def test_a_publish_with_the_broker_down_returns_at_once_and_pauses_publishing() -> None:
    # given: the process has published before (the first publish imports the transport),
    # and now nothing listens on the broker's port
    WAKER.publish([987_654_321])
    with celery_broker(f"redis://127.0.0.1:{free_port()}/0"):
        failed, skipped = kicks("failed"), kicks("skipped")

        # when
        started = time.monotonic()
        published = WAKER.publish([1])
        first = time.monotonic() - started
        started = time.monotonic()
        WAKER.publish([2])
        second = time.monotonic() - started

    # then
    assert published is False
    assert first < 0.5
    assert second < 0.01
    assert kicks("failed") == failed + 1
    assert kicks("skipped") == skipped + 1
    assert PAUSE_SECONDS == 5.0


def test_commit_succeeds_when_the_after_commit_kick_cannot_reach_the_broker(
    django_capture_on_commit_callbacks,
) -> None:
    ticket = TicketFactory()
    with (
        celery_broker(f"redis://127.0.0.1:{free_port()}/0"),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        delivery = queued(ticket)

    assert len(callbacks) == 1
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "pending"


@pytest.mark.usefixtures("empty_broker")
def test_sweep_requeues_overdue_rows_not_in_flight(settings) -> None:
    # given
    settings.PAM_OUTBOX_SWEEP_GRACE_SECONDS = 10
    overdue = queued(TicketFactory(), next_attempt_at=ago(60))
    lease_ran_out = queued(TicketFactory(), next_attempt_at=ago(60), lease_until=ago(1))
    queued(TicketFactory(), next_attempt_at=ago(60), lease_until=ago(-30))  # in flight
    queued(TicketFactory(), next_attempt_at=ago(2))  # its own kick still has time
    queued(TicketFactory(), next_attempt_at=ago(60), status="delivered")
    queued(TicketFactory(), next_attempt_at=ago(60), status="failed")
    held = TicketFactory()
    queued(held, next_attempt_at=ago(60), lease_until=ago(-30))
    queued(held, "ticket_discard", next_attempt_at=ago(60))  # waits for the create above
    published = kicks("published")

    # when
    swept = pam_outbox_sweep()

    # then
    assert swept == 2
    assert kicks("published") == published + 2
    for delivery in (overdue, lease_ran_out):
        delivery.refresh_from_db()
        assert delivery.next_attempt_at > ago(5)
    assert pam_outbox_sweep() == 0  # re-queued rows get a new grace period


@pytest.mark.usefixtures("empty_broker")
def test_sweep_respects_its_batch_limit(settings) -> None:
    settings.PAM_OUTBOX_SWEEP_GRACE_SECONDS = 0
    settings.PAM_OUTBOX_SWEEP_SECONDS = 0  # no time for a second batch in the run
    oldest = queued(TicketFactory(), next_attempt_at=ago(90))
    queued(TicketFactory(), next_attempt_at=ago(30))

    assert pam_outbox_sweep(limit=1) == 1

    oldest.refresh_from_db()
    assert oldest.next_attempt_at > ago(5)
    assert pam_outbox_sweep(limit=1) == 1


def test_one_sweep_hands_out_every_full_batch_as_batch_messages_behind_kicks(
    settings, empty_broker: RedisServer
) -> None:
    # given: three batches' worth of overdue rows, the oldest due first, and one not overdue
    settings.PAM_OUTBOX_SWEEP_GRACE_SECONDS = 10
    rows = [queued(TicketFactory(), next_attempt_at=ago(60 - n)) for n in range(6)]
    queued(TicketFactory(), next_attempt_at=ago(2))

    # when
    swept = pam_outbox_sweep(limit=2)

    # then: one run took them all, 2 ids to each batch message, at the lowest priority
    assert swept == 6
    assert empty_broker.queued_tasks() == [
        QueuedTask(DELIVER_BATCH_TASK, [[rows[n].pk, rows[n + 1].pk]], SWEEP_PRIORITY)
        for n in (0, 2, 4)
    ]
    assert SWEEP_PRIORITY == 9
    assert pam_outbox_sweep(limit=2) == 0


def test_a_batch_message_carries_at_most_25_ids(settings, empty_broker: RedisServer) -> None:
    settings.PAM_OUTBOX_SWEEP_GRACE_SECONDS = 0
    rows = [queued(TicketFactory(), next_attempt_at=ago(60 - n)) for n in range(30)]

    assert pam_outbox_sweep() == 30

    assert [task.args for task in empty_broker.queued_tasks()] == [
        [[row.pk for row in rows[:25]]],
        [[row.pk for row in rows[25:]]],
    ]


def test_sweep_waits_for_room_in_the_broker_queue_until_its_time_is_up(
    settings, empty_broker: RedisServer
) -> None:
    # given: room for two messages, half a second per run, three batches of overdue rows
    settings.PAM_OUTBOX_SWEEP_GRACE_SECONDS = 10
    settings.PAM_OUTBOX_SWEEP_MAX_QUEUED = 2
    settings.PAM_OUTBOX_SWEEP_SECONDS = 0.5
    rows = [queued(TicketFactory(), next_attempt_at=ago(60 - n)) for n in range(6)]
    due_before = {row.pk: row.next_attempt_at for row in rows}

    # when
    started = time.monotonic()
    swept = pam_outbox_sweep(limit=2)
    elapsed = time.monotonic() - started

    # then: two batches went out, the run waited for room until its time was up
    assert swept == 4
    assert 0.5 <= elapsed < 2.0
    assert len(empty_broker.queued_tasks()) == 2
    left = WebhookDelivery.objects.filter(pk__in=[rows[4].pk, rows[5].pk])
    assert {row.pk: row.next_attempt_at for row in left} == {
        pk: due_before[pk] for pk in (rows[4].pk, rows[5].pk)
    }

    # when a worker took the queued messages
    with empty_broker.client() as client:
        client.flushdb()

    # then the next run hands out the rest
    assert pam_outbox_sweep(limit=2) == 2


def test_a_sweep_with_the_broker_down_takes_no_row(settings) -> None:
    settings.PAM_OUTBOX_SWEEP_GRACE_SECONDS = 0
    row = queued(TicketFactory(), next_attempt_at=ago(60))

    with celery_broker(f"redis://127.0.0.1:{free_port()}/0"):
        swept = pam_outbox_sweep()

    assert swept == 0
    assert WebhookDelivery.objects.get(pk=row.pk).next_attempt_at == row.next_attempt_at


def test_retry_now_brings_a_waiting_discard_forward(
    pam: ScriptedPam, settings, django_capture_on_commit_callbacks
) -> None:
    # given: a discard that failed and waits 30 minutes
    settings.PAM_DISCARD_RETRY_MINUTES = 30
    operator = OperatorFactory(webhook_url=pam.url)
    pam.trust(operator)
    ticket = TicketFactory(operator=operator)
    ticket_cancel_by_staff(ticket=ticket)
    discard = WebhookDelivery.objects.get(ticket=ticket, action="ticket_discard")
    pam.script("ticket_discard", 500)
    assert pam_call_deliver(delivery_id=discard.pk) == "retry-scheduled"

    # when
    with django_capture_on_commit_callbacks() as callbacks:
        delivery_retry_now(delivery_id=discard.pk)

    # then
    discard.refresh_from_db()
    assert discard.next_attempt_at <= clock.now()
    assert len(callbacks) == 1
    assert pam_call_deliver(delivery_id=discard.pk) == "delivered"


def test_retry_now_reopens_a_failed_row() -> None:
    delivery = queued(TicketFactory(), "ticket_win", status="failed", next_attempt_at=ago(-600))

    delivery_retry_now(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert delivery.next_attempt_at <= clock.now()


def test_retry_now_refuses_a_delivered_row() -> None:
    delivery = queued(TicketFactory(), status="delivered")

    with pytest.raises(DeliveryNotRetryable, match="already delivered"):
        delivery_retry_now(delivery_id=delivery.pk)


def test_retry_now_refuses_the_create_of_a_cancelled_ticket() -> None:
    ticket = TicketFactory()
    create = queued(ticket)
    ticket_cancel_by_staff(ticket=ticket)

    with pytest.raises(DeliveryNotRetryable, match="is cancelled"):
        delivery_retry_now(delivery_id=create.pk)
    create.refresh_from_db()
    assert create.status == "failed"


def test_staff_cannot_cancel_a_ticket_that_is_not_open() -> None:
    ticket = TicketFactory(status="closed", result="lost")

    with pytest.raises(TicketNotCancellable, match="is closed"):
        ticket_cancel_by_staff(ticket=ticket)
    assert not WebhookDelivery.objects.filter(ticket=ticket).exists()


def test_staff_cancel_is_atomic_with_its_discard() -> None:
    ticket = TicketFactory()

    def cancel_then_fail() -> None:
        with transaction.atomic():
            ticket_cancel_by_staff(ticket=ticket)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        cancel_then_fail()

    assert Ticket.objects.get(pk=ticket.pk).status == "open"
    assert not WebhookDelivery.objects.filter(ticket=ticket).exists()


@given(attempt=st.integers(min_value=1, max_value=200), seed=st.integers())
def test_retry_delay_is_jittered_between_half_and_all_of_a_doubling_cap(
    attempt: int, seed: int
) -> None:
    # default settings: base 2 s, max 300 s
    cap = min(300.0, 2.0 * 2 ** (attempt - 1))

    delay = retry_delay(attempt=attempt, rng=random.Random(seed))

    assert cap / 2 <= delay <= cap
