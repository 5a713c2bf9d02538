"""The jackpot engine's project package: settings, URL wiring, the Celery app, shared kernel."""

from jackpot.celery import app as celery_app

__all__ = ("celery_app",)
