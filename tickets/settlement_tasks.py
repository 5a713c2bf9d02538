"""Celery entry points of settlement (interfaces only: load by id, call one service).

Imported through `CELERY_IMPORTS` (autodiscovery only finds `tasks.py`). Settling a large
card takes minutes, so the back office runs it here rather than in a request; the tasks are
acked late, and a worker killed mid-way leaves a round that the redelivered task resumes.
A task that finds another run on its card (a second click) retries later: by then the card
is settled and it has nothing to do, or the other run died and it resumes the round.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Task, shared_task
from django.contrib.auth.models import User

from betcards.models import Betcard
from jackpot.core.errors import SettlementRunning
from tickets.closing import tickets_close_due
from tickets.settlement import betcard_resettle, betcard_settle

# A million tickets settle in minutes; the engine-wide limit (CELERY_TASK_TIME_LIMIT) is
# sized for webhook calls.
SETTLE_TIME_LIMIT_SECONDS = 2 * 3600
# While another run holds the card: look again every minute, for as long as a run may take.
RUNNING_RETRY_SECONDS = 60
RUNNING_RETRIES = SETTLE_TIME_LIMIT_SECONDS // RUNNING_RETRY_SECONDS
SETTLE_TASK_OPTIONS: dict[str, Any] = {
    "bind": True,
    "max_retries": RUNNING_RETRIES,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "time_limit": SETTLE_TIME_LIMIT_SECONDS,
    "soft_time_limit": SETTLE_TIME_LIMIT_SECONDS - 60,
}


@contextmanager
def _later_if_running(task: Task[Any, Any]) -> Iterator[None]:
    """Another run holds the card: retry this task in a minute (see the module docstring)."""
    try:
        yield
    except SettlementRunning as exc:
        raise task.retry(exc=exc, countdown=RUNNING_RETRY_SECONDS) from exc


@shared_task(name="tickets.tickets_close_due", ignore_result=True)
def tickets_close_due_task() -> int:
    """Send `ticket_closed` for tickets whose delay has passed (beat)."""
    return tickets_close_due()


@shared_task(
    name="tickets.betcard_settle",
    **SETTLE_TASK_OPTIONS,
)
def betcard_settle_task(self: Task[Any, Any], betcard_id: int) -> str:
    with _later_if_running(self):
        report = betcard_settle(betcard=Betcard.objects.get(pk=betcard_id))
    return "already-settled" if report.already_settled else f"graded {report.graded_now}"


@shared_task(
    name="tickets.betcard_resettle",
    **SETTLE_TASK_OPTIONS,
)
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
