"""PAM webhook deliveries and every attempt (contract.md § PAM webhooks).

The webhook tables are a transactional outbox: a delivery row is written in the same
transaction as the change it reports, and Celery workers send it (`tickets.outbox`).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from tickets.models.tickets import Ticket


class WebhookAction(models.TextChoices):
    TICKET_CREATE = "ticket_create"
    TICKET_RESERVE = "ticket_reserve"
    TICKET_DISCARD = "ticket_discard"
    TICKET_REFUND = "ticket_refund"
    TICKET_WIN = "ticket_win"
    TICKET_LOST = "ticket_lost"
    TICKET_VOID = "ticket_void"
    TICKET_CLOSED = "ticket_closed"
    TICKET_ROLLBACK = "ticket_rollback"
    TEST = "test"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending (due at next_attempt_at)"
    DELIVERED = "delivered", "Delivered (PAM answered 2xx)"
    FAILED = "failed", "Failed (refused or retries exhausted)"


class WebhookDelivery(models.Model):
    ticket = models.ForeignKey(
        Ticket,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="deliveries",
        db_comment="Ticket the webhook reports; null for test webhooks",
    )
    operator = models.ForeignKey(
        "operators.Operator",
        on_delete=models.PROTECT,
        related_name="deliveries",
        db_comment="Operator whose PAM receives it",
    )
    action = models.CharField(
        max_length=20, choices=WebhookAction.choices, db_comment="Webhook action name"
    )
    dedupe_key = models.CharField(
        max_length=64,
        db_comment="Unique per ticket: action plus a round number, so nothing is queued twice",
    )
    # Text, not jsonb: jsonb reorders keys, and the PAM gets fields in the documented order.
    body = models.TextField(
        db_comment="Exact compact JSON body sent ({action, data}), fields in contract order"
    )
    status = models.CharField(
        max_length=10,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
        db_comment="pending, delivered or failed",
    )
    attempts_count = models.PositiveIntegerField(default=0, db_comment="Attempts made so far")
    next_attempt_at = models.DateTimeField(db_comment="When the next attempt is due")
    lease_until = models.DateTimeField(
        null=True, blank=True, db_comment="A worker holds the row until then (no double send)"
    )
    retry_deadline = models.DateTimeField(
        null=True, blank=True, db_comment="Retries on errors stop after this; null: forever"
    )
    delivered_at = models.DateTimeField(null=True, blank=True, db_comment="When PAM said 2xx")
    last_error = models.TextField(blank=True, db_comment="Last failure, for the back office")
    created_at = models.DateTimeField(auto_now_add=True, db_comment="When queued")
    updated_at = models.DateTimeField(auto_now=True, db_comment="When the row last changed")

    class Meta:
        db_table_comment = "PAM webhooks to send (transactional outbox), one row per webhook"
        verbose_name_plural = "webhook deliveries"
        permissions = [("retry_webhookdelivery", "Can retry a webhook delivery now")]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "dedupe_key"],
                condition=Q(ticket__isnull=False),
                name="delivery_once_per_ticket_key",
            ),
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="delivery_status_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_due_idx",
            ),
            models.Index(fields=["status", "-id"], name="delivery_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.ticket_id or ''}"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(
        WebhookDelivery,
        on_delete=models.CASCADE,
        related_name="attempts",
        db_comment="Delivery this attempt belongs to",
    )
    number = models.PositiveIntegerField(db_comment="1 for the first attempt, 2 for the next...")
    started_at = models.DateTimeField(db_comment="When the request was sent")
    http_status = models.PositiveSmallIntegerField(
        null=True, blank=True, db_comment="PAM's HTTP status; null on network error or timeout"
    )
    latency_ms = models.PositiveIntegerField(db_comment="Time to answer or failure, ms")
    outcome = models.CharField(
        max_length=20, db_comment="delivered, refused, retryable (5xx/timeout/network)"
    )
    error = models.TextField(blank=True, db_comment="Error text for failures")
    response_excerpt = models.TextField(
        blank=True, db_comment="First 2000 characters of PAM's answer"
    )

    class Meta:
        db_table_comment = "Every HTTP attempt to deliver a PAM webhook"
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="attempt_number_once"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
