"""The Celery app. Tasks are thin wrappers around services (house style §9).

No result backend: nothing reads task results; the database rows are the truth.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jackpot.settings")

app = Celery("jackpot", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
