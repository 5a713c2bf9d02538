"""The operator-facing ticket endpoints (contract.md § POST /be/tickets, § GET).

Thin interfaces: read the body (413 before parsing), authenticate (403/115/112), parse
(422), call one service, answer. Errors are rendered by `jackpot.api.exceptions`.
"""

from __future__ import annotations

import hashlib

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request

from jackpot.api.exceptions import RequestInvalid
from jackpot.api.query import QueryParams
from jackpot.api.requests import json_body
from jackpot.api.schema import (
    FORBIDDEN_RESPONSE,
    PAYLOAD_TOO_LARGE_RESPONSE,
    VALIDATION_ERROR_RESPONSE,
    error_code_response,
)
from jackpot.api.strings import text_problem
from jackpot.core.clock import format_utc
from jackpot.core.errors import (
    IdempotencyKeyReused,
    OperatorNotFound,
    OperatorsNotIdentical,
    ReferenceReused,
    TicketNotFound,
    TicketNotReserved,
)
from operators.api import OperatorApi
from tickets.api.openapi import (
    LINK_HEADER,
    LIST_PARAMETERS,
    PLACEMENT_400_ERRORS,
    ticket_place_request_schema,
    ticket_response_schema,
)
from tickets.api.parsing import order_fingerprint, ticket_order_parse
from tickets.identifiers import REFERENCE_PATTERN, TICKET_ID_PATTERN
from tickets.lifecycle import ticket_pay
from tickets.listing import TicketFilters, tickets_list
from tickets.models import TicketStatus, WriteEndpoint
from tickets.placement.service import ticket_place
from tickets.receipts import WriteKeys
from tickets.rendering import ticket_detail_body, tickets_list_body
from tickets.selectors import ticket_get_for_operator

IDEMPOTENCY_KEY_MAX_LENGTH = 255


RESERVED_UNTIL_HEADER = "Reserved-Until"
"""When a reservation expires (UTC, the contract's time format), on the reserve answer."""
REPLAYED_HEADER = "Replayed"
"""`Replayed: true` on an answer that repeats an earlier one (contract.md § Replays)."""


def _json(body: bytes) -> HttpResponse:
    return HttpResponse(body, content_type="application/json")


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    problem = text_problem(key, longest=IDEMPOTENCY_KEY_MAX_LENGTH)
    if problem is not None:
        msg, kind = problem
        raise RequestInvalid([{"loc": ["header", "Idempotency-Key"], "msg": msg, "type": kind}])
    return key


_IDENTITY_400 = error_code_response(
    [OperatorNotFound],
    status_code=400,
    description="No operator of that name (a body-less request cannot be a 115).",
)


_IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
    OpenApiParameter.HEADER,
    description="Optional, per operator: a repeat with the same key and body returns the first "
    "answer and creates nothing; another body gets 409. A replayed signed request (same "
    "operator, timestamp and signature) is answered the same way without a key.",
)
_REPLAYED_HEADER = OpenApiParameter(
    REPLAYED_HEADER,
    str,
    OpenApiParameter.HEADER,
    response=[200],
    enum=["true"],
    description="`true` when this answer repeats an earlier one (a replayed signature, a "
    "repeated Idempotency-Key or reference, a repeated paid call): nothing was created. "
    "Absent on a new ticket's answer.",
)
_RESERVED_UNTIL = OpenApiParameter(
    RESERVED_UNTIL_HEADER,
    str,
    OpenApiParameter.HEADER,
    response=[200],
    description="When the reservation expires unless paid (UTC, YYYY-MM-DDTHH:MM:SS.ffffff): "
    "the earlier of the operator's reservation time and the card's close.",
)
_PLACE_RESPONSES = {
    400: error_code_response(
        PLACEMENT_400_ERRORS,
        status_code=400,
        description="Business checks, in the documented order.",
    ),
    403: FORBIDDEN_RESPONSE,
    409: error_code_response(
        [IdempotencyKeyReused, ReferenceReused],
        status_code=409,
        description="Idempotency key or reference reused with another body.",
    ),
    413: PAYLOAD_TOO_LARGE_RESPONSE,
    422: VALIDATION_ERROR_RESPONSE,
}
MAX_PAGE = 100


def _signature(request: Request) -> str:
    """The signature header (present: authentication passed), the key of a replay."""
    return str(request._request.META["HTTP_SIGNATURE"]).strip(" \t")


def _json_answer(body: bytes, *, replayed: bool) -> HttpResponse:
    """A write's answer; `Replayed: true` when it repeats an earlier one."""
    response = _json(body)
    if replayed:
        response[REPLAYED_HEADER] = "true"
    return response


def _place(request: Request, endpoint: WriteEndpoint) -> HttpResponse:
    idempotency_key = _idempotency_key(request)
    data = json_body(request._request)
    fingerprint = order_fingerprint(data)
    order = ticket_order_parse(data)
    placed = ticket_place(
        operator=OperatorApi.operator(request),
        order=order,
        receipt=WriteKeys(
            endpoint=endpoint,
            # The same key and body sent to the other endpoint is another request (409).
            fingerprint=(
                fingerprint
                if endpoint == WriteEndpoint.PLACE
                else hashlib.sha256(f"{endpoint}:{fingerprint}".encode()).hexdigest()
            ),
            signature=_signature(request),
            idempotency_key=idempotency_key,
            reference=order.reference,
        ),
    )
    response = _json_answer(placed.body, replayed=placed.replayed)
    if placed.ticket.reserved_until is not None and endpoint == WriteEndpoint.RESERVE:
        response[RESERVED_UNTIL_HEADER] = format_utc(placed.ticket.reserved_until)
    return response


