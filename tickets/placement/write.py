"""The write of a placement: the ticket, its selections, its `ticket_create` (or, for a
reservation, `ticket_reserve`) row and its replay receipt in one statement, only while the
chosen bets are as the checks saw them.

Raw SQL because it pays (docs/performance.md § The write in one statement): one round trip,
no BEGIN/COMMIT, instead of a locked read and three inserts in a transaction (7 round trips
became 4 per placement).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.db import connection, transaction

from betcards.sales import sales_close
from betcards.snapshots import (
    BETS_UNCHANGED_SQL,
    BetcardSnapshot,
    BetSnapshot,
    bets_unchanged_params,
)
from jackpot.core import clock
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
    WriteEndpoint,
    WriteReceipt,
)
from tickets.odds import combined_odds
from tickets.outbox.payloads import TICKET_CREATE, TICKET_RESERVE
from tickets.outbox.queueing import pending_row
from tickets.outbox.waking import wake
from tickets.placement.checks import check_selections
from tickets.placement.limits import WITHIN_LIMITS_SQL, PlayerLimits, within_limits_params
from tickets.placement.order import PlacedTicket, TicketOrder, TicketRenderer
from tickets.receipts import receipt_new, signature_key


@dataclass(frozen=True, kw_only=True, slots=True)
class Placement:
    """Everything the write needs, decided before it: who sells what on which card, the
    ticket's taxes, and how its answer is rendered and kept for idempotent replays."""

    operator: Operator
    card: BetcardSnapshot
    order: TicketOrder
    taxes: CreationTaxes
    idempotency_key: str | None
    fingerprint: str
    render: TicketRenderer
    endpoint: WriteEndpoint = WriteEndpoint.PLACE
    replay_key: str | None = None  # the request's signature (contract.md § Replays)
    limits: PlayerLimits | None = None  # the operator's player limits, if it sets any

    @property
    def reservation(self) -> dt.timedelta | None:
        """How long a reservation waits to be paid; None for a ticket sold paid."""
        if self.endpoint != WriteEndpoint.RESERVE:
            return None
        return dt.timedelta(minutes=self.operator.reservation_minutes)


def own_statement() -> contextlib.AbstractContextManager[object]:
    """In autocommit (requests) a statement is its own transaction. Inside a caller's
    transaction (tests, scripts) a savepoint keeps a failed insert (a code collision) from
    aborting the caller's work, so that the retry can run."""
    return transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()


def write_if_bets_unchanged(
    placement: Placement, bets: Mapping[int, BetSnapshot]
) -> PlacedTicket | None:
    """Check the picks against `bets` (103-110), then write the ticket, its selections and
    its pending `ticket_create` row in one statement; or return None, with nothing written,
    when a chosen bet no longer has the values checked here (another odds or event, or its
    market blocked).

    The statement locks the chosen bets and markets `FOR SHARE` before it compares them
    (`betcards.snapshots.BETS_UNCHANGED_SQL`) and keeps the locks until its transaction
    commits, so no concurrent block or odds change can slip between the check and the
    ticket. A code collision raises IntegrityError with nothing written; the caller retries
    with a new code (collisions are rare enough, 36**6 codes, not to pay for a savepoint).
    """
    created = clock.now()
    chosen = check_selections(placement.card, placement.order, bets, created)
    ticket = _ticket(placement, chosen, created)
    body = placement.render(ticket, placement.card.code)
    if placement.idempotency_key is not None:
        ticket.placement_response = body.decode()
    webhook = TICKET_CREATE if placement.reservation is None else TICKET_RESERVE
    delivery = pending_row(ticket=ticket, webhook=webhook)
    receipt = (
        None
        if placement.replay_key is None
        else receipt_new(
            ticket=ticket,
            key=signature_key(placement.replay_key, placement.endpoint),
            endpoint=placement.endpoint,
            response=body,
            now=created,
        )
    )
    delivery_id = _insert(
        ticket, placement.order, chosen, delivery, receipt=receipt, limits=placement.limits
    )
    if delivery_id is None:
        return None
    delivery.pk = delivery_id
    wake([delivery_id])
    return PlacedTicket(ticket=ticket, body=body, replayed=False)


def _ticket(placement: Placement, chosen: Sequence[BetSnapshot], created: dt.datetime) -> Ticket:
    order, taxes = placement.order, placement.taxes
    reservation = placement.reservation
    return Ticket(
        status=TicketStatus.OPEN if reservation is None else TicketStatus.RESERVED,
        approved=reservation is None,
        reserved_until=(
            None if reservation is None else reservation_end(placement.card, created, reservation)
        ),
        id=identifiers.ticket_id(created.timestamp()),
        code=identifiers.ticket_code(),
        operator=placement.operator,
        betcard_id=placement.card.id,
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
        idempotency_key=placement.idempotency_key,
        request_fingerprint=placement.fingerprint,
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


def _insert(
    ticket: Ticket,
    order: TicketOrder,
    chosen: Sequence[BetSnapshot],
    delivery: WebhookDelivery,
    *,
    receipt: WriteReceipt | None,
    limits: PlayerLimits | None,
) -> int | None:
    """Run the write statement; the outbox row's id, or None when a bet had changed (or a
    player limit would be broken)."""
    written = execute_fetchone(
        _write_sql(with_receipt=receipt is not None, with_limits=limits is not None),
        [
            *bets_unchanged_params({bet.id: bet for bet in chosen}.values()),
            *([] if limits is None else within_limits_params(limits)),
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
            *([] if receipt is None else insert_params(receipt)),
        ],
    )
    return None if written is None else int(written[0])


@functools.cache
def _write_sql(*, with_receipt: bool, with_limits: bool) -> str:
    """Lock and compare the chosen bets, then insert the ticket, its selections, its
    `ticket_create` (or `ticket_reserve`) outbox row and, for a signed request, the receipt
    a replay is answered with, all in one statement. The inserts run only if the bets are
    unchanged (`WHERE`), succeed or fail together, and the foreign keys to the new ticket are
    checked at the statement's end, when the ticket row exists. Returns the outbox row's id,
    or no row."""
    receipt = (
        sql_names(
            ", receipt AS ({insert_receipt} WHERE EXISTS (SELECT FROM ticket))",
            insert_receipt=insert_select_sql(WriteReceipt),
        )
        if with_receipt
        else ""
    )
    within, ticket_if = "", "(SELECT yes FROM bets_unchanged)"
    if with_limits:  # counted after the player's lock (tickets.placement.limits)
        within = f" within_limits AS ({WITHIN_LIMITS_SQL}),"
        ticket_if += " AND (SELECT yes FROM within_limits)"
    return sql_names(
        "WITH {bets_unchanged},{within}"
        " ticket AS ({insert_ticket} WHERE {ticket_if} RETURNING 1),"
        " selections AS ({insert_selections} WHERE EXISTS (SELECT FROM ticket)),"
        " delivery AS ({insert_delivery} WHERE EXISTS (SELECT FROM ticket) RETURNING {d.id})"
        "{receipt} SELECT id FROM delivery",
        bets_unchanged=BETS_UNCHANGED_SQL,
        within=within,
        ticket_if=ticket_if,
        insert_ticket=insert_select_sql(Ticket),
        insert_selections=insert_unnest_sql(Selection),
        insert_delivery=insert_select_sql(WebhookDelivery),
        receipt=receipt,
        d=WebhookDelivery,
    )
