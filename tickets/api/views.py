"""The operator-facing ticket endpoints (contract.md § POST /be/tickets, § GET).

Thin interfaces: read the body (413 before parsing), authenticate (403/115/112), parse
(422), call one service, answer. Errors are rendered by `jackpot.api.exceptions`.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request

from jackpot.api.exceptions import RequestInvalid
from jackpot.api.requests import json_body
from jackpot.api.schema import (
    FORBIDDEN_RESPONSE,
    PAYLOAD_TOO_LARGE_RESPONSE,
    VALIDATION_ERROR_RESPONSE,
    error_code_response,
)
from jackpot.core.errors import (
    IdempotencyKeyReused,
    OperatorNotFound,
    OperatorsNotIdentical,
    TicketNotFound,
)
from operators.api import OperatorApi
from tickets.api.openapi import (
    PLACEMENT_400_ERRORS,
    ticket_place_request_schema,
    ticket_response_schema,
)
from tickets.api.parsing import order_fingerprint, ticket_order_parse
from tickets.api.rendering import ticket_body, ticket_detail_body
from tickets.placement.service import ticket_place
from tickets.selectors import ticket_get_for_operator

IDEMPOTENCY_KEY_MAX_LENGTH = 255


def _json(body: bytes) -> HttpResponse:
    return HttpResponse(body, content_type="application/json")


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH:
        raise RequestInvalid(
            [
                {
                    "loc": ["header", "Idempotency-Key"],
                    "msg": f"String should have 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters",
                    "type": "string_length",
                }
            ]
        )
    return key


_IDENTITY_400 = error_code_response(
    [OperatorNotFound, OperatorsNotIdentical],
    status_code=400,
    description="Identity errors (checked before the body).",
)


class TicketPlaceApi(OperatorApi):
    @extend_schema(
        operation_id="ticket_place",
        summary="Create a jackpot ticket",
        request={"application/json": ticket_place_request_schema()},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Optional, per operator: a repeat with the same key and body "
                "returns the first answer and creates nothing; another body gets 409.",
            )
        ],
        responses={
            200: OpenApiResponse(ticket_response_schema(with_events=False), "The new ticket."),
            400: error_code_response(
                PLACEMENT_400_ERRORS,
                status_code=400,
                description="Business checks, in the documented order.",
            ),
            403: FORBIDDEN_RESPONSE,
            409: error_code_response(
                [IdempotencyKeyReused], status_code=409, description="Idempotency key reused."
            ),
            413: PAYLOAD_TOO_LARGE_RESPONSE,
            422: VALIDATION_ERROR_RESPONSE,
        },
    )
    def post(self, request: Request) -> HttpResponse:
        idempotency_key = _idempotency_key(request)
        data = json_body(request._request)
        placed = ticket_place(
            operator=self.operator(request),
            order=ticket_order_parse(data),
            idempotency_key=idempotency_key,
            fingerprint=order_fingerprint(data),
            render=ticket_body,
        )
        return _json(placed.body)


class TicketDetailApi(OperatorApi):
    @extend_schema(
        operation_id="ticket_get",
        summary="Read a ticket by id or code",
        responses={
            200: OpenApiResponse(
                ticket_response_schema(with_events=True), "The ticket with its events."
            ),
            400: _IDENTITY_400,
            403: FORBIDDEN_RESPONSE,
            404: error_code_response(
                [TicketNotFound],
                status_code=404,
                description="Unknown identifier or another operator's ticket.",
            ),
            413: PAYLOAD_TOO_LARGE_RESPONSE,
        },
    )
    def get(self, request: Request, identifier: str) -> HttpResponse:
        ticket, selections = ticket_get_for_operator(
            operator=self.operator(request), identifier=identifier
        )
        return _json(ticket_detail_body(ticket, selections))