class TicketsApi(OperatorApi):
    @extend_schema(
        operation_id="ticket_place",
        summary="Create a jackpot ticket (the player is debited by ticket_create)",
        description="Sells a ticket on an open card: one bet per event, at odds within `odds_diff` "
        "percent of the current ones. The engine then sends `ticket_create` to your PAM, which "
        "takes the price from the player's wallet. Send a `reference` with every purchase: a "
        "repeat answers the first ticket with `Replayed: true`. Refusals come in the documented "
        "order of checks (400 with a code).",
        request={"application/json": ticket_place_request_schema()},
        parameters=[_IDEMPOTENCY_HEADER, _REPLAYED_HEADER],
        responses={
            200: OpenApiResponse(ticket_response_schema(with_events=False), "The new ticket."),
            **_PLACE_RESPONSES,
        },
    )
    def post(self, request: Request) -> HttpResponse:
        return _place(request, WriteEndpoint.PLACE)

    @extend_schema(
        operation_id="tickets_list",
        summary="Your tickets, newest first, a page at a time",
        description="Your tickets, newest first, each with its events, filtered by player, card, "
        'status, type, creation time or reference. Follow the `Link: <...>; rel="next"` header '
        "to the next page; the last page has none.",
        parameters=[*LIST_PARAMETERS, LINK_HEADER],
        responses={
            200: OpenApiResponse(
                {"type": "array", "items": ticket_response_schema(with_events=True)},
                'Up to `limit` tickets, newest first; a `Link: <...>; rel="next"` header '
                "while more match.",
            ),
            400: _IDENTITY_400,
            403: FORBIDDEN_RESPONSE,
            422: VALIDATION_ERROR_RESPONSE,
        },
    )
    def get(self, request: Request) -> HttpResponse:
        params = QueryParams(request.query_params)
        limit = params.integer("limit", minimum=1, maximum=MAX_PAGE, default=10)
        filters = TicketFilters(
            user_id=params.text("user_id", max_length=255),
            skip_types=tuple(params.texts("skip_types", max_length=20)),
            betcard_code=params.text("betcard_code", max_length=32),
            statuses=tuple(params.choices("status", TicketStatus.values)),
            created_from=params.moment("created_from"),
            created_to=params.moment("created_to"),
            before=params.matching("before", TICKET_ID_PATTERN, description="a ticket id"),
            reference=params.matching(
                "reference", REFERENCE_PATTERN, description="1-64 printable ASCII characters"
            ),
        )
        params.raise_if_invalid()
        assert limit is not None  # it has a default
        page = tickets_list(operator=self.operator(request), filters=filters, limit=limit)
        response = _json(tickets_list_body(page.tickets))
        if page.next_before is not None:
            query = request._request.GET.copy()
            query["before"] = page.next_before
            response["Link"] = f'<{request._request.path}?{query.urlencode()}>; rel="next"'
        return response


class TicketReserveApi(OperatorApi):
    @extend_schema(
        operation_id="ticket_reserve",
        summary="Reserve a ticket, paid later (ticket_reserve: no money moves)",
        description="For players who pay outside the wallet: the same body and checks as a "
        "placement; the ticket is `reserved` and the PAM gets `ticket_reserve` (no money moves). "
        "Report the payment with POST /be/tickets/{identifier}/paid before `Reserved-Until`.",
        request={"application/json": ticket_place_request_schema()},
        parameters=[_IDEMPOTENCY_HEADER, _REPLAYED_HEADER, _RESERVED_UNTIL],
        responses={
            200: OpenApiResponse(
                ticket_response_schema(with_events=False),
                "The reservation: status reserved, approved false.",
            ),
            **_PLACE_RESPONSES,
        },
    )
    def post(self, request: Request) -> HttpResponse:
        return _place(request, WriteEndpoint.RESERVE)


class TicketPaidApi(OperatorApi):
    @extend_schema(
        operation_id="ticket_paid",
        summary="Report a reservation paid: it becomes an open ticket",
        description="The player paid a reservation outside the wallet: the ticket becomes `open` "
        "and takes part in settlement. No webhook follows. A repeat (same signature or "
        "Idempotency-Key) answers the first answer with `Replayed: true`.",
        request=None,
        parameters=[_IDEMPOTENCY_HEADER, _REPLAYED_HEADER],
        responses={
            200: OpenApiResponse(
                ticket_response_schema(with_events=False), "The ticket: open, approved."
            ),
            400: error_code_response(
                [OperatorNotFound, OperatorsNotIdentical, TicketNotReserved],
                status_code=400,
                description="Not a reservation, or its time has passed.",
            ),
            403: FORBIDDEN_RESPONSE,
            404: error_code_response(
                [TicketNotFound],
                status_code=404,
                description="Unknown identifier or another operator's ticket.",
            ),
            409: error_code_response(
                [IdempotencyKeyReused],
                status_code=409,
                description="Idempotency key used to pay another ticket.",
            ),
        },
    )
    def post(self, request: Request, identifier: str) -> HttpResponse:
        paid = ticket_pay(
            operator=self.operator(request),
            identifier=identifier,
            receipt=WriteKeys(
                endpoint=WriteEndpoint.PAID,
                fingerprint=identifier,
                signature=_signature(request),
                idempotency_key=_idempotency_key(request),
                target=identifier,
            ),
        )
        return _json_answer(paid.body, replayed=paid.replayed)


class TicketDetailApi(OperatorApi):
    @extend_schema(
        operation_id="ticket_get",
        summary="Read a ticket by id, code or reference",
        description="One of your tickets by its id, its code or your `reference`, with its events "
        "and their results once known. Another operator's ticket is a 404, like an unknown one.",
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
