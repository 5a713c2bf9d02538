"""Every database call of an operator API request waits at most `DB_REQUEST_DEADLINE_SECONDS`
(`settings.API_MIDDLEWARE`): a database that stops answering costs a request that long and
a 503 with `Retry-After`, never as long as the stall (jackpot/core/postgres/deadline.py)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from jackpot.core.postgres.deadline import database_deadline


class DatabaseDeadlineMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.seconds: float = settings.DB_REQUEST_DEADLINE_SECONDS

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not self.seconds:
            return self.get_response(request)
        with database_deadline(self.seconds):
            return self.get_response(request)
