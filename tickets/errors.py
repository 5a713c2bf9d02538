"""The documented business errors of the Bet Engine API (contract.md § POST /be/tickets).

One class per code, with the contract's message template (backticks are literal). The
contract's own codes are 102-118; betcard problems it leaves open get 119 upward, and the
idempotency conflict gets 128. `jackpot/api/exceptions.py` renders any of them as
`{"code": N, "message": "..."}` with the class's `http_status` (400 unless stated).

The two identity errors (112, 115) are raised during authentication, before the body is
validated, so they live in `operators.authentication`; they are re-exported here so this
module lists every code (docs/api.md's table and the OpenAPI schema are checked against
`ALL_ERRORS` by tests/tickets/test_error_registry.py).
"""

from __future__ import annotations

from jackpot.core.errors import ContractError
from operators.authentication import OperatorNotFound, OperatorsNotIdentical


class PlacementError(ContractError):
    """A documented business rejection of POST /be/tickets (HTTP 400)."""


# ----------------------------------------------------------------------------- contract codes
class TicketNotFound(ContractError):
    """GET /be/tickets/{identifier}: unknown, or another operator's ticket (same answer)."""

    code = 102
    http_status = 404
    template = "Ticket with `{identifier}` identifier is not found"


class EventNotFound(PlacementError):
    code = 103
    template = "Event with `{event_id}` identifier is not found"


class EventsEmpty(PlacementError):
    code = 104
    template = "Events list in ticket object can't be empty"


class TeamNotFound(PlacementError):
    code = 105
    template = "Team with `{team_id}` identifier is not found"


class MarketNotFound(PlacementError):
    """The bet id is unknown or belongs to another event; `{market_id}` is filled with the
    bet id the request sent (an unknown bet has no market to name)."""

    code = 106
    template = "Market for bet with `{market_id}` identifier is not found"


class EventStarted(PlacementError):
    code = 107
    template = (
        "Event with `{event_id}` identifier is not available for play because it has "
        "already started"
    )


class BookmakerEventNotFound(PlacementError):
    code = 108
    template = "Bookmaker event for event with `{event_id}` identifier is not found"


class MarketBlocked(PlacementError):
    code = 109
    template = "Market is blocked"


class OddsChanged(PlacementError):
    code = 110
    template = "Ticket odds changed"


class DuplicateTicketCode(PlacementError):
    code = 111
    template = "Duplicate key for code generation"


class WebhookUrlMissing(PlacementError):
    code = 114
    template = "No webhook url for operator with `{operator}` name"


class TooFewEvents(PlacementError):
    code = 118
    template = "Events list must contain at least {correct_amount} items."


# ----------------------------------------------------------------------------- engine codes (119+)
# Checked after 104 and before 118, in this order.
class BetcardNotFound(PlacementError):
    code = 119
    template = "Betcard with `{betcard_code}` code is not found"


class BetcardOfOtherOperator(PlacementError):
    code = 120
    template = (
        "Betcard with `{betcard_code}` code is not offered to operator with `{operator}` name"
    )


class BetcardNotOpen(PlacementError):
    """The card's status is not `open` (draft, closed or settled)."""

    code = 121
    template = "Betcard with `{betcard_code}` code is not open for sales"


class BetcardOutsideSalesWindow(PlacementError):
    """Now is before the card's `opens_at` or at/after its `closes_at`."""

    code = 122
    template = "Betcard with `{betcard_code}` code is outside its sales window"


class PriceMismatch(PlacementError):
    code = 123
    template = "Ticket price {price} differs from betcard price {expected}"


class CurrencyMismatch(PlacementError):
    code = 124
    template = "Ticket currency `{currency}` differs from betcard currency `{expected}`"


class PrizeMismatch(PlacementError):
    code = 125
    template = "Ticket prize {prize} differs from betcard prize {expected}"


class BonusPrizesMismatch(PlacementError):
    code = 126
    template = "Ticket bonus prizes {bonus_prizes} differ from betcard bonus prizes {expected}"


class CurrencyNotAllowed(PlacementError):
    """The operator restricts its currencies and the request's is not among them."""

    code = 127
    template = "Currency `{currency}` is not allowed for operator with `{operator}` name"


class IdempotencyKeyReused(ContractError):
    """Same Idempotency-Key as an earlier placement of this operator, different body."""

    code = 128
    http_status = 409
    template = "Idempotency key `{key}` was already used with a different request body"


ALL_ERRORS: tuple[type[ContractError], ...] = (
    TicketNotFound,
    EventNotFound,
    EventsEmpty,
    TeamNotFound,
    MarketNotFound,
    EventStarted,
    BookmakerEventNotFound,
    MarketBlocked,
    OddsChanged,
    DuplicateTicketCode,
    OperatorNotFound,
    WebhookUrlMissing,
    OperatorsNotIdentical,
    TooFewEvents,
    BetcardNotFound,
    BetcardOfOtherOperator,
    BetcardNotOpen,
    BetcardOutsideSalesWindow,
    PriceMismatch,
    CurrencyMismatch,
    PrizeMismatch,
    BonusPrizesMismatch,
    CurrencyNotAllowed,
    IdempotencyKeyReused,
)
"""Every documented error, ordered by code."""

# Errors POST /be/tickets can answer with a 400 (for the OpenAPI schema).
PLACEMENT_400_ERRORS = tuple(
    error for error in ALL_ERRORS if error.http_status == 400 and error is not TicketNotFound
)
