"""The one DRF exception handler of the API (REST_FRAMEWORK["EXCEPTION_HANDLER"]).

Maps by base class, so it never imports an app:

- `ContractError` (documented business errors) → `{"code": N, "message": "..."}` with the
  status `http_status` gives it (400 unless `HTTP_STATUS` or the view's `error_statuses`
  says otherwise: the same code may be a 400 on one endpoint and a 404 on another);
- `ValidationError` / `ParseError` (bad input) → **422**
  `{"detail": [{"loc": ["body", "events", 2, "odds"], "msg": "...", "type": "..."}]}` naming
  every bad field (`RequestInvalid` carries that list ready-made; any other DRF
  ValidationError is flattened into it);
- a database or broker outage → **503** `{"detail": "..."}` with `Retry-After` (the operator's
  client retries; nothing was lost: a write either committed or did not happen);
- DRF's own errors (403 authentication, 413, 405...) → DRF's default `{"detail": "..."}`;
- anything else → a logged **500** `{"detail": "..."}`, never an HTML page.

`server_error` does the same for what fails outside a view (Django's `handler500`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import kombu.exceptions
import redis
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.exceptions import ErrorDetail, ParseError, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from jackpot.api.paths import API_PREFIXES
from jackpot.core.errors import (
    ContractError,
    IdempotencyKeyReused,
    RateLimited,
    ReferenceReused,
    TicketNotFound,
)

log = logging.getLogger(__name__)

Loc = list[str | int]
OUTAGES: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
    kombu.exceptions.OperationalError,
)
"""Errors that mean a service the engine needs is unreachable or too slow right now."""
RETRY_AFTER_SECONDS = 1
UNAVAILABLE = "The service is briefly unavailable (database or broker); retry shortly."
INTERNAL = "Internal error; nothing was written twice. Retry, or contact the engine's staff."

HTTP_STATUS: dict[type[ContractError], int] = {
    TicketNotFound: status.HTTP_404_NOT_FOUND,
    IdempotencyKeyReused: status.HTTP_409_CONFLICT,
    ReferenceReused: status.HTTP_409_CONFLICT,
    RateLimited: status.HTTP_429_TOO_MANY_REQUESTS,
}
"""Statuses other than 400, by error class, wherever the error is raised."""


def http_status(error: type[ContractError], view: object = None) -> int:
    """The HTTP status of `error` when `view` (an APIView, or None) raises it."""
    overrides: dict[type[ContractError], int] = getattr(view, "error_statuses", {})
    return overrides.get(error) or HTTP_STATUS.get(error, status.HTTP_400_BAD_REQUEST)


class FieldError(TypedDict):
    loc: Loc
    msg: str
    type: str


class RequestInvalid(ValidationError):
    """A request that fails validation; `errors` lists every bad field (rendered as 422)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__(detail=[error["msg"] for error in self.errors])


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    if isinstance(exc, ContractError):
        retry_after = getattr(exc, "retry_after", None)
        return Response(
            {"code": exc.code, "message": exc.message, **exc.details},
            status=http_status(type(exc), context.get("view")),
            headers=None if retry_after is None else {"Retry-After": str(retry_after)},
        )
    if isinstance(exc, RequestInvalid):
        return _unprocessable(exc.errors)
    if isinstance(exc, ParseError):
        return _unprocessable([{"loc": ["body"], "msg": str(exc.detail), "type": "json_invalid"}])
    if isinstance(exc, ValidationError):
        return _unprocessable(list(_flatten(exc.detail, ["body"])))
    response = drf_exception_handler(exc, dict(context))  # APIException, Http404, denied
    if response is not None:
        return response
    body, status_code, headers = _failure(exc)
    return Response(body, status=status_code, headers=headers)


def _failure(exc: BaseException | None) -> tuple[dict[str, str], int, dict[str, str]]:
    """The JSON answer to an error that is not the request's fault: 503 with Retry-After for
    an outage, else a 500 (logged)."""
    if isinstance(exc, OUTAGES):
        log.warning("api_service_unavailable: %s: %s", type(exc).__name__, exc)
        return (
            {"detail": UNAVAILABLE},
            status.HTTP_503_SERVICE_UNAVAILABLE,
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    log.error("api_unexpected_error", exc_info=exc)
    return {"detail": INTERNAL}, status.HTTP_500_INTERNAL_SERVER_ERROR, {}


def server_error(request: HttpRequest) -> HttpResponse:
    """`handler500`, for what fails outside a view: JSON on the operator APIs, as the
    exception handler answers (Django calls it while handling the exception), and Django's
    page elsewhere."""
    if not request.path.startswith(API_PREFIXES):
        return defaults.server_error(request)
    body, status_code, headers = _failure(sys.exc_info()[1])
    return JsonResponse(body, status=status_code, headers=headers)


def _unprocessable(errors: list[FieldError]) -> Response:
    return Response({"detail": errors}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)


def _flatten(detail: Any, loc: Loc) -> Sequence[FieldError]:
    """DRF's nested error structure → one FieldError per leaf message."""
    if isinstance(detail, Mapping):
        return [
            error
            for key, value in detail.items()
            for error in _flatten(value, loc if key == "non_field_errors" else [*loc, str(key)])
        ]
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [error for item in detail for error in _flatten(item, loc)]
        return [
            error for index, item in enumerate(detail) for error in _flatten(item, [*loc, index])
        ]
    code = detail.code if isinstance(detail, ErrorDetail) else "invalid"
    return [{"loc": loc, "msg": str(detail), "type": str(code)}]
