"""One receipt per write: its first answer, and every key a repeat of it may carry
(contract.md § Replays, § Idempotency, § Pay later)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from tickets.models.tickets import Ticket


class WriteEndpoint(models.TextChoices):
    PLACE = "place", "POST /be/tickets"
    RESERVE = "reserve", "POST /be/tickets/reserve"
    PAID = "paid", "POST /be/tickets/{identifier}/paid"


class WriteReceipt(models.Model):
    """The first answer to a write, found again by any key a repeat carries: the request's
    signature (a replay, kept for the signature's skew window), its Idempotency-Key, or the
    purchase's `reference`. Written with the ticket, in the same statement; a repeat is
    answered with `response` and creates nothing, a key reused for another request is a 409."""

    operator = models.ForeignKey(
        "operators.Operator",
        on_delete=models.PROTECT,
        related_name="+",
        db_comment="Operator that sent the request",
    )
    endpoint = models.CharField(
        max_length=10, choices=WriteEndpoint.choices, db_comment="place, reserve or paid"
    )
    fingerprint = models.CharField(
        max_length=64,
        blank=True,
        db_comment="What was asked (SHA-256 of the body; paid: the ticket identifier): a "
        "key repeated with another one is a 409",
    )
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="+", db_comment="The ticket written"
    )
    response = models.TextField(
        db_comment="Exact JSON body of the first 200 answer (empty for keys carried from "
        "before receipts kept it: the ticket is rendered again)"
    )
    created_at = models.DateTimeField(db_comment="When the write was answered")
    signature = models.CharField(
        max_length=300,
        null=True,
        blank=True,
        db_comment="`<endpoint>:<target>:<signature hex>` of the signed request, until "
        "signature_expires_at; then null",
    )
    signature_expires_at = models.DateTimeField(
        null=True,
        blank=True,
        db_comment="After this a replay is refused by its timestamp anyway: the signature "
        "is forgotten (the row too, when it has no other key)",
    )
    idempotency_key = models.CharField(
        max_length=270,
        null=True,
        blank=True,
        db_comment="`purchase:<Idempotency-Key>` (placement, reservation) or "
        "`paid:<Idempotency-Key>`; null when none was sent",
    )
    reference = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        db_comment="The purchase's `reference`; null when none was sent",
    )

    class Meta:
        db_table_comment = (
            "One row per write: its first answer, found again by the request's signature, "
            "Idempotency-Key or reference; a repeat is answered with it and creates nothing"
        )
        constraints = [
            models.UniqueConstraint(
                fields=["operator", "signature"],
                condition=Q(signature__isnull=False),
                name="write_receipt_signature_once",
            ),
            models.UniqueConstraint(
                fields=["operator", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="write_receipt_idempotency_key_once",
            ),
            models.UniqueConstraint(
                fields=["operator", "reference"],
                condition=Q(reference__isnull=False),
                name="write_receipt_reference_once",
            ),
        ]
        indexes = [
            models.Index(
                fields=["signature_expires_at"],
                condition=Q(signature_expires_at__isnull=False),
                name="write_receipt_expiry_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} receipt of {self.ticket_id}"
