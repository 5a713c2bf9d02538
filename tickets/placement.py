"""Ticket placement: `ticket_place()` (contract.md § POST /be/tickets).

Fetch once, decide purely, write once. The checks run in the contract's documented order:
115/114 (operator), idempotent replay, 104 (no events), 119-127 (betcard), 118 (too few
events), then per event in request order 103, 105, 108, 106, 107, 109, 110; 111 only when
every ticket code attempt collides. Nothing is written unless every check passes.

Queries for any number of events: the betcard with its events and the chosen bets (1, no
lock), then one INSERT statement, committed on its own, that locks those bets and markets
`FOR SHARE` and writes the ticket, its selections and the `ticket_create` outbox row only if
they still hold the values the checks passed on (1); plus 1 for a given Idempotency-Key.
Only when a bet changed in between (odds moved, market blocked) does placement fall back to
a transaction that reads them locked and checks again (2 more, and BEGIN/COMMIT).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from betcards.models import BetcardStatus
from betcards.snapshots import (
    BETS_UNCHANGED_SQL,
    BetcardSnapshot,
    BetSnapshot,
    betcard_snapshot_for_placement,
    bets_for_placement,
    bets_unchanged_params,
)
from jackpot.core import clock
from jackpot.core.errors import (
    BetcardNotFound,
    BetcardNotOpen,
    BetcardOfOtherOperator,
    BetcardOutsideSalesWindow,
    BonusPrizesMismatch,
    BookmakerEventNotFound,
    CurrencyMismatch,
    CurrencyNotAllowed,
    DuplicateTicketCode,
    EventNotFound,
    EventsEmpty,
    EventStarted,
    IdempotencyKeyReused,
    MarketBlocked,
    MarketNotFound,
    OddsChanged,
    OperatorsNotIdentical,
    PriceMismatch,
    PrizeMismatch,
    TeamNotFound,
    TooFewEvents,
    WebhookUrlMissing,
)
from jackpot.core.sql import (
    insert_column_values,
    insert_params,
    insert_select_sql,
    insert_unnest_sql,
    mark_inserted,
)
from operators.models import Operator
from tickets import identifiers
from tickets.models import Selection, Ticket, WebhookDelivery
from tickets.odds import combined_odds, odds_accepted
from tickets.pam_outbox import delivery_build, delivery_kick_in_background_after_commit
from tickets.taxes import CreationTaxes, creation_taxes
from tickets.webhook_payloads import ticket_create_data

IDEMPOTENCY_CONSTRAINT = "ticket_idempotency_key_once_per_operator"


@dataclass(frozen=True, slots=True)
class EventPick:
    event_id: int
    bet_id: int
    odds: Decimal


@dataclass(frozen=True, kw_only=True, slots=True)
class TicketOrder:
    """A validated POST /be/tickets body (built by `tickets.api.serializers`)."""

    operator: str
    token: str
    psp: str | None
    price: int
    currency: str
    atag: str | None
    rtag: str | None
    source: str
    type: str
    odds_diff: Decimal
    events: tuple[EventPick, ...]
    betcard_code: str
    prize: int
    bonus_prizes: tuple[int, ...]


TicketRenderer = Callable[[Ticket, str], bytes]
"""`render(ticket, betcard_code)` → the exact 200 body; stored for idempotent replays."""


@dataclass(frozen=True, slots=True)
class PlacedTicket:
    ticket: Ticket
    body: bytes
    replayed: bool


def ticket_place(
    *,
    operator: Operator,
    order: TicketOrder,
    idempotency_key: str | None,
    fingerprint: str,
    render: TicketRenderer,
) -> PlacedTicket:
    """Place a jackpot ticket for an authenticated operator, or raise its ContractError.

    With an `idempotency_key` already used by this operator, nothing is created: the same
    `fingerprint` (hash of the request body) replays the first answer, another one raises
    IdempotencyKeyReused (409). A key used only by failed attempts is free (nothing was
    stored), so a rejected request may be retried with its key.
    """
    check_operator(operator, order)
    if idempotency_key is not None:
        earlier = _placement_for_key(operator, idempotency_key, fingerprint, render)
        if earlier is not None:
            return earlier
    check_events_present(order)
    now = clock.now()
    bet_ids = [pick.bet_id for pick in order.events]
    card = check_betcard(
        betcard_snapshot_for_placement(order.betcard_code, bet_ids), order, operator, now
    )
    check_event_count(card, order)
    taxes = creation_taxes(
        price=order.price,
        ext_percent=operator.ext_percent,
        ext_type=operator.ext_type,
        wht_percent=operator.wht_percent,
        aff_comm_percent=operator.aff_comm_percent,
        atag=order.atag,
    )
    write = functools.partial(
        _write_ticket_if_bets_unchanged,
        operator=operator,
        card=card,
        order=order,
        taxes=taxes,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        render=render,
    )
    for _ in range(settings.TICKET_CODE_ATTEMPTS):
        try:
            with _own_statement():
                placed = write(bets=card.bets)
            if placed is None:
                # A bet or market changed since the read: check again on locked values.
                with transaction.atomic(durable=True):
                    placed = write(bets=bets_for_placement(bet_ids))
            if placed is None:
                raise RuntimeError("locked bets changed inside their transaction")
            return placed
        except IntegrityError as error:
            table, constraint = _violation(error)
            if constraint == IDEMPOTENCY_CONSTRAINT and idempotency_key is not None:
                # A concurrent request with the same key committed first; our insert waited
                # for it on the unique index. Answer as a replay of the winner.
                winner = _placement_for_key(operator, idempotency_key, fingerprint, render)
                if winner is None:
                    raise
                return winner
            if table != Ticket._meta.db_table:
                raise
            # A ticket code (or, far less likely, id) collision: retry with new ones.
    raise DuplicateTicketCode()


# ----------------------------------------------------------------------------- checks
def check_operator(operator: Operator, order: TicketOrder) -> None:
    """115 and 114. (112 cannot happen here: authentication found the operator.)"""
    if order.operator != operator.name:
        raise OperatorsNotIdentical()
    if not operator.webhook_url:
        raise WebhookUrlMissing(operator=operator.name)


def check_events_present(order: TicketOrder) -> None:
    if not order.events:
        raise EventsEmpty()


def check_betcard(
    card: BetcardSnapshot | None, order: TicketOrder, operator: Operator, now: dt.datetime
) -> BetcardSnapshot:
    """119-127, in code order; returns the card once it may take this order."""
    if card is None:
        raise BetcardNotFound(betcard_code=order.betcard_code)
    if card.operator_id is not None and card.operator_id != operator.id:
        raise BetcardOfOtherOperator(betcard_code=card.code, operator=operator.name)
    if card.status != BetcardStatus.OPEN:
        raise BetcardNotOpen(betcard_code=card.code)
    if now < card.opens_at or (card.closes_at is not None and now >= card.closes_at):
        raise BetcardOutsideSalesWindow(betcard_code=card.code)
    if order.price != card.price:
        raise PriceMismatch(price=order.price, expected=card.price)
    if order.currency != card.currency:
        raise CurrencyMismatch(currency=order.currency, expected=card.currency)
    if order.prize != card.prize:
        raise PrizeMismatch(prize=order.prize, expected=card.prize)
    if order.bonus_prizes != card.bonus_prizes:
        raise BonusPrizesMismatch(
            bonus_prizes=list(order.bonus_prizes), expected=list(card.bonus_prizes)
        )
    if operator.currencies and order.currency not in operator.currencies:
        raise CurrencyNotAllowed(currency=order.currency, operator=operator.name)
    return card


def check_event_count(card: BetcardSnapshot, order: TicketOrder) -> None:
    if len(order.events) < card.required_events:
        raise TooFewEvents(correct_amount=card.required_events)


def check_selections(
    card: BetcardSnapshot,
    order: TicketOrder,
    bets: Mapping[int, BetSnapshot],
    now: dt.datetime,
) -> list[BetSnapshot]:
    """103, 105, 108, 106, 107, 109, 110 for each event in request order; returns the bets."""
    chosen = []
    for pick in order.events:
        event = card.events.get(pick.event_id)
        if event is None:
            raise EventNotFound(event_id=pick.event_id)
        team_id = event.disabled_team_id
        if team_id is not None:
            raise TeamNotFound(team_id=team_id)
        if not event.has_bookmaker_event:
            raise BookmakerEventNotFound(event_id=event.id)
        bet = bets.get(pick.bet_id)
        if bet is None or bet.event_id != event.id:
            raise MarketNotFound(market_id=pick.bet_id)
        if event.starts_at <= now:
            raise EventStarted(event_id=event.id)
        if bet.market_blocked:
            raise MarketBlocked()
        if not odds_accepted(submitted=pick.odds, current=bet.odds, odds_diff=order.odds_diff):
            raise OddsChanged()
        chosen.append(bet)
    return chosen


# ----------------------------------------------------------------------------- writing
def _own_statement() -> contextlib.AbstractContextManager[object]:
    """In autocommit (requests) a statement is its own transaction. Inside a caller's
    transaction (tests, scripts) a savepoint keeps a failed insert (a code collision) from
    aborting the caller's work, so that the retry can run."""
    return transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()


