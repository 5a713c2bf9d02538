"""Tickets and their selections (contract.md § POST /be/tickets, § Fields)."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, NullIf

from operators.models import ExciseType

TICKET_TYPES = ("jackpot",)
"""The ticket types there are (contract.md § Fields: `type`)."""


class TicketStatus(models.TextChoices):
    RESERVED = "reserved", "Reserved (pay later)"
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed (settled)"
    CANCELLED = "cancelled", "Cancelled"


class TicketResult(models.TextChoices):
    PENDING = "pending", "Pending"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    VOID = "void", "Void"


class Ticket(models.Model):
    id = models.CharField(
        max_length=24,
        primary_key=True,
        db_comment="24 lower-case hex chars; the first 8 are the creation unix time",
    )
    code = models.CharField(
        max_length=6, unique=True, db_comment="6-char upper-case code, unique system-wide"
    )
    operator = models.ForeignKey(
        "operators.Operator",
        on_delete=models.PROTECT,
        related_name="tickets",
        db_comment="Operator that sold the ticket",
    )
    betcard = models.ForeignKey(
        "betcards.Betcard",
        on_delete=models.PROTECT,
        related_name="tickets",
        db_comment="Betcard (jackpot) the ticket enters",
    )
    token = models.CharField(max_length=255, db_comment="Player identification token")
    user_id = models.CharField(
        max_length=255, blank=True, db_comment="Player id from the PAM once known; empty before"
    )
    psp = models.CharField(max_length=100, null=True, blank=True, db_comment="Payment method")
    price = models.BigIntegerField(db_comment="Price paid in cents")
    stake = models.BigIntegerField(db_comment="Stake in cents after excise")
    currency = models.CharField(max_length=3, db_comment="ISO 4217 currency")
    ext_percent = models.DecimalField(
        max_digits=5, decimal_places=2, db_comment="Excise percent snapshotted at creation"
    )
    ext_type = models.CharField(
        max_length=9, choices=ExciseType.choices, db_comment="Excise type snapshotted at creation"
    )
    ext_amount = models.BigIntegerField(db_comment="Excise in cents")
    wht_percent = models.DecimalField(
        max_digits=5, decimal_places=2, db_comment="Withholding tax percent snapshotted"
    )
    wht_amount = models.BigIntegerField(default=0, db_comment="Withholding tax in cents")
    gross_payout = models.BigIntegerField(default=0, db_comment="Prize share in cents")
    net_payout = models.BigIntegerField(default=0, db_comment="gross_payout - wht_amount")
    aff_comm_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        db_comment="Affiliate instant commission percent; null when none",
    )
    aff_comm_amount = models.BigIntegerField(
        null=True, blank=True, db_comment="Affiliate instant commission in cents; null when none"
    )
    atag = models.CharField(max_length=255, null=True, blank=True, db_comment="Affiliate tag")
    rtag = models.CharField(max_length=255, null=True, blank=True, db_comment="Referral tag")
    source = models.CharField(max_length=20, db_comment="Sales channel, e.g. desktop, ussd")
    type = models.CharField(max_length=20, default="jackpot", db_comment="Ticket type: jackpot")
    status = models.CharField(
        max_length=10,
        choices=TicketStatus.choices,
        default=TicketStatus.OPEN,
        db_comment="reserved (pay later, not paid yet), open, closed (settled) or cancelled",
    )
    result = models.CharField(
        max_length=10,
        choices=TicketResult.choices,
        default=TicketResult.PENDING,
        db_comment="pending, won, lost or void",
    )
    approved = models.BooleanField(
        default=True, db_comment="True when accepted; false once cancelled"
    )
    odds = models.DecimalField(
        max_digits=1000, decimal_places=2, db_comment="Product of accepted odds, 2 decimals"
    )
    prize = models.BigIntegerField(db_comment="Betcard prize in cents at placement")
    bonus_prizes = models.JSONField(
        default=list, db_comment="Betcard bonus prizes in cents at placement"
    )
    misses = models.PositiveIntegerField(
        null=True, blank=True, db_comment="Events missed, set at settlement"
    )
    pam_confirmed_at = models.DateTimeField(
        null=True,
        blank=True,
        db_comment="When the PAM accepted ticket_create (or ticket_reserve for a reservation)",
    )
    reserved_until = models.DateTimeField(
        null=True,
        blank=True,
        db_comment="A reservation's expiry: reserved + the operator's reservation_minutes, or "
        "when its card stops selling if sooner; null for tickets sold paid",
    )
    paid_at = models.DateTimeField(
        null=True,
        blank=True,
        db_comment="When the operator reported the reservation paid (POST .../paid)",
    )
    cancel_reason = models.CharField(
        max_length=30,
        blank=True,
        db_comment="pam_refused, pam_unreachable, reservation_expired or staff_cancelled",
    )
    needs_reconciliation = models.BooleanField(
        default=False,
        db_comment="PAM accepted ticket_create after the ticket was discarded: check by hand",
    )
    reference = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        db_comment="The operator's own id of this purchase (`reference` of the request), "
        "unique per operator; null when none was sent",
    )
    created_at = models.DateTimeField(db_comment="Creation time (UTC)")
    updated_at = models.DateTimeField(db_comment="Last change time (UTC)")
    settled_at = models.DateTimeField(
        null=True, blank=True, db_comment="When the current result was decided (graded)"
    )
    settlement_round = models.PositiveIntegerField(
        null=True,
        blank=True,
        db_comment="Settlement round that last graded the ticket: 1 = first settlement, 2+ = "
        "resettlements (tickets_settlement.number)",
    )
    closed_at = models.DateTimeField(
        null=True, blank=True, db_comment="When ticket_closed was sent; final from then on"
    )

    class Meta:
        db_table_comment = "Jackpot tickets sold to players through operators"
        # Tickets are read-only in the back office; cancelling one is its own permission.
        permissions = [
            ("cancel_ticket", "Can cancel a ticket (sends ticket_discard or ticket_refund)")
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="ticket_price_positive"),
            models.CheckConstraint(condition=Q(stake__gte=0), name="ticket_stake_not_negative"),
            models.CheckConstraint(
                condition=Q(ext_amount__gte=0), name="ticket_ext_amount_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(ext_percent__gte=0, ext_percent__lte=100), name="ticket_ext_0_100"
            ),
            models.CheckConstraint(
                condition=Q(wht_percent__gte=0, wht_percent__lte=100), name="ticket_wht_0_100"
            ),
            models.CheckConstraint(
                condition=Q(net_payout=F("gross_payout") - F("wht_amount")),
                name="ticket_net_is_gross_minus_wht",
            ),
            models.CheckConstraint(
                condition=~Q(ext_type="inclusive") | Q(price=F("stake") + F("ext_amount")),
                name="ticket_inclusive_price_is_stake_plus_excise",
            ),
            models.CheckConstraint(
                condition=Q(status__in=TicketStatus.values), name="ticket_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(result__in=TicketResult.values), name="ticket_result_valid"
            ),
            models.CheckConstraint(
                condition=Q(code__regex=r"^[A-Z0-9]{6}$"), name="ticket_code_format"
            ),
            models.CheckConstraint(
                condition=Q(id__regex=r"^[0-9a-f]{24}$"), name="ticket_id_format"
            ),
        ]
        indexes = [
            models.Index(fields=["operator", "-created_at"], name="ticket_operator_created_idx"),
            # Covering: the back office's live betcard figures are an index-only scan.
            models.Index(
                fields=["betcard", "status"],
                include=["price", "stake", "ext_amount"],
                name="ticket_betcard_status_idx",
            ),
            models.Index(fields=["-created_at"], name="ticket_created_idx"),
            # Back-office list filters, newest first (rare values such as cancelled or won
            # would otherwise scan the created_at index a long way).
            models.Index(fields=["status", "-created_at"], name="ticket_status_created_idx"),
            models.Index(fields=["result", "-created_at"], name="ticket_result_created_idx"),
            models.Index(fields=["token"], name="ticket_token_idx"),
            # GET /be/tickets/{reference} and the list's `reference=` (unique: the receipt's)
            models.Index(
                fields=["operator", "reference"],
                condition=Q(reference__isnull=False),
                name="ticket_operator_reference_idx",
            ),
            # GET /be/tickets: keyset pages (id descending) of one operator, one status at a
            # time (tickets.listing merges the statuses asked for), alone, on one card, or of
            # one player (user_id once the PAM gave one, else the token, as answered).
            models.Index(
                F("operator"), F("status"), F("id").desc(), name="ticket_operator_status_idx"
            ),
            models.Index(
                F("operator"),
                F("betcard"),
                F("status"),
                F("id").desc(),
                name="ticket_operator_card_idx",
            ),
            models.Index(
                F("operator"),
                Coalesce(NullIf("user_id", Value("")), "token"),
                F("status"),
                F("id").desc(),
                name="ticket_operator_player_idx",
            ),
            models.Index(
                fields=["reserved_until"],
                condition=Q(status="reserved"),
                name="ticket_reservation_due_idx",
            ),
            models.Index(
                fields=["settled_at"],
                condition=Q(status="closed", closed_at__isnull=True),
                name="ticket_close_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class SelectionResult(models.TextChoices):
    PENDING = "pending", "Pending"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    VOID = "void", "Void"


class Selection(models.Model):
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="selections", db_comment="Ticket"
    )
    event = models.ForeignKey(
        "betcards.Event", on_delete=models.PROTECT, related_name="+", db_comment="Event picked"
    )
    bet = models.ForeignKey(
        "betcards.Bet", on_delete=models.PROTECT, related_name="+", db_comment="Bet chosen"
    )
    odds_submitted = models.DecimalField(
        max_digits=10, decimal_places=3, db_comment="Odds the operator sent"
    )
    odds_accepted = models.DecimalField(
        max_digits=10, decimal_places=3, db_comment="Odds of the bet when the ticket was placed"
    )
    result = models.CharField(
        max_length=10,
        choices=SelectionResult.choices,
        default=SelectionResult.PENDING,
        db_comment="pending, won, lost or void (set at settlement)",
    )

    class Meta:
        db_table_comment = "One chosen bet per event of a ticket"
        constraints = [
            models.UniqueConstraint(fields=["ticket", "event"], name="selection_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.event_id} -> {self.bet_id}"
