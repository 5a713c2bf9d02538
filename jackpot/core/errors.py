"""Every documented error code of the engine, in one registry (contract.md § error list).

Each code is one `ContractError` subclass with the contract's message `template` (backticks
are literal; placeholders are filled from keyword arguments, so tests assert the exact text)
and `when`, the one-line condition the README's table prints. The contract's own codes are
102-118; what it leaves open gets 119 upward; settlement refusals are 150 upward.

Staff-facing refusals (the back office, commands) have one base too, `StaffRefusal`, at the
end of this module: a message for a person, no code, never an API answer.

The domain never mentions HTTP: `jackpot.api.exceptions` renders an error that reaches the
API as `{"code": N, "message": "..."}` with the status its table gives the class (400 unless
stated). Settlement errors reach staff through the back office and `settle_betcard`, never
the API. The README and docs/api.md tables and the OpenAPI schema are checked against
`ALL_ERRORS` (tests/test_error_registry.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import ClassVar


class ContractError(Exception):
    """A documented refusal: a code, a message template and when it happens."""

    code: ClassVar[int]
    template: ClassVar[str]
    when: ClassVar[str]

    details: Mapping[str, object] = {}
    """Keys the answer carries after `code` and `message` (the message stays the contract's):
    which event a 109 or 110 is about."""

    def __init__(self, **params: object) -> None:
        self.params = params
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return self.template.format(**self.params)


class IdentityError(ContractError):
    """Raised while the signed headers are checked, before the body is validated."""


class PlacementError(ContractError):
    """A business rejection of POST /be/tickets, in the documented order of checks."""


class SettlementError(ContractError):
    """A settlement request the engine refuses; nothing was changed."""


# ----------------------------------------------------------------------------- identity
class OperatorNotFound(IdentityError):
    code = 112
    template = "Operator with `{operator}` name is not found"
    when = "no such operator"


class OperatorsNotIdentical(IdentityError):
    code = 115
    template = "Operators in request body and in request header are not identical"
    when = "body `operator` ≠ `operator-name` header"


# ----------------------------------------------------------------------------- tickets
class TicketNotFound(ContractError):
    code = 102
    template = "Ticket with `{identifier}` identifier is not found"
    when = "GET: unknown id/code, or another operator's ticket"


class TicketNotReserved(ContractError):
    code = 117
    template = "Ticket has to have `reserved` status in order to do this action"
    when = "paid: the ticket is not `reserved`, or its reservation has expired"


class RateLimited(ContractError):
    code = 129
    template = "Rate limit of {limit} requests per second exceeded"
    when = "the operator sent more than its `rate_limit` requests this second (`/be/` and `/bc/`)"

    def __init__(self, *, limit: int, retry_after: int) -> None:
        super().__init__(limit=limit)
        self.retry_after = retry_after  # whole seconds, at least 1 (the Retry-After header)


class IdempotencyKeyReused(ContractError):
    code = 128
    template = "Idempotency key `{key}` was already used with a different {what}"
    when = "see Idempotency: `{what}` is `request body` for a purchase, `ticket` for a paid call"


class ReferenceReused(ContractError):
    code = 132
    template = "Reference `{reference}` was already used with a different request body"
    when = "the purchase's `reference` was sent before with another body (see Replays)"


# ----------------------------------------------------------------------------- placement
class EventNotFound(PlacementError):
    code = 103
    template = "Event with `{event_id}` identifier is not found"
    when = "unknown event, or not on the card"


class EventsEmpty(PlacementError):
    code = 104
    template = "Events list in ticket object can't be empty"
    when = "`events` is `[]`"


class TeamNotFound(PlacementError):
    code = 105
    template = "Team with `{team_id}` identifier is not found"
    when = "the event's home (checked first) or away team is disabled"


class MarketNotFound(PlacementError):
    """`{market_id}` is filled with the bet id the request sent (an unknown bet has no
    market to name)."""

    code = 106
    template = "Market for bet with `{market_id}` identifier is not found"
    when = "the bet is unknown or not of that event (filled with the bet id sent)"


class EventStarted(PlacementError):
    code = 107
    template = (
        "Event with `{event_id}` identifier is not available for play because it has "
        "already started"
    )
    when = "start time ≤ now"


class BookmakerEventNotFound(PlacementError):
    code = 108
    template = "Bookmaker event for event with `{event_id}` identifier is not found"
    when = "the event has no bookmaker event"


class MarketBlocked(PlacementError):
    code = 109
    template = "Market is blocked"
    when = "the bet's market is blocked"

    def __init__(self, *, event_id: int) -> None:
        super().__init__()
        self.details = {"event_id": event_id}


class OddsChanged(PlacementError):
    code = 110
    template = "Ticket odds changed"
    when = "`|current − submitted| > odds_diff % × submitted`"

    def __init__(self, *, event_id: int, current_odds: Decimal) -> None:
        super().__init__()
        # odds have at most 3 decimals: exact as a JSON number
        self.details = {"event_id": event_id, "current_odds": float(current_odds)}


class DuplicateTicketCode(PlacementError):
    code = 111
    template = "Duplicate key for code generation"
    when = "every one of `TICKET_CODE_ATTEMPTS` (5) codes collided"


class WebhookUrlMissing(PlacementError):
    code = 114
    template = "No webhook url for operator with `{operator}` name"
    when = "operator has no PAM webhook URL"


class TooFewEvents(PlacementError):
    code = 118
    template = "Events list must contain at least {correct_amount} items."
    when = "fewer events than the card's `min_events` (all its events when unset)"


# Betcard problems the contract leaves open (119-127), checked after 104 and before 118.
class BetcardNotFound(PlacementError):
    code = 119
    template = "Betcard with `{betcard_code}` code is not found"
    when = "unknown `betcard_code` (`/bc/`: unknown or not offered to you, answered 404)"


class BetcardOfOtherOperator(PlacementError):
    code = 120
    template = (
        "Betcard with `{betcard_code}` code is not offered to operator with `{operator}` name"
    )
    when = "the card is restricted to another operator"


class BetcardNotOpen(PlacementError):
    code = 121
    template = "Betcard with `{betcard_code}` code is not open for sales"
    when = "card status is draft, closed or settled"


class BetcardOutsideSalesWindow(PlacementError):
    code = 122
    template = "Betcard with `{betcard_code}` code is outside its sales window"
    when = (
        "now is before `opens_at`, or at/after `closes_at` (a card without one: its first kick-off)"
    )


class PriceMismatch(PlacementError):
    code = 123
    template = "Ticket price {price} differs from betcard price {expected}"
    when = "`price` ≠ card price"


class CurrencyMismatch(PlacementError):
    code = 124
    template = "Ticket currency `{currency}` differs from betcard currency `{expected}`"
    when = "`currency` ≠ card currency"


class PrizeMismatch(PlacementError):
    code = 125
    template = "Ticket prize {prize} differs from betcard prize {expected}"
    when = "`prize` ≠ card prize"


class BonusPrizesMismatch(PlacementError):
    code = 126
    template = "Ticket bonus prizes {bonus_prizes} differ from betcard bonus prizes {expected}"
    when = "`bonus_prizes` ≠ card bonus prizes (same order)"


class PlayerTicketLimit(PlacementError):
    code = 130
    template = (
        "Player with `{token}` token has reached the limit of {limit} tickets on betcard with "
        "`{betcard_code}` code"
    )
    when = "the player (`token`) has `max_tickets_per_player` reserved or open tickets on the card"


class PlayerSpendLimit(PlacementError):
    code = 131
    template = "Player with `{token}` token has reached the daily spend limit of {limit}"
    when = (
        "the player's tickets not cancelled, created today in the operator's time zone, and "
        "this one would cost more than `max_daily_spend`"
    )


class CurrencyNotAllowed(PlacementError):
    code = 127
    template = "Currency `{currency}` is not allowed for operator with `{operator}` name"
    when = "the operator lists allowed currencies and this is not one"


# ----------------------------------------------------------------------------- settlement
class ResultsMissing(SettlementError):
    code = 150
    template = "Betcard `{code}` cannot be settled: events without a result: {events}"
    when = "settle: an event of the card has no result yet"


class BetcardNotSettled(SettlementError):
    code = 151
    template = "Betcard `{code}` is not settled yet: settle it before correcting a result"
    when = "resettle: the card's first settlement has not finished"


class ResettlementReasonMissing(SettlementError):
    code = 152
    template = "A resettlement of betcard `{code}` needs a reason"
    when = "resettle: no reason given"


class SettlementRunning(SettlementError):
    code = 153
    template = (
        "Betcard `{code}` is being settled by another run: wait for it to finish (its round "
        "shows as running on the card's page)"
    )
    when = "settle or resettle while another run holds the card"


def _registered(base: type[ContractError]) -> list[type[ContractError]]:
    found: list[type[ContractError]] = []
    for sub in base.__subclasses__():
        if hasattr(sub, "code"):
            found.append(sub)
        found.extend(_registered(sub))
    return found


ALL_ERRORS: tuple[type[ContractError], ...] = tuple(
    sorted(_registered(ContractError), key=lambda error: error.code)
)
"""Every error the engine can produce, ordered by code (each defined once, above)."""


# ----------------------------------------------------------------------------- staff refusals
class StaffRefusal(ValueError):
    """A staff action the engine refuses (the back office, a command): the message says why,
    for a person; nothing was changed. Never an answer of the operator API, and no code:
    the admin shows the message, a command exits with it."""


class BetcardLocked(StaffRefusal):
    """The betcard has tickets, so the fields its tickets were sold on cannot change."""

    def __init__(self, *, tickets: int, fields: Iterable[str]) -> None:
        self.tickets = tickets
        self.fields = tuple(fields)
        super().__init__(
            f"This betcard has {tickets} ticket{'s' if tickets != 1 else ''}: its events, price "
            f"and prizes can no longer change (you changed: {', '.join(self.fields)})."
        )


class BetcardStatusInvalid(StaffRefusal):
    """The card cannot move to the asked status from the one it is in."""


class ResultInvalid(StaffRefusal):
    """The result does not fit the market (a bet of another market, or void with a winner)."""


class OperatorInvalid(StaffRefusal):
    """A setting of the operator is not acceptable; the message says which and why."""


class OperatorExists(OperatorInvalid):
    """An operator with this name is already registered."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"operator {name!r} already exists; nothing was changed "
            "(use --rotate-secret to issue it a new secret key)"
        )


class DeliveryNotRetryable(StaffRefusal):
    """Staff asked to retry a delivery that must not be sent again (message says why)."""


class TicketNotCancellable(StaffRefusal):
    """Staff asked to cancel a ticket that is neither reserved nor open (message says why)."""
