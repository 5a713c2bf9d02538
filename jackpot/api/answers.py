"""Every answer of the operator APIs and the probes is JSON, whatever the path or the header
(`settings.API_MIDDLEWARE` and `settings.MIDDLEWARE`, first of each).

- A `Host` header outside `ALLOWED_HOSTS` is a 400 `{"detail": ...}` and one warning line.
  The API's views never read the host, so without this check a bad one passed unseen on
  /be/ and /bc/, and reached the probes as Django's HTML page with an ERROR traceback.
- An error Django answers before any view runs (no such path: `/be/tickets/`,
  `/be/nothing`; a trailing slash; a page of Django's own in DEBUG) becomes
  `{"detail": "<reason>."}` with its status and headers kept (`Allow`, `Retry-After`).

`/health` is answered by the web server itself, before Django, for any Host
(`jackpot.rsgi`): load balancers probe by IP address.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from jackpot.api.paths import API_PREFIXES, PROBE_PATHS

log = logging.getLogger(__name__)

_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class JsonAnswersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info
        if not (path.startswith(API_PREFIXES) or path in PROBE_PATHS):
            return self.get_response(request)
        try:
            request.get_host()
        except DisallowedHost:
            host = request.META.get("HTTP_HOST", "")
            log.warning("disallowed_host host=%r path=%s", host[:100], path[:200])
            answer = JsonResponse(
                {"detail": "The Host header is not one this server answers."}, status=400
            )
            answer._has_been_logged = True  # type: ignore[attr-defined]  # the line above
            return answer
        response = self.get_response(request)
        if response.status_code < 400 or response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return response
        answer = JsonResponse({"detail": f"{response.reason_phrase}."}, status=response.status_code)
        for name in _KEPT_HEADERS:
            if name in response:
                answer[name] = response[name]
        return answer
