"""OpenAPI (JSON schema) of the ticket API bodies, built from the constants that
`tickets.api.parsing` enforces and in the order its representation writes, so the
published schema matches what the API accepts and answers (checked by
tests/test_error_registry.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter

from jackpot.core.errors import ALL_ERRORS, IdentityError, PlacementError
from tickets.api.parsing import (
    MAX_BONUS_PRIZES,
    MAX_CENTS,
    MAX_EVENTS,
    MAX_ODDS,
    MAX_ODDS_DIFF,
    REQUIRED_FIELDS,
    STRING_LIMITS,
)
from tickets.models import TICKET_TYPES, Ticket, TicketStatus, WebhookAction
from tickets.outbox.payloads import (
    TICKET_CLOSED,
    TICKET_CREATE,
    TICKET_DISCARD,
    TICKET_RESULT,
    TICKET_ROLLBACK,
    WEBHOOKS,
    Field,
)

PLACEMENT_400_ERRORS = tuple(
    error for error in ALL_ERRORS if issubclass(error, IdentityError | PlacementError)
)
"""What POST /be/tickets answers with a 400: the identity errors and the business checks."""


def _string_schema(name: str, *, nullable: bool = False) -> dict[str, Any]:
    shortest, longest = STRING_LIMITS[name]
    schema: dict[str, Any] = {
        "type": "string",
        "minLength": shortest,
        "maxLength": longest,
        # jackpot.api.strings: no NUL, and not only white space when not empty
        "pattern": r"^$|^[^\x00]*[^\s\x00][^\x00]*$",
    }
    if nullable:
        schema["nullable"] = True
    return schema


def _cents_schema(minimum: int, description: str) -> dict[str, Any]:
    return {
        "type": "integer",
        "format": "int64",
        "minimum": minimum,
        "maximum": MAX_CENTS,
        "description": description,
    }


def ticket_place_request_schema() -> dict[str, Any]:
    """JSON schema of the POST body, from the constants `ticket_order_parse` enforces (one
    literal, field by field in the contract's order: longer than a function should be, and
    clearest so)."""
    return {
        "type": "object",
        "properties": {
            "operator": _string_schema("operator") | {"description": "= operator-name header"},
            "token": _string_schema("token") | {"description": "Player identification token"},
            "psp": _string_schema("psp", nullable=True) | {"description": "Payment method"},
            "price": _cents_schema(1, "Ticket price in cents (the betcard's price)"),
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217"},
            "atag": _string_schema("atag", nullable=True) | {"description": "Affiliate tag"},
            "rtag": _string_schema("rtag", nullable=True) | {"description": "Referral tag"},
            "source": {"type": "string", "enum": list(settings.TICKET_SOURCES)},
            "type": {"type": "string", "enum": list(TICKET_TYPES)},
            "odds_diff": {
                "type": "number",
                "minimum": 0,
                "maximum": float(MAX_ODDS_DIFF),
                "description": "Accepted odds deviation in percent of the submitted odds",
            },
            "events": {
                "type": "array",
                "maxItems": MAX_EVENTS,
                "description": "One bet per event of the betcard, any order, each event once",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer", "format": "int64", "minimum": 1},
                        "bet": {"type": "integer", "format": "int64", "minimum": 1},
                        "odds": {
                            "type": "number",
                            "exclusiveMinimum": True,
                            "minimum": 0,
                            "maximum": float(MAX_ODDS),
                            "multipleOf": 0.001,
                        },
                    },
                    "required": ["id", "bet", "odds"],
                },
            },
            "betcard_code": _string_schema("betcard_code"),
            "prize": _cents_schema(0, "Jackpot prize in cents (the betcard's prize)"),
            "bonus_prizes": {
                "type": "array",
                "maxItems": MAX_BONUS_PRIZES,
                "items": _cents_schema(0, "Bonus prize in cents"),
                "description": "The betcard's bonus prizes, in order",
            },
            "reference": {
                "type": "string",
                "nullable": True,
                "pattern": "^[\\x21-\\x7e]{1,64}$",
                "description": "Your own id of this purchase (send one with every purchase): "
                "unique per operator. A repeat with the same body answers the first ticket "
                "(`Replayed: true`) and creates nothing, whatever its timestamp; with another "
                "body it is a 409, code 132. 1-64 printable ASCII characters, no spaces.",
            },
        },
        "required": list(REQUIRED_FIELDS),
    }


_TIME = {"type": "string", "example": "2026-11-26T09:30:00.123456"}


def ticket_response_schema(*, with_events: bool) -> dict[str, Any]:
    """JSON schema of the ticket answer (fields in the order `ticket_representation` writes;
    one literal, field by field)."""
    integer = {"type": "integer", "format": "int64"}
    percent = {"type": "number", "example": 12.5}
    nullable_string = {"type": "string", "nullable": True}
    properties: dict[str, Any] = {
        "id": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
        "code": {"type": "string", "pattern": "^[A-Z0-9]{6}$"},
        "price": integer,
        "stake": integer,
        "currency": {"type": "string"},
        "gross_payout": integer,
        "net_payout": integer,
        "wht_amount": integer,
        "wht": percent,
        "ext_amount": integer,
        "ext": percent,
        "ext_type": {"type": "string", "enum": ["inclusive", "exclusive"]},
        "status": {"type": "string", "enum": list(TicketStatus.values)},
        "result": {"type": "string", "enum": ["pending", "won", "lost", "void"]},
        "approved": {"type": "boolean"},
        "source": {"type": "string"},
        "type": {"type": "string", "enum": list(TICKET_TYPES)},
        "atag": nullable_string,
        "rtag": nullable_string,
        "aff_instant_comm_amt": integer | {"nullable": True},
        "aff_instant_comm_pct": percent | {"nullable": True},
        "user_id": {"type": "string"},
        "psp": nullable_string,
        "created": _TIME | {"description": "UTC"},
        "operator_time_created": _TIME | {"description": "Operator's time zone"},
        "updated": _TIME | {"description": "UTC"},
        "operator_time_updated": _TIME | {"description": "Operator's time zone"},
        "odds": {"type": "number", "example": 274.06, "description": "Product, 2 decimals"},
        "betcard_code": {"type": "string"},
        "prize": integer,
        "bonus_prizes": {"type": "array", "items": integer},
    }
    if with_events:
        properties["events"] = {
            "type": "array",
            "items": {
                "x-component": "TicketEvent",
                "type": "object",
                "properties": {
                    "id": integer,
                    "bet": integer,
                    "odds": {"type": "number", "description": "Odds submitted"},
                    "odds_accepted": {"type": "number", "description": "Odds at placement"},
                    "result": {"type": "string", "enum": ["pending", "won", "lost", "void"]},
                },
                "required": ["id", "bet", "odds", "odds_accepted", "result"],
            },
        }
    return {
        "x-component": "TicketWithEvents" if with_events else "Ticket",
        "type": "object",
        "properties": properties,
        "required": list(properties),
    }


_QUERY_TIME = {
    "type": "string",
    "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"([Zz]|[+ -][0-9]{2}:[0-9]{2})?$",
    "example": "2026-12-05T15:00:00",
}
LIST_PARAMETERS = [
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
        description="Tickets per page, 1-100, default 10",
    ),
    OpenApiParameter(
        "user_id",
        {"type": "string", "minLength": 1, "maxLength": 255},
        description="Only this player's tickets (`user_id`)",
    ),
    OpenApiParameter(
        "skip_types", str, many=True, description="Repeatable: ticket types to leave out"
    ),
    OpenApiParameter(
        "betcard_code",
        {"type": "string", "minLength": 1, "maxLength": 32},
        description="Only this card's tickets",
    ),
    OpenApiParameter(
        "status",
        str,
        many=True,
        enum=list(TicketStatus.values),
        description="Repeatable: only tickets in these statuses",
    ),
    OpenApiParameter(
        "created_from",
        _QUERY_TIME,
        description="YYYY-MM-DDTHH:MM:SS[.ffffff], UTC, or with Z or an offset (+ sent as "
        "%2B); created ≥ it",
    ),
    OpenApiParameter(
        "created_to",
        _QUERY_TIME,
        description="As created_from; created < it",
    ),
    OpenApiParameter(
        "before",
        {"type": "string", "pattern": "^[0-9a-f]{24}$"},
        description="A ticket id: only older tickets (the next page, see Link)",
    ),
    OpenApiParameter(
        "reference",
        {"type": "string", "pattern": "^[\\x21-\\x7e]{1,64}$"},
        description="Only the ticket of this purchase (its `reference`)",
    ),
]
LINK_HEADER = OpenApiParameter(
    "Link",
    str,
    OpenApiParameter.HEADER,
    response=[200],
    description='`<...the same query...&before=ID>; rel="next"` while more tickets match; '
    "absent on the last page.",
)
"""The query parameters of GET /be/tickets (contract.md § GET /be/tickets)."""


# ----------------------------------------------------------------------------- webhooks
_WEBHOOK_PURPOSES: dict[str, str] = {
    WebhookAction.TICKET_CREATE: "Take the ticket's price from the player.",
    WebhookAction.TICKET_RESERVE: "A reservation (pay later): no money moves.",
    WebhookAction.TICKET_DISCARD: "Undo a ticket_create or ticket_reserve that did not go "
    "through, or an expired reservation (`reason`).",
    WebhookAction.TICKET_REFUND: "Give the price back: staff cancelled a ticket that was "
    "debited or paid.",
    WebhookAction.TICKET_WIN: "Settled, won: credit `net_payout`.",
    WebhookAction.TICKET_LOST: "Settled, lost: nothing to pay.",
    WebhookAction.TICKET_VOID: "Settled void: refund `price`.",
    WebhookAction.TICKET_ROLLBACK: "A result is being corrected: the ticket is open again; "
    "its new result follows.",
    WebhookAction.TICKET_CLOSED: "The ticket is final from now on.",
}


_DATA_NAMES = {
    TICKET_CREATE.fields: "TicketCreateData",  # ticket_reserve's too
    TICKET_DISCARD.fields: "MoneyBackData",  # ticket_discard and ticket_refund
    TICKET_RESULT.fields: "TicketResultData",  # ticket_win, ticket_lost, ticket_void
    TICKET_ROLLBACK.fields: "TicketRollbackData",
    TICKET_CLOSED.fields: "TicketClosedData",
}
"""The component each webhook's `data` is (webhooks with the same fields share one)."""


