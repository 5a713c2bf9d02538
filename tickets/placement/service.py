"""Ticket placement: `ticket_place()` (contract.md § POST /be/tickets, § Pay later: a
reservation is placed the same way, and § Replays).

Fetch once, decide purely, write once. The checks run in the contract's documented order
(`tickets.placement.checks`): 115/114 (operator), idempotent replay, 104 (no events), 119-127
(betcard), 118 (too few events), then per event in request order 103, 105, 108, 106, 107,
109, 110; then the player limits 130, 131 (`tickets.placement.limits`); 111 only when every
ticket code attempt collides. Nothing is written unless every check passes.

Queries for any number of events: the betcard with its events and the chosen bets (none
when this process keeps the card, betcards.snapshots; else 1, no lock), then one INSERT
statement, committed on its own, that locks those bets and markets
`FOR SHARE` and writes the ticket, its selections and the `ticket_create` outbox row only if
they still hold the values the checks passed on (1); plus 1 for a given Idempotency-Key.
Only when a bet changed in between (odds moved, market blocked) does placement fall back to
a transaction that reads them locked and checks again (2 more, and BEGIN/COMMIT).
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from betcards.snapshots import betcard_snapshot_for_placement, bets_for_placement
from jackpot.core import clock
from jackpot.core.errors import ContractError, DuplicateTicketCode
from operators.models import Operator
from operators.taxes import creation_taxes
from tickets.models import Ticket, WriteEndpoint
from tickets.placement.checks import (
    check_betcard,
    check_event_count,
    check_events_present,
    check_operator,
)
from tickets.placement.idempotency import IDEMPOTENCY_CONSTRAINT, placement_for_key
from tickets.placement.limits import PlayerLimits, check_player_limits, player_lock
from tickets.placement.order import PlacedTicket, TicketOrder, TicketRenderer
from tickets.placement.write import Placement, own_statement, write_if_bets_unchanged
from tickets.receipts import RECEIPT_CONSTRAINT, receipt_get, signature_key, violation


def ticket_place(
    *,
    operator: Operator,
    order: TicketOrder,
    idempotency_key: str | None,
    fingerprint: str,
    render: TicketRenderer,
    endpoint: WriteEndpoint = WriteEndpoint.PLACE,
    replay_key: str | None = None,
) -> PlacedTicket:
    """Place a jackpot ticket (or, with `endpoint` RESERVE, reserve one: pay later) for an
    authenticated operator, or raise its ContractError.

    With an `idempotency_key` already used by this operator, nothing is created: the same
    `fingerprint` (hash of the request body) replays the first answer, another one raises
    IdempotencyKeyReused (409). A key used only by failed attempts is free (nothing was
    stored), so a rejected request may be retried with its key. A request whose signature
    (`replay_key`) repeats an answered one's gets that answer (`tickets.receipts`).
    """
    try:
        return _place(
            operator=operator,
            order=order,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            render=render,
            endpoint=endpoint,
            replay_key=replay_key,
        )
    except ContractError:
        earlier = None if replay_key is None else _replayed(operator, replay_key, endpoint)
        if earlier is None:
            raise
        return earlier


def _replayed(operator: Operator, replay_key: str, endpoint: WriteEndpoint) -> PlacedTicket | None:
    receipt = receipt_get(operator_id=operator.pk, key=signature_key(replay_key, endpoint))
    if receipt is None:
        return None
    return PlacedTicket(ticket=receipt.ticket, body=receipt.response.encode(), replayed=True)


def _place(
    *,
    operator: Operator,
    order: TicketOrder,
    idempotency_key: str | None,
    fingerprint: str,
    render: TicketRenderer,
    endpoint: WriteEndpoint,
    replay_key: str | None,
) -> PlacedTicket:
    check_operator(operator, order)
    if idempotency_key is not None:
        earlier = placement_for_key(operator, idempotency_key, fingerprint, render)
        if earlier is not None:
            return earlier
    check_events_present(order)
    card = betcard_snapshot_for_placement(order.betcard_code, order.bet_ids)
    card = check_betcard(card, order, operator, clock.now())
    check_event_count(card, order)
    placement = Placement(
        operator=operator,
        card=card,
        order=order,
        taxes=creation_taxes(
            price=order.price,
            ext_percent=operator.ext_percent,
            ext_type=operator.ext_type,
            wht_percent=operator.wht_percent,
            aff_comm_percent=operator.aff_comm_percent,
            atag=order.atag,
        ),
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        render=render,
        endpoint=endpoint,
        replay_key=replay_key,
        limits=PlayerLimits.of(operator, order, betcard_id=card.id, now=clock.now()),
    )
    return _write(placement)


def _write(placement: Placement) -> PlacedTicket:
    """Write the ticket, with a new code after a collision (111 when every attempt
    collides), and on locked bets when one changed since the read."""
    for _ in range(settings.TICKET_CODE_ATTEMPTS):
        try:
            if placement.limits is None:
                return _write_once(placement)
            return _write_within_limits(placement, placement.limits)
        except IntegrityError as error:
            table, constraint = violation(error)
            if constraint == RECEIPT_CONSTRAINT and placement.replay_key is not None:
                # A copy of this request (same signature) committed first: its answer.
                replayed = _replayed(placement.operator, placement.replay_key, placement.endpoint)
                if replayed is None:
                    raise
                return replayed
            key = placement.idempotency_key
            if constraint == IDEMPOTENCY_CONSTRAINT and key is not None:
                # A concurrent request with the same key committed first; our insert waited
                # for it on the unique index. Answer as a replay of the winner.
                winner = placement_for_key(
                    placement.operator, key, placement.fingerprint, placement.render
                )
                if winner is None:
                    raise
                return winner
            if table != Ticket._meta.db_table:
                raise
            # A ticket code (or, far less likely, id) collision: retry with new ones.
    raise DuplicateTicketCode()


def _write_once(placement: Placement) -> PlacedTicket:
    """One statement, committed on its own; a transaction on locked bets if one changed."""
    with own_statement():
        placed = write_if_bets_unchanged(placement, placement.card.bets)
    if placed is None:
        # A bet or market changed since the read: check again on locked values.
        with transaction.atomic(durable=True):
            locked = bets_for_placement(placement.order.bet_ids)
            placed = write_if_bets_unchanged(placement, locked)
    if placed is None:
        raise RuntimeError("locked bets changed inside their transaction")
    return placed


def _write_within_limits(placement: Placement, limits: PlayerLimits) -> PlacedTicket:
    """In one transaction holding the player's lock (tickets.placement.limits): the write,
    which counts the player's tickets; if it wrote nothing, a changed bet (checked again,
    locked: 103-110 first) or a limit (130, 131) is why."""
    with transaction.atomic(durable=True):
        player_lock(limits)
        placed = write_if_bets_unchanged(placement, placement.card.bets)
        if placed is None:  # 103-110 come first: check the bets again, locked
            locked = bets_for_placement(placement.order.bet_ids)
            placed = write_if_bets_unchanged(placement, locked)
            if placed is None:
                check_player_limits(limits)
    if placed is None:
        raise RuntimeError("locked bets changed, or limits moved, under the player's lock")
    return placed
