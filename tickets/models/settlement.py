"""Settlement rounds and their frozen prize tiers (contract.md § Settlement)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Settlement(models.Model):
    """One grading round of a betcard: number 1 settles it, each later one is a resettlement.

    The tiers are frozen with the round, so a run that is killed and started again pays
    the same shares.
    """

    betcard = models.ForeignKey(
        "betcards.Betcard",
        on_delete=models.PROTECT,
        related_name="settlements",
        db_comment="Betcard graded",
    )
    number = models.PositiveIntegerField(
        db_comment="Round: 1 = first settlement, 2+ = resettlements after a result correction"
    )
    all_void = models.BooleanField(
        default=False, db_comment="Every event was void: tickets are void and refunded"
    )
    results = models.JSONField(
        default=dict,
        db_comment="Event results graded in this round, frozen with the tiers: lists of ids "
        "(event_ids, void_event_ids, winning_bet_ids, void_bet_ids, matching_bet_ids)",
    )
    reason = models.TextField(blank=True, db_comment="Why the card was resettled; empty for 1")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_comment="Staff user who asked for the round; null from the command line",
    )
    override_closed = models.BooleanField(
        default=False,
        db_comment="Staff override: tickets already closed (final) are regraded too",
    )
    started_at = models.DateTimeField(db_comment="When the round was started (tiers frozen)")
    finished_at = models.DateTimeField(
        null=True, blank=True, db_comment="When every ticket was graded; null while running"
    )

    class Meta:
        db_table_comment = "Settlement rounds of betcards (first settlement and resettlements)"
        constraints = [
            models.UniqueConstraint(fields=["betcard", "number"], name="settlement_round_once"),
        ]

    def __str__(self) -> str:
        return f"settlement {self.number} of betcard {self.betcard_id}"


class SettlementTier(models.Model):
    settlement = models.ForeignKey(
        Settlement, on_delete=models.CASCADE, related_name="tiers", db_comment="Round"
    )
    misses = models.PositiveIntegerField(db_comment="Misses of the tier's tickets (0 = jackpot)")
    amount = models.BigIntegerField(db_comment="Tier prize in cents (prize or a bonus prize)")
    winners = models.BigIntegerField(db_comment="Tickets sharing the tier")
    share = models.BigIntegerField(db_comment="Each winner's share in cents, floored")
    remainder = models.BigIntegerField(
        db_comment="amount - share * winners: cents not paid (the whole amount without winners)"
    )

    class Meta:
        db_table_comment = "Prize tiers of a settlement round, frozen when the round starts"
        constraints = [
            models.UniqueConstraint(fields=["settlement", "misses"], name="tier_once_per_round"),
            models.CheckConstraint(
                condition=Q(amount=F("share") * F("winners") + F("remainder")),
                name="tier_shares_plus_remainder_is_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"tier {self.misses} of {self.settlement_id}"
