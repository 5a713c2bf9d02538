"""The one DRF exception handler of the API (REST_FRAMEWORK["EXCEPTION_HANDLER"]).

Maps by base class, so it never imports an app:

- `ContractError` (documented business errors) → `{"code": N, "message": "..."}` with the
  status `http_status` gives it (400 unless `HTTP_STATUS` or the view's `error_statuses`
  says otherwise: the same code may be a 400 on one endpoint and a 404 on another);
- `ValidationError` / `ParseError` (bad input) → **422**
  `{"detail": [{"loc": ["body", "events", 2, "odds"], "msg": "...", "type": "..."}]}` naming
  every bad field (`RequestInvalid` carries that list ready-made; any other DRF
  ValidationError is flattened into it);
- everything else (403 authentication, 413, 405...) → DRF's default `{"detail": "..."}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from rest_framework import status
from rest_framework.exceptions import ErrorDetail, ParseError, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from jackpot.core.errors import ContractError, IdempotencyKeyReused, TicketNotFound

Loc = list[str | int]

HTTP_STATUS: dict[type[ContractError], int] = {
    TicketNotFound: status.HTTP_404_NOT_FOUND,
    IdempotencyKeyReused: status.HTTP_409_CONFLICT,
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
        return Response(
            {"code": exc.code, "message": exc.message},
            status=http_status(type(exc), context.get("view")),
        )
    if isinstance(exc, RequestInvalid):
        return _unprocessable(exc.errors)
    if isinstance(exc, ParseError):
        return _unprocessable([{"loc": ["body"], "msg": str(exc.detail), "type": "json_invalid"}])
    if isinstance(exc, ValidationError):
        return _unprocessable(list(_flatten(exc.detail, ["body"])))
    return drf_exception_handler(exc, dict(context))


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
