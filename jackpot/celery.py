"""The Celery app. Tasks are thin wrappers around services (house style §9).

No result backend: nothing reads task results; the database rows are the truth.
"""

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jackpot.settings")

app = Celery("jackpot", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(**kwargs: Any) -> None:
    """A task is a request: keep the worker's database connection for the next one unless it
    is too old (CONN_MAX_AGE) or broken, as Django does around each web request
    (`CELERY_DB_REUSE_MAX` stops Celery's fixup from closing it after every task)."""
    close_old_connections()
