"""Answers kept to answer a write's repeats (contract.md § Replays, § Pay later)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from tickets.models.tickets import Ticket


class WriteEndpoint(models.TextChoices):
    PLACE = "place", "POST /be/tickets"
    RESERVE = "reserve", "POST /be/tickets/reserve"
    PAID = "paid", "POST /be/tickets/{identifier}/paid"


class WriteReceipt(models.Model):
    """The first answer to a write, found again by the request's signature (a replay: kept
    for the signature's skew window) or by a `paid` call's Idempotency-Key (kept). A
    placement's own Idempotency-Key is kept on its ticket (`Ticket.idempotency_key`)."""

    operator = models.ForeignKey(
        "operators.Operator",
        on_delete=models.PROTECT,
        related_name="+",
        db_comment="Operator that sent the request",
    )
    key = models.CharField(
        max_length=300,
        db_comment="`signature:<hex>` of a signed request, or `paid:<Idempotency-Key>`",
    )
    endpoint = models.CharField(
        max_length=10, choices=WriteEndpoint.choices, db_comment="place, reserve or paid"
    )
    fingerprint = models.CharField(
        max_length=64,
        blank=True,
        db_comment="What was asked (paid: the ticket identifier), to refuse a reused key (409)",
    )
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="+", db_comment="The ticket written"
    )
    response = models.TextField(db_comment="Exact JSON body of the first 200 answer")
    created_at = models.DateTimeField(db_comment="When the write was answered")
    expires_at = models.DateTimeField(
        null=True,
        blank=True,
        db_comment="After this a replay is refused by its timestamp anyway and the row is "
        "deleted (signature receipts); null: kept",
    )

    class Meta:
        db_table_comment = (
            "First answers to writes, found again by a replayed signature or a paid "
            "Idempotency-Key: a repeat is answered with them and creates nothing"
        )
        constraints = [
            models.UniqueConstraint(fields=["operator", "key"], name="write_receipt_once"),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=Q(expires_at__isnull=False),
                name="write_receipt_expiry_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.key[:24]}"