def _write_ticket_if_bets_unchanged(
    *,
    operator: Operator,
    card: BetcardSnapshot,
    order: TicketOrder,
    bets: Mapping[int, BetSnapshot],
    taxes: CreationTaxes,
    idempotency_key: str | None,
    fingerprint: str,
    render: TicketRenderer,
) -> PlacedTicket | None:
    """Check the picks against `bets`, then write the ticket, its selections and its pending
    `ticket_create` row in one statement, or return None when a chosen bet no longer has the
    values checked here (another odds or event, or its market blocked) and nothing was written.

    The statement locks the chosen bets and markets `FOR SHARE` before it compares them
    (betcards.snapshots.BETS_UNCHANGED_SQL), and keeps the locks until its transaction
    commits, so no concurrent block or odds change can slip between the check and the
    ticket. A code collision raises IntegrityError with nothing written; the caller retries
    with a new code: collisions are rare enough (36**6 codes) not to pay for a savepoint.
    """
    created = clock.now()
    chosen = check_selections(card, order, bets, created)
    ticket = Ticket(
        id=identifiers.ticket_id(created.timestamp()),
        code=identifiers.ticket_code(),
        operator=operator,
        betcard_id=card.id,
        token=order.token,
        psp=order.psp,
        price=taxes.price,
        stake=taxes.stake,
        currency=order.currency,
        ext_percent=taxes.ext_percent,
        ext_type=taxes.ext_type,
        ext_amount=taxes.ext_amount,
        wht_percent=taxes.wht_percent,
        aff_comm_percent=taxes.aff_comm_percent,
        aff_comm_amount=taxes.aff_comm_amount,
        atag=order.atag,
        rtag=order.rtag,
        source=order.source,
        type=order.type,
        odds=combined_odds(bet.odds for bet in chosen),
        prize=order.prize,
        bonus_prizes=list(order.bonus_prizes),
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        created_at=created,
        updated_at=created,
    )
    body = render(ticket, card.code)
    if idempotency_key is not None:
        ticket.placement_response = body.decode()
    delivery = delivery_build(
        ticket=ticket, action="ticket_create", data=ticket_create_data(ticket)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            _write_sql(),
            [
                *bets_unchanged_params({bet.id: bet for bet in chosen}.values()),
                *insert_params(ticket),
                *insert_column_values(
                    Selection,
                    len(chosen),
                    ticket_id=[ticket.id] * len(chosen),
                    event_id=[pick.event_id for pick in order.events],
                    bet_id=[pick.bet_id for pick in order.events],
                    odds_submitted=[pick.odds for pick in order.events],
                    odds_accepted=[bet.odds for bet in chosen],
                ),
                *insert_params(delivery),
            ],
        )
        written = cursor.fetchone()
    if written is None:
        return None
    (delivery.pk,) = written
    for row in (ticket, delivery):
        mark_inserted(row)
    delivery_kick_in_background_after_commit(delivery.pk)
    return PlacedTicket(ticket=ticket, body=body, replayed=False)


