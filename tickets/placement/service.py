"""Ticket placement: `ticket_place(operator, order, receipt)` (contract.md § POST /be/tickets,
§ Pay later: a reservation is placed the same way, § Replays, one purchase one ticket).

It reads as the contract does: decide, then write.

1. **Decide.** The named checks run in the contract's order as plain functions
   (`tickets.placement.checks`, `tickets.placement.limits`) over the card this process
   keeps (`betcards.snapshots`) and, for an operator with player limits, the player's
   counters: 115, 114, 104, 119-127, 118, then per event in request order 103, 105, 108,
   106, 107, 109, 110, then 130, 131. The ticket, its taxes and its answer are built.
2. **Write.** One writer (`tickets.placement.write.ticket_write`) either writes the
   ticket with its selections, outbox row and receipt in one statement, or reports why
   not: a chosen bet moved since it was read (decide again on the bets read locked), or a
   key of the write (signature, Idempotency-Key, reference) is taken by an earlier write.
3. **Receipt.** A repeat is answered with the earlier write's answer, `replayed`
   (`tickets.receipts`); so is a refused request whose keys repeat an earlier write.

Queries: none before the write when this process keeps the card (else 1, no lock); the
write is 1 statement, committed on its own. An operator with player limits adds a
transaction holding the player's lock and one read of the counters. A moved bet costs a
transaction that reads the bets locked and writes again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping

from django.conf import settings
from django.db import IntegrityError, transaction
from psycopg.errors import UniqueViolation

from betcards.snapshots import (
    BetcardSnapshot,
    BetSnapshot,
    betcard_snapshot_for_placement,
    bets_for_placement,
)
from jackpot.core import clock
from jackpot.core.errors import ContractError, DuplicateTicketCode
from operators.models import Operator
from operators.taxes import CreationTaxes, creation_taxes
from tickets.models import WriteEndpoint
from tickets.placement.checks import (
    check_betcard,
    check_event_count,
    check_events_present,
    check_operator,
    check_selections,
)
from tickets.placement.limits import (
    PlayerCounters,
    PlayerLimits,
    check_player_limits,
    player_counters,
)
from tickets.placement.order import PlacedTicket, TicketOrder
from tickets.placement.write import Decided, Outcome, own_statement, ticket_new, ticket_write
from tickets.receipts import WriteKeys, earlier_answer, receipt_row
from tickets.rendering import ticket_body


def ticket_place(*, operator: Operator, order: TicketOrder, receipt: WriteKeys) -> PlacedTicket:
    """Place a jackpot ticket (with `receipt.endpoint` RESERVE, reserve one: pay later) for
    an authenticated operator, or raise its ContractError; a repeat of an earlier write (by
    any of `receipt`'s keys) gets that write's answer, `replayed`, and creates nothing."""
    try:
        return _place(operator, order, receipt)
    except ContractError:
        earlier = earlier_answer(operator_id=operator.pk, keys=receipt)  # or 128 / 132
        if earlier is None:
            raise
        return PlacedTicket(ticket=earlier.ticket, body=earlier.body, replayed=True)


def _place(operator: Operator, order: TicketOrder, receipt: WriteKeys) -> PlacedTicket:
    check_operator(operator, order)
    check_events_present(order)
    card = check_betcard(
        betcard_snapshot_for_placement(order.betcard_code, order.bet_ids),
        order,
        operator,
        clock.now(),
    )
    check_event_count(card, order)
    sale = _Sale(
        operator=operator,
        card=card,
        order=order,
        receipt=receipt,
        taxes=creation_taxes(
            price=order.price,
            ext_percent=operator.ext_percent,
            ext_type=operator.ext_type,
            wht_percent=operator.wht_percent,
            aff_comm_percent=operator.aff_comm_percent,
            atag=order.atag,
        ),
        limits=PlayerLimits.of(operator, order, betcard_id=card.id, now=clock.now()),
    )
    for _ in range(settings.TICKET_CODE_ATTEMPTS):
        try:
            written = sale.decide_and_write()
        except IntegrityError as error:
            # The one unique index a write can hit (receipts do not raise: ON CONFLICT) is
            # the ticket's: its code (or, far less likely, id) is taken. New ones.
            if not isinstance(error.__cause__, UniqueViolation):
                raise
            continue
        if written is Outcome.RECEIPT_TAKEN:
            earlier = earlier_answer(operator_id=operator.pk, keys=receipt)  # or 128 / 132
            if earlier is None:
                raise RuntimeError("a receipt key was taken, yet no receipt holds it")
            return PlacedTicket(ticket=earlier.ticket, body=earlier.body, replayed=True)
        assert isinstance(written, PlacedTicket)
        return written
    raise DuplicateTicketCode()


class _Sale:
    """One placement past the checks that need no event: what remains is deciding on the
    events (and the player's counters) and writing."""

    def __init__(
        self,
        *,
        operator: Operator,
        card: BetcardSnapshot,
        order: TicketOrder,
        receipt: WriteKeys,
        taxes: CreationTaxes,
        limits: PlayerLimits | None,
    ) -> None:
        self.operator = operator
        self.card = card
        self.order = order
        self.receipt = receipt
        self.taxes = taxes
        self.limits = limits
        self.reservation = (
            dt.timedelta(minutes=operator.reservation_minutes)
            if receipt.endpoint == WriteEndpoint.RESERVE
            else None
        )

    def decide_and_write(self) -> PlacedTicket | Outcome:
        """Decide on the kept card's bets and write; if a bet moved meanwhile, decide again
        on the bets read locked, in a transaction, and write again."""
        with self._player() as counters:
            written = self._write(self.card.bets, counters)
            if written is not Outcome.BETS_MOVED:
                return written
        with self._player(locked_bets=True) as counters:
            written = self._write(bets_for_placement(self.order.bet_ids), counters)
        if written is Outcome.BETS_MOVED:
            raise RuntimeError("locked bets changed inside their transaction")
        return written

    @contextlib.contextmanager
    def _player(self, *, locked_bets: bool = False) -> Iterator[PlayerCounters | None]:
        """Where the write runs: a statement of its own, or a transaction when bets are read
        locked or the operator has player limits (which holds the player's lock and gives
        the counters)."""
        if self.limits is None:
            with transaction.atomic(durable=True) if locked_bets else own_statement():
                yield None
            return
        with transaction.atomic(durable=True):
            yield player_counters(self.limits)

    def _write(
        self, bets: Mapping[int, BetSnapshot], counters: PlayerCounters | None
    ) -> PlacedTicket | Outcome:
        created = clock.now()
        chosen = check_selections(self.card, self.order, bets, created)  # 103-110
        if self.limits is not None and counters is not None:
            check_player_limits(self.limits, counters)  # 130, 131
        ticket = ticket_new(
            operator=self.operator,
            card=self.card,
            order=self.order,
            taxes=self.taxes,
            chosen=chosen,
            reservation=self.reservation,
            created=created,
        )
        body = ticket_body(ticket, self.card.code)
        keys = self.receipt
        return ticket_write(
            Decided(
                ticket=ticket,
                order=self.order,
                chosen=chosen,
                body=body,
                receipt=(
                    receipt_row(keys=keys, ticket=ticket, response=body, now=created)
                    if keys.keyed
                    else None
                ),
            )
        )
