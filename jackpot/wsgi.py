"""WSGI entry point, which jackpot.rsgi serves under granian: two Django handlers by path.

The operator API (/be/, /bc/) is signed server-to-server traffic: the browser's middleware
(sessions, CSRF, authentication, messages, clickjacking, login throttling, static files)
does nothing for it but cost CPU on every request. Those requests go to a handler built
with `settings.API_MIDDLEWARE`; everything else (the back office, docs, probes) to Django's
usual one with `settings.MIDDLEWARE`. Both serve the same URLconf.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

from jackpot.api.paths import API_PREFIXES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jackpot.settings")


class ApiHandler(WSGIHandler):
    """Django's handler with `settings.API_MIDDLEWARE` in place of `settings.MIDDLEWARE`."""

    def load_middleware(self, is_async: bool = False) -> None:
        from django.conf import settings

        # BaseHandler reads settings.MIDDLEWARE; swap it while this handler is built (once,
        # at import, before any request thread exists).
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


def by_path(
    *, api: WSGIHandler, site: WSGIHandler
) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        handler = api if environ.get("PATH_INFO", "").startswith(API_PREFIXES) else site
        return handler(environ, start_response)

    return application


site_application = get_wsgi_application()  # sets Django up
api_application = ApiHandler()
application = by_path(api=api_application, site=site_application)
