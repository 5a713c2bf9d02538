"""OpenAPI of the Bet Card API: answer schemas with examples, and each endpoint's errors
generated from the registry (`jackpot.api.schema`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from jackpot.api.schema import (
    FORBIDDEN_RESPONSE,
    VALIDATION_ERROR_RESPONSE,
    error_code_response,
)
from jackpot.core.errors import (
    BetcardNotFound,
    BetcardNotOpen,
    BetcardOutsideSalesWindow,
    OperatorNotFound,
    TooFewEvents,
)

_INTEGER = {"type": "integer", "format": "int64"}
_TIME = {"type": "string", "example": "2026-12-05T15:00:00.000000"}
_ZONED_TIME = _TIME | {"description": "The operator's time zone"}
_ODDS = {"type": "number", "example": 2.55}
_TEAM = {
    "x-component": "Team",
    "type": "object",
    "properties": {"id": _INTEGER, "name": {"type": "string"}},
    "required": ["id", "name"],
}
_RESULT = {
    "x-component": "MarketResult",
    "type": "object",
    "nullable": True,
    "description": 'null while unknown, {"winning_bet": ID} or {"void": true}',
    "properties": {"winning_bet": _INTEGER, "void": {"type": "boolean"}},
}
_MARKET = {
    "x-component": "Market",
    "type": "object",
    "properties": {
        "id": _INTEGER,
        "name": {"type": "string"},
        "blocked": {"type": "boolean"},
        "result": _RESULT,
        "bets": {
            "type": "array",
            "items": {
                "x-component": "Bet",
                "type": "object",
                "properties": {"id": _INTEGER, "name": {"type": "string"}, "odds": _ODDS},
                "required": ["id", "name", "odds"],
            },
        },
    },
    "required": ["id", "name", "blocked", "result", "bets"],
}
_EVENT = {
    "x-component": "CardEvent",
    "type": "object",
    "properties": {
        "id": _INTEGER,
        "starts": _TIME,
        "operator_time_starts": _ZONED_TIME,
        "home_team": _TEAM,
        "away_team": _TEAM,
        "markets": {"type": "array", "items": _MARKET},
    },
    "required": ["id", "starts", "operator_time_starts", "home_team", "away_team", "markets"],
}
CARD_SCHEMA: dict[str, Any] = {
    "x-component": "Card",
    "type": "object",
    "properties": {
        "code": {"type": "string"},
        "name": {"type": "string"},
        "status": {"type": "string", "enum": ["open", "closed", "settled"]},
        "price": _INTEGER,
        "currency": {"type": "string"},
        "prize": _INTEGER,
        "bonus_prizes": {"type": "array", "items": _INTEGER},
        "min_events": _INTEGER | {"description": "Fewest events a ticket must pick"},
        "opens": _TIME,
        "operator_time_opens": _ZONED_TIME,
        "closes": _TIME | {"nullable": True, "description": "closes_at, else first kick-off"},
        "operator_time_closes": _ZONED_TIME | {"nullable": True},
        "events": {"type": "array", "items": _EVENT, "description": "In card order"},
    },
}
CARD_SCHEMA["required"] = list(CARD_SCHEMA["properties"])
CARD_EXAMPLE = {
    "code": "ABC123",
    "name": "Weekend Mega Jackpot",
    "status": "open",
    "price": 500,
    "currency": "USD",
    "prize": 10000,
    "bonus_prizes": [2000, 1500, 1000],
    "min_events": 6,
    "opens": "2026-11-25T00:00:00.000000",
    "operator_time_opens": "2026-11-25T03:00:00.000000",
    "closes": "2026-12-05T15:00:00.000000",
    "operator_time_closes": "2026-12-05T18:00:00.000000",
    "events": [
        {
            "id": 265825,
            "starts": "2026-12-05T15:00:00.000000",
            "operator_time_starts": "2026-12-05T18:00:00.000000",
            "home_team": {"id": 1, "name": "Arsenal"},
            "away_team": {"id": 2, "name": "Chelsea"},
            "markets": [
                {
                    "id": 7001,
                    "name": "1X2",
                    "blocked": False,
                    "result": None,
                    "bets": [
                        {"id": 14, "name": "1", "odds": 2.55},
                        {"id": 15, "name": "X", "odds": 3.1},
                        {"id": 16, "name": "2", "odds": 2.7},
                    ],
                }
            ],
        }
    ],
}
PICK_EXAMPLE = {
    "betcard_code": "ABC123",
    "price": 500,
    "currency": "USD",
    "prize": 10000,
    "bonus_prizes": [2000, 1500, 1000],
    "events": [{"id": 265825, "bet": 14, "odds": 2.55}, {"id": 265826, "bet": 34, "odds": 3.62}],
}
FINANCE_EXAMPLE = {
    "price": 500,
    "stake": 444,
    "ext": 12.5,
    "ext_amount": 56,
    "ext_type": "inclusive",
    "wht": 10.0,
    "currency": "USD",
    "tiers": [
        {"misses": 0, "prize": 10000, "gross_payout": 10000, "wht_amount": 956, "net_payout": 9044},
        {"misses": 1, "prize": 2000, "gross_payout": 2000, "wht_amount": 156, "net_payout": 1844},
    ],
}

_ETAG = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    description="An ETag of an earlier answer: 304 with no body while nothing changed.",
)
_ETAG_ANSWER = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 304],
    description="Changes whenever anything in the answer changes; send it as If-None-Match.",
)
_NOT_FOUND = error_code_response(
    [BetcardNotFound], status_code=404, description="Unknown card, or one not offered to you."
)
_IDENTITY = error_code_response(
    [OperatorNotFound], status_code=400, description="No operator of that name."
)
_COMMON: dict[int, OpenApiResponse] = {
    400: _IDENTITY,
    403: FORBIDDEN_RESPONSE,
    422: VALIDATION_ERROR_RESPONSE,
}
_NOT_MODIFIED = OpenApiResponse(description="Not modified: the If-None-Match ETag is current.")


def _ok(schema: dict[str, Any], example: object, description: str) -> OpenApiResponse:
    return OpenApiResponse(
        schema,
        description,
        examples=[OpenApiExample("example", value=example, response_only=True)],
    )


CARD_LIST: dict[str, Any] = {
    "operation_id": "betcards_list",
    "summary": "Cards on sale now (or in the given statuses)",
    "description": "The cards offered to you (unrestricted, or restricted to you), earliest "
    "first event first: those on sale now, or those in the `status` values given. Served from "
    "a snapshot refreshed on change: poll with `If-None-Match`.",
    "parameters": [
        OpenApiParameter(
            "status",
            str,
            many=True,
            enum=["open", "closed", "settled"],
            description="Repeatable: list the cards in these statuses instead of those on sale.",
        ),
        _ETAG,
        _ETAG_ANSWER,
    ],
    "responses": {
        200: _ok(
            {"type": "array", "items": CARD_SCHEMA},
            [CARD_EXAMPLE],
            "Your cards, earliest first event first, then by code; with an ETag.",
        ),
        304: _NOT_MODIFIED,
        **_COMMON,
    },
}
CARD_DETAIL: dict[str, Any] = {
    "operation_id": "betcards_get",
    "summary": "One card: events, teams, markets, results and current odds",
    "description": "Everything needed to sell a card: its terms, events in card order, teams, "
    "markets and bets with current odds, and results once known. Send the `ETag` back as "
    "`If-None-Match`: 304 with no body while nothing changed.",
    "parameters": [_ETAG, _ETAG_ANSWER],
    "responses": {
        200: _ok(CARD_SCHEMA, CARD_EXAMPLE, "The card, with an ETag."),
        304: _NOT_MODIFIED,
        404: _NOT_FOUND,
        **_COMMON,
    },
}
CARD_PICK: dict[str, Any] = {
    "operation_id": "betcards_pick",
    "summary": "A quick pick: one bet per event on sale, ready for POST /be/tickets",
    "description": "One bet per event still on sale, in card order, with the card's terms: "
    "ready to send as the selection of POST /be/tickets. `favourites` takes each event's "
    "lowest odds; `random` is uniform, the same for the same `seed`.",
    "parameters": [
        OpenApiParameter(
            "strategy",
            str,
            required=True,
            enum=["favourites", "random"],
            description="favourites: each event's lowest odds (ties: lowest bet id); "
            "random: uniform.",
        ),
        OpenApiParameter(
            "seed",
            {"type": "integer", "minimum": 0, "maximum": 2**63 - 1, "format": "int64"},
            description="With random: the same seed, the same pick (0 … 2^63-1).",
        ),
    ],
    "responses": {
        200: _ok(
            {
                "x-component": "Pick",
                "type": "object",
                "properties": {
                    "betcard_code": {"type": "string"},
                    "price": _INTEGER,
                    "currency": {"type": "string"},
                    "prize": _INTEGER,
                    "bonus_prizes": {"type": "array", "items": _INTEGER},
                    "events": {
                        "type": "array",
                        "items": {
                            "x-component": "PickedEvent",
                            "type": "object",
                            "properties": {"id": _INTEGER, "bet": _INTEGER, "odds": _ODDS},
                            "required": ["id", "bet", "odds"],
                        },
                    },
                },
                "required": [
                    "betcard_code",
                    "price",
                    "currency",
                    "prize",
                    "bonus_prizes",
                    "events",
                ],
            },
            PICK_EXAMPLE,
            "The card's terms and the picked events, in card order.",
        ),
        400: error_code_response(
            [OperatorNotFound, TooFewEvents, BetcardNotOpen, BetcardOutsideSalesWindow],
            status_code=400,
            description="The card is not on sale, or fewer events are than it needs.",
        ),
        403: FORBIDDEN_RESPONSE,
        404: _NOT_FOUND,
        422: VALIDATION_ERROR_RESPONSE,
    },
}
_TIER = {
    "x-component": "PrizeTier",
    "type": "object",
    "properties": {
        "misses": _INTEGER,
        "prize": _INTEGER,
        "gross_payout": _INTEGER,
        "wht_amount": _INTEGER,
        "net_payout": _INTEGER,
    },
    "required": ["misses", "prize", "gross_payout", "wht_amount", "net_payout"],
}
FINANCE_DETAILS: dict[str, Any] = {
    "operation_id": "finance_details",
    "summary": "What a ticket costs and what each prize tier pays, after taxes",
    "description": "Stake, excise and withholding tax of a ticket at `price`, by your current "
    "tax settings; with `betcard_code`, what a sole winner of each prize tier takes home.",
    "parameters": [
        OpenApiParameter(
            "price",
            {"type": "integer", "minimum": 1, "maximum": 10**15, "format": "int64"},
            required=True,
            description="Ticket price in cents, 1 to 10^15.",
        ),
        OpenApiParameter(
            "betcard_code", str, description="With a card: its currency and prize tiers."
        ),
    ],
    "responses": {
        200: _ok(
            {
                "x-component": "FinanceDetails",
                "type": "object",
                "properties": {
                    "price": _INTEGER,
                    "stake": _INTEGER,
                    "ext": {"type": "number"},
                    "ext_amount": _INTEGER,
                    "ext_type": {"type": "string", "enum": ["inclusive", "exclusive"]},
                    "wht": {"type": "number"},
                    "currency": {"type": "string", "description": "With betcard_code"},
                    "tiers": {
                        "type": "array",
                        "items": _TIER,
                        "description": "With betcard_code: a sole winner of each tier, on a "
                        "ticket at the card's price",
                    },
                },
                "required": ["price", "stake", "ext", "ext_amount", "ext_type", "wht"],
            },
            FINANCE_EXAMPLE,
            "By your current tax settings.",
        ),
        404: _NOT_FOUND,
        **_COMMON,
    },
}
