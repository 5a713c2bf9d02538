"""Celery entry points of the tickets app (interfaces only: load by id, call one service).

Task names are explicit so a rename of a function never orphans queued messages. Tasks are
acked late: a worker that dies mid-task leaves its message to be redelivered, and every
service here is safe to run again (a claimed webhook row, a settlement round that resumes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Task, shared_task
from celery.concurrency.prefork import TaskPool as PreforkPool
from celery.signals import worker_process_init, worker_ready
from django.conf import settings
from django.contrib.auth.models import User

from betcards.models import Betcard
from jackpot.core import clock
from jackpot.core.errors import SettlementRunning
from tickets.delivery.attempts import pam_call_deliver, pam_call_deliver_batch
from tickets.lifecycle import reservations_expire
from tickets.outbox import metrics
from tickets.outbox.sweep import pam_outbox_sweep
from tickets.receipts import receipts_forget
from tickets.settlement.closing import tickets_close_due
from tickets.settlement.rounds import betcard_resettle, betcard_settle

AT_LEAST_ONCE: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
}


# ----------------------------------------------------------------------------- webhooks
@shared_task(name="tickets.pam_call_deliver", **AT_LEAST_ONCE)
def pam_call_deliver_task(delivery_id: int) -> str:
    """Send one PAM webhook (kept for messages queued by earlier versions; wakes now send
    `tickets.pam_call_deliver_batch`)."""
    return pam_call_deliver(delivery_id=delivery_id)


@shared_task(name="tickets.pam_call_deliver_batch", **AT_LEAST_ONCE)
def pam_call_deliver_batch_task(delivery_ids: list[int]) -> int:
    """Send a batch of PAM webhooks, one after the other."""
    return pam_call_deliver_batch(delivery_ids=delivery_ids)


@shared_task(name="tickets.pam_outbox_sweep", ignore_result=True)
def pam_outbox_sweep_task() -> int:
    """Hand overdue webhooks to the workers (beat runs it every PAM_OUTBOX_SWEEP_SECONDS)."""
    return pam_outbox_sweep()


# ----------------------------------------------------------------------------- pay later
@shared_task(name="tickets.reservations_expire", ignore_result=True)
def reservations_expire_task() -> int:
    """Cancel the reservations whose time has come (`ticket_discard`, beat)."""
    return reservations_expire(now=clock.now())


@shared_task(name="tickets.write_receipts_forget", ignore_result=True)
def write_receipts_forget_task() -> int:
    """Delete the replay receipts whose skew window has passed (beat)."""
    return receipts_forget(now=clock.now())


# ----------------------------------------------------------------------------- settlement
# Settling a large card takes minutes, so the back office runs it here rather than in a
# request; a worker killed mid-way leaves a round that the redelivered task resumes. A task
# that finds another run on its card (a second click) retries later: by then the card is
# settled and it has nothing to do, or the other run died and it resumes the round.
SETTLE_TIME_LIMIT_SECONDS = 2 * 3600
"""A million tickets settle in minutes; the engine-wide limit is sized for webhook calls."""
RUNNING_RETRY_SECONDS = 60
RUNNING_RETRIES = SETTLE_TIME_LIMIT_SECONDS // RUNNING_RETRY_SECONDS
SETTLE_TASK_OPTIONS: dict[str, Any] = {
    **AT_LEAST_ONCE,
    "bind": True,
    "max_retries": RUNNING_RETRIES,
    "time_limit": SETTLE_TIME_LIMIT_SECONDS,
    "soft_time_limit": SETTLE_TIME_LIMIT_SECONDS - 60,
}


@contextmanager
def _later_if_running(task: Task[Any, Any]) -> Iterator[None]:
    """Another run holds the card: retry this task in a minute."""
    try:
        yield
    except SettlementRunning as exc:
        raise task.retry(exc=exc, countdown=RUNNING_RETRY_SECONDS) from exc


@shared_task(name="tickets.tickets_close_due", ignore_result=True)
def tickets_close_due_task() -> int:
    """Send `ticket_closed` for tickets whose delay has passed (beat)."""
    return tickets_close_due()


@shared_task(name="tickets.betcard_settle", **SETTLE_TASK_OPTIONS)
def betcard_settle_task(self: Task[Any, Any], betcard_id: int) -> str:
    with _later_if_running(self):
        report = betcard_settle(betcard=Betcard.objects.get(pk=betcard_id))
    return "already-settled" if report.already_settled else f"graded {report.graded_now}"


@shared_task(name="tickets.betcard_resettle", **SETTLE_TASK_OPTIONS)
def betcard_resettle_task(
    self: Task[Any, Any],
    betcard_id: int,
    reason: str,
    user_id: int | None,
    override_closed: bool = False,
) -> str:
    with _later_if_running(self):
        report = betcard_resettle(
            betcard=Betcard.objects.get(pk=betcard_id),
            reason=reason,
            changed_by=User.objects.filter(pk=user_id).first() if user_id is not None else None,
            override_closed=override_closed,
        )
    return f"round {report.round}: rolled back {report.rolled_back}"


# ----------------------------------------------------------------------------- metrics
# A worker has no web server: with WORKER_METRICS_PORT set it serves Prometheus metrics
# itself. With PROMETHEUS_MULTIPROC_DIR set (docker-compose.yml, make run) the main process
# serves the pool processes' counters added up; without it each prefork pool process
# serves its own on WORKER_METRICS_PORT + its index (0, 1, ...).


@worker_process_init.connect
def _serve_pool_process_metrics(**kwargs: Any) -> None:
    if settings.WORKER_METRICS_PORT and not metrics.multiprocess_mode():
        from billiard.process import current_process

        index = getattr(current_process(), "index", 0)
        metrics.worker_metrics_serve(
            port=settings.WORKER_METRICS_PORT + index, addr=settings.WORKER_METRICS_ADDR
        )


@worker_ready.connect
def _serve_main_process_metrics(sender: Any = None, **kwargs: Any) -> None:
    pool_cls = getattr(getattr(sender, "controller", None), "pool_cls", None)
    is_prefork = isinstance(pool_cls, type) and issubclass(pool_cls, PreforkPool)
    if settings.WORKER_METRICS_PORT and (metrics.multiprocess_mode() or not is_prefork):
        metrics.worker_metrics_serve(
            port=settings.WORKER_METRICS_PORT, addr=settings.WORKER_METRICS_ADDR
        )