def _field_schema(field: Field) -> dict[str, Any]:
    kind = {"text": "string", "integer": "integer", "percent": "number"}[field.kind.value]
    source = field.source
    nullable = not source.startswith(("%", "operator.")) and Ticket._meta.get_field(source).null
    return {"type": [kind, "null"] if nullable else kind}


def documented_webhooks(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: the PAM webhooks the engine sends, as OpenAPI
    3.1 `webhooks`, their bodies from the same field tables that render them
    (`tickets.outbox.payloads`), so a generator sees what a PAM receives."""
    signature_headers = [
        {"name": "timestamp", "in": "header", "required": True, "schema": {"type": "string"},
         "description": "Unix seconds."},
        {"name": "signature", "in": "header", "required": True, "schema": {"type": "string"},
         "description": "HMAC-SHA256 (lower-case hex) of `{timestamp}{body}` with the "
         "operator's secret, as requests are signed; during a secret rotation two, newest "
         "first, comma-separated."},
    ]  # fmt: skip
    webhooks = {}
    for action, webhook in WEBHOOKS.items():
        description = _WEBHOOK_PURPOSES[action]
        data = {
            "x-component": _DATA_NAMES[webhook.fields],
            "type": "object",
            "properties": {field.key: _field_schema(field) for field in webhook.fields},
            "required": [field.key for field in webhook.fields],
        }
        webhooks[str(action)] = {
            "post": {
                "summary": f"{action}: {description}",
                "description": "POSTed to the operator's webhook URL, compact JSON, fields "
                "in this order, nulls included. Answer 2xx once handled: the ticket id is "
                "the idempotency key, and the engine retries network errors, timeouts "
                "and 5xx; a 4xx to ticket_create or ticket_reserve cancels the ticket.",
                "operationId": f"webhook_{action}",
                "parameters": signature_headers,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"action": {"const": str(action)}, "data": data},
                                "required": ["action", "data"],
                            }
                        }
                    },
                },
                "responses": {"200": {"description": "Handled (any 2xx, any body)."}},
            }
        }
    result["webhooks"] = webhooks
    return result
