"""Operators: the betting sites that sell jackpot tickets through the API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cached_property

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from operators.secrets import decrypt_secret, encrypt_secret


class Signing(models.TextChoices):
    BETSTACK = "betstack", "betstack: white space removed from the body before signing"
    STRICT = "strict", "strict: the exact bytes of the body"


class ExciseType(models.TextChoices):
    INCLUSIVE = "inclusive", "Inclusive (taken out of the price)"
    EXCLUSIVE = "exclusive", "Exclusive (charged on top of the price)"


def _percent_field(
    comment: str, *, null: bool = False, default: Decimal | None = None
) -> models.DecimalField:  # type: ignore[type-arg]
    return models.DecimalField(
        max_digits=5, decimal_places=2, null=null, blank=null, default=default, db_comment=comment
    )


class Operator(models.Model):
    name = models.CharField(
        max_length=100, unique=True, db_comment="Operator name, sent in the operator-name header"
    )
    secret_key_encrypted = models.TextField(
        db_comment="HMAC secret key, Fernet-encrypted with OPERATOR_SECRET_ENCRYPTION_KEY"
    )
    previous_secret_key_encrypted = models.TextField(
        blank=True,
        db_comment="The secret key before the last rotation, Fernet-encrypted; it verifies "
        "requests (and signs webhooks beside the new one) until previous_secret_valid_until",
    )
    previous_secret_valid_until = models.DateTimeField(
        null=True,
        blank=True,
        db_comment="End of the last rotation's grace period; null: the previous key is void",
    )
    signing = models.CharField(
        max_length=8,
        choices=Signing.choices,
        default=Signing.BETSTACK,
        db_comment="How requests and webhooks are signed: betstack (white space removed from "
        "the body) or strict (the exact bytes sent)",
    )
    webhook_url = models.URLField(
        max_length=500, blank=True, db_comment="PAM webhook URL; empty means none (code 114)"
    )
    timezone = models.CharField(
        max_length=64, default="UTC", db_comment="IANA time zone for operator_time_* fields"
    )
    ext_percent = _percent_field("Excise percent, 0-100", default=Decimal(0))
    ext_type = models.CharField(
        max_length=9,
        choices=ExciseType.choices,
        default=ExciseType.INCLUSIVE,
        db_comment="Excise type: inclusive or exclusive",
    )
    wht_percent = _percent_field("Withholding tax percent on winnings, 0-100", default=Decimal(0))
    currencies = ArrayField(
        models.CharField(max_length=3),
        default=list,
        blank=True,
        db_comment="Allowed ISO 4217 currencies; empty means any",
    )
    aff_comm_percent = _percent_field(
        "Affiliate instant commission percent of stake, null when not configured", null=True
    )
    rate_limit = models.PositiveIntegerField(
        default=100,
        db_comment="Requests per second on /be/ and /bc/ together, across every node; 0: none",
    )
    max_tickets_per_player = models.PositiveIntegerField(
        null=True,
        blank=True,
        db_comment="Reserved and open tickets one player (token) may hold on one card; null: none",
    )
    max_daily_spend = models.BigIntegerField(
        null=True,
        blank=True,
        db_comment="Cents one player (token) may spend per day in the operator's time zone, on "
        "tickets not cancelled; null: none",
    )
    reservation_minutes = models.PositiveIntegerField(
        default=30,
        db_comment="How long a reservation (POST /be/tickets/reserve) waits to be paid, minutes",
    )
    is_active = models.BooleanField(default=True, db_comment="Inactive operators get 403")
    created_at = models.DateTimeField(auto_now_add=True, db_comment="When the row was created")
    updated_at = models.DateTimeField(auto_now=True, db_comment="When the row last changed")

    class Meta:
        db_table_comment = "Betting sites that sell jackpot tickets through the API"
        constraints = [
            models.CheckConstraint(
                condition=Q(ext_percent__gte=0, ext_percent__lte=100), name="operator_ext_0_100"
            ),
            models.CheckConstraint(
                condition=Q(wht_percent__gte=0, wht_percent__lte=100), name="operator_wht_0_100"
            ),
            models.CheckConstraint(
                condition=Q(aff_comm_percent__isnull=True)
                | Q(aff_comm_percent__gte=0, aff_comm_percent__lte=100),
                name="operator_aff_comm_0_100",
            ),
            models.CheckConstraint(
                condition=Q(ext_type__in=ExciseType.values), name="operator_ext_type_valid"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="operator_name_not_empty"),
            models.CheckConstraint(
                condition=Q(max_daily_spend__isnull=True) | Q(max_daily_spend__gte=0),
                name="operator_max_daily_spend_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @cached_property
    def secret_key(self) -> str:
        """The plain secret, decrypted on first use and kept for this instance only."""
        return decrypt_secret(self.secret_key_encrypted)

    def set_secret_key(self, plain: str) -> None:
        self.secret_key_encrypted = encrypt_secret(plain)
        self.__dict__["secret_key"] = plain

    @cached_property
    def previous_secret_key(self) -> str | None:
        """The secret before the last rotation, while a grace period was given (expired or
        not: `secrets_at` decides)."""
        if not self.previous_secret_key_encrypted or self.previous_secret_valid_until is None:
            return None
        return decrypt_secret(self.previous_secret_key_encrypted)

    def secrets_at(self, now: dt.datetime) -> list[str]:
        """The secrets that sign and verify at `now`, newest first: the current one, and the
        previous one until its grace period ends (exactly: not at its end)."""
        previous = self.previous_secret_key
        valid_until = self.previous_secret_valid_until
        if previous is None or valid_until is None or now >= valid_until:
            return [self.secret_key]
        return [self.secret_key, previous]


class SecretRotation(models.Model):
    """A record of every secret rotation: who, when, and until when the old key worked."""

    operator = models.ForeignKey(
        Operator,
        on_delete=models.PROTECT,
        related_name="secret_rotations",
        db_comment="Operator whose secret key was rotated",
    )
    rotated_at = models.DateTimeField(db_comment="When the new key was issued")
    rotated_by = models.CharField(
        max_length=150,
        db_comment="Who rotated it: a staff user's username, or `command:<name>`",
    )
    grace_until = models.DateTimeField(
        db_comment="Until when the previous key still verified (equal to rotated_at: no grace)"
    )

    class Meta:
        db_table_comment = (
            "Every rotation of an operator's secret key (the keys are never stored here)"
        )
        ordering = ["-rotated_at"]

    def __str__(self) -> str:
        return f"{self.operator} rotated at {self.rotated_at:%Y-%m-%d %H:%M} by {self.rotated_by}"
