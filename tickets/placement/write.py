"""The writer of a placement: the ticket, its selections, its `ticket_create` (or, for a
reservation, `ticket_reserve`) row and its receipt in one statement, only while the chosen
bets are as the checks saw them and no key of the write is taken; else it says which.

Raw SQL because it pays (docs/performance.md § The write in one statement): one round trip,
no BEGIN/COMMIT, instead of a locked read and three inserts in a transaction (7 round trips
became 4 per placement).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from django.db import connection, transaction

from betcards.sales import sales_close
from betcards.snapshots import (
    BETS_UNCHANGED_SQL,
    BetcardSnapshot,
    BetSnapshot,
    bets_unchanged_params,
)
from jackpot.core.sql import (
    execute_fetchone,
    insert_column_values,
    insert_params,
    insert_select_sql,
    insert_unnest_sql,
    sql_names,
)
from operators.models import Operator
from operators.taxes import CreationTaxes
from tickets import identifiers
from tickets.models import (
    Selection,
    Ticket,
    TicketStatus,
    WebhookDelivery,
    WriteReceipt,
)
from tickets.odds import combined_odds
from tickets.outbox.payloads import TICKET_CREATE, TICKET_RESERVE
from tickets.outbox.queueing import pending_row
from tickets.outbox.waking import wake
from tickets.placement.order import PlacedTicket, TicketOrder


class Outcome(Enum):
    """What the writer reports when it wrote nothing."""

    BETS_MOVED = "a chosen bet changed since it was read: decide again on locked bets"
    RECEIPT_TAKEN = "a key of this write was taken by an earlier one: answer as its repeat"


@dataclass(frozen=True, kw_only=True, slots=True)
class Decided:
    """A placement that passed every check, ready to write: the ticket, what it picked, its
    answer and its receipt."""

    ticket: Ticket
    order: TicketOrder
    chosen: Sequence[BetSnapshot]
    body: bytes
    receipt: WriteReceipt | None


def own_statement() -> contextlib.AbstractContextManager[object]:
    """In autocommit (requests) a statement is its own transaction. Inside a caller's
    transaction (tests, scripts) a savepoint keeps a failed insert (a code collision) from
    aborting the caller's work, so that the retry can run."""
    return transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()


def ticket_write(decided: Decided) -> PlacedTicket | Outcome:
    """Write the ticket, its selections, its pending `ticket_create` (or `ticket_reserve`)
    row and its receipt in one statement, or report why nothing was written.

    The statement locks the chosen bets and markets `FOR SHARE` before it compares them
    (`betcards.snapshots.BETS_UNCHANGED_SQL`) and keeps the locks until its transaction
    commits, so no concurrent block or odds change can slip between the check and the
    ticket: a changed bet is `BETS_MOVED`. The receipt goes first, `ON CONFLICT DO
    NOTHING`: a key an earlier write holds (a concurrent copy waits for it to commit) is
    `RECEIPT_TAKEN`, and the ticket is not written. A ticket code that collides raises
    IntegrityError with nothing written (the only unique index left to hit; 36**6 codes):
    the caller tries again with a new code."""
    ticket = decided.ticket
    webhook = TICKET_CREATE if ticket.status == TicketStatus.OPEN else TICKET_RESERVE
    delivery = pending_row(ticket=ticket, webhook=webhook)
    chosen, order = decided.chosen, decided.order
    unchanged, delivery_id = execute_fetchone(
        _write_sql(with_receipt=decided.receipt is not None),
        [
            *bets_unchanged_params({bet.id: bet for bet in chosen}.values()),
            *([] if decided.receipt is None else insert_params(decided.receipt)),
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
    ) or (None, None)
    if not unchanged:
        return Outcome.BETS_MOVED
    if delivery_id is None:
        return Outcome.RECEIPT_TAKEN
    wake([int(delivery_id)])
    return PlacedTicket(ticket=ticket, body=decided.body, replayed=False)


def ticket_new(
    *,
    operator: Operator,
    card: BetcardSnapshot,
    order: TicketOrder,
    taxes: CreationTaxes,
    chosen: Sequence[BetSnapshot],
    reservation: dt.timedelta | None,
    created: dt.datetime,
) -> Ticket:
    """The ticket a placement writes (a reservation when `reservation` is how long it waits
    to be paid)."""
    return Ticket(
        status=TicketStatus.OPEN if reservation is None else TicketStatus.RESERVED,
        approved=reservation is None,
        reserved_until=(
            None if reservation is None else reservation_end(card, created, reservation)
        ),
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
        reference=order.reference,
        created_at=created,
        updated_at=created,
    )


def reservation_end(
    card: BetcardSnapshot, reserved: dt.datetime, reservation: dt.timedelta
) -> dt.datetime:
    """A reservation expires after the operator's reservation time, or when its card stops
    selling if that comes first (contract.md § Pay later)."""
    close = sales_close(card)
    return reserved + reservation if close is None else min(reserved + reservation, close)


@functools.cache
def _write_sql(*, with_receipt: bool) -> str:
    """Lock and compare the chosen bets; insert the receipt (when the write has keys) unless
    one of its keys is taken; then the ticket, its selections and its outbox row, only if
    the bets are unchanged and the receipt went in. The foreign keys to the new ticket are
    checked at the statement's end, when the ticket row exists. Returns one row: whether
    the bets were unchanged, and the outbox row's id (null: nothing written)."""
    if with_receipt:
        receipt = sql_names(
            " receipt AS ({insert_receipt} WHERE (SELECT yes FROM bets_unchanged)"
            " ON CONFLICT DO NOTHING RETURNING 1),",
            insert_receipt=insert_select_sql(WriteReceipt),
        )
        ticket_if = "EXISTS (SELECT FROM receipt)"
    else:
        receipt, ticket_if = "", "(SELECT yes FROM bets_unchanged)"
    return sql_names(
        "WITH {bets_unchanged},{receipt}"
        " ticket AS ({insert_ticket} WHERE {ticket_if} RETURNING 1),"
        " selections AS ({insert_selections} WHERE EXISTS (SELECT FROM ticket)),"
        " delivery AS ({insert_delivery} WHERE EXISTS (SELECT FROM ticket) RETURNING {d.id})"
        " SELECT (SELECT yes FROM bets_unchanged), (SELECT id FROM delivery)",
        bets_unchanged=BETS_UNCHANGED_SQL,
        receipt=receipt,
        ticket_if=ticket_if,
        insert_ticket=insert_select_sql(Ticket),
        insert_selections=insert_unnest_sql(Selection),
        insert_delivery=insert_select_sql(WebhookDelivery),
        d=WebhookDelivery,
    )