@functools.cache
def _write_sql() -> str:
    """Lock and compare the chosen bets, then insert the ticket, its selections and its
    `ticket_create` outbox row, all in one statement (one round trip, no BEGIN/COMMIT;
    jackpot.core.sql). The inserts run only if the bets are unchanged (`WHERE`), succeed or
    fail together, and the foreign keys to the new ticket are checked at the statement's
    end, when the ticket row exists. Returns the outbox row's id, or no row."""
    delivery_pk = connection.ops.quote_name(str(WebhookDelivery._meta.pk.column))
    return (
        f"WITH {BETS_UNCHANGED_SQL},"  # noqa: S608 - SQL from model metadata only
        f" ticket AS ({insert_select_sql(Ticket)} WHERE (SELECT yes FROM bets_unchanged)"
        " RETURNING 1),"
        f" selections AS ({insert_unnest_sql(Selection)} WHERE EXISTS (SELECT FROM ticket))"
        f" {insert_select_sql(WebhookDelivery)} WHERE EXISTS (SELECT FROM ticket)"
        f" RETURNING {delivery_pk}"
    )


def _placement_for_key(
    operator: Operator, key: str, fingerprint: str, render: TicketRenderer
) -> PlacedTicket | None:
    earlier = (
        Ticket.objects.filter(operator=operator, idempotency_key=key)
        .select_related("betcard")
        .first()
    )
    if earlier is None:
        return None
    if earlier.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(key=key)
    earlier.operator = operator
    body = (
        earlier.placement_response.encode()
        if earlier.placement_response is not None
        else render(earlier, earlier.betcard.code)
    )
    return PlacedTicket(ticket=earlier, body=body, replayed=True)


def _violation(error: IntegrityError) -> tuple[str | None, str | None]:
    """(table, constraint) of a unique violation reported by psycopg, else (None, None)."""
    diag = getattr(error.__cause__, "diag", None)
    if diag is None:
        return None, None
    return diag.table_name, diag.constraint_name
