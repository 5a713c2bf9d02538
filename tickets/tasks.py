"""Celery entry points of the tickets app (interfaces only: load by id, call one service).

Task names are explicit so a rename of a function never orphans queued messages.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.concurrency.prefork import TaskPool as PreforkPool
from celery.signals import worker_process_init, worker_ready
from django.conf import settings

from tickets import pam_delivery, pam_metrics, pam_outbox


@shared_task(
    name="tickets.pam_call_deliver", acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def pam_call_deliver_task(delivery_id: int) -> str:
    """Send one PAM webhook (at-least-once: acked after it ran, re-queued if the worker dies)."""
    return pam_delivery.pam_call_deliver(delivery_id=delivery_id)


@shared_task(
    name="tickets.pam_call_deliver_batch",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def pam_call_deliver_batch_task(delivery_ids: list[int]) -> int:
    """Send a batch of PAM webhooks handed out by the sweep, one after the other."""
    return pam_delivery.pam_call_deliver_batch(delivery_ids=delivery_ids)


@shared_task(name="tickets.pam_outbox_sweep", ignore_result=True)
def pam_outbox_sweep_task() -> int:
    """Hand overdue webhooks to the workers (beat runs it every PAM_OUTBOX_SWEEP_SECONDS)."""
    return pam_outbox.pam_outbox_sweep()


# Worker metrics: a worker has no web server, so with WORKER_METRICS_PORT set each prefork
# pool process serves its own counters on WORKER_METRICS_PORT + its index (0, 1, ...); a
# solo or threads pool serves them from the main process on WORKER_METRICS_PORT.


@worker_process_init.connect
def _serve_pool_process_metrics(**kwargs: Any) -> None:
    if settings.WORKER_METRICS_PORT:
        from billiard.process import current_process

        index = getattr(current_process(), "index", 0)
        pam_metrics.worker_metrics_serve(
            port=settings.WORKER_METRICS_PORT + index, addr=settings.WORKER_METRICS_ADDR
        )


@worker_ready.connect
def _serve_main_process_metrics(sender: Any = None, **kwargs: Any) -> None:
    pool_cls = getattr(getattr(sender, "controller", None), "pool_cls", None)
    is_prefork = isinstance(pool_cls, type) and issubclass(pool_cls, PreforkPool)
    if settings.WORKER_METRICS_PORT and not is_prefork:
        pam_metrics.worker_metrics_serve(
            port=settings.WORKER_METRICS_PORT, addr=settings.WORKER_METRICS_ADDR
        )
