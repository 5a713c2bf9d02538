"""The catalogue (teams, events, bookmaker events, markets, bets) and betcards (jackpots).

Catalogue ids are the feed's own integer ids (given by `import_catalogue`), so an operator's
`events[].id` and `bet` values are the same numbers everywhere.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q


class Team(models.Model):
    id = models.BigIntegerField(primary_key=True, db_comment="Team id from the catalogue feed")
    name = models.CharField(max_length=200, db_comment="Team name")
    is_active = models.BooleanField(
        default=True, db_comment="Disabled teams make their events unsellable (code 105)"
    )

    class Meta:
        db_table_comment = "Sides in events (catalogue)"

    def __str__(self) -> str:
        return self.name


class Event(models.Model):
    id = models.BigIntegerField(primary_key=True, db_comment="Event id from the catalogue feed")
    home_team = models.ForeignKey(
        Team, on_delete=models.PROTECT, related_name="+", db_comment="Home side"
    )
    away_team = models.ForeignKey(
        Team, on_delete=models.PROTECT, related_name="+", db_comment="Away side"
    )
    starts_at = models.DateTimeField(db_comment="Kick-off time (UTC); sales stop at this moment")

    class Meta:
        db_table_comment = "Fixtures (home team vs away team) with a start time"
        constraints = [
            models.CheckConstraint(
                condition=~Q(home_team=F("away_team")), name="event_home_differs_from_away"
            ),
        ]
        indexes = [models.Index(fields=["starts_at"], name="event_starts_at_idx")]

    def __str__(self) -> str:
        # Load with select_related("home_team", "away_team") wherever events are listed.
        return f"{self.id}: {self.home_team.name} v {self.away_team.name}"


class BookmakerEvent(models.Model):
    event = models.OneToOneField(
        Event,
        on_delete=models.CASCADE,
        related_name="bookmaker_event",
        db_comment="Event this odds-feed record prices",
    )
    external_id = models.CharField(
        max_length=100, unique=True, db_comment="Odds feed's identifier, e.g. bm-9911"
    )

    class Meta:
        db_table_comment = "Odds-feed records; an event without one cannot be sold (code 108)"

    def __str__(self) -> str:
        return self.external_id


class Market(models.Model):
    id = models.BigIntegerField(primary_key=True, db_comment="Market id from the catalogue feed")
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="markets", db_comment="Event of the market"
    )
    name = models.CharField(max_length=100, db_comment="Betting question, e.g. 1X2")
    is_blocked = models.BooleanField(
        default=False, db_comment="Blocked markets take no tickets (code 109)"
    )
    winning_bet = models.ForeignKey(
        "Bet",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_comment="Result: the winning bet; null while unknown or when void",
    )
    is_void = models.BooleanField(
        default=False, db_comment="Result: void, matched for every ticket at settlement"
    )
    result_set_at = models.DateTimeField(
        null=True, blank=True, db_comment="When the current result was entered"
    )
    result_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_comment="Staff user who entered the current result; null for imports",
    )

    class Meta:
        db_table_comment = "Betting questions on events; each has bets and, later, a result"
        constraints = [
            models.CheckConstraint(
                condition=~(Q(is_void=True) & Q(winning_bet__isnull=False)),
                name="market_result_void_xor_winner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.event_id})"

    @property
    def has_result(self) -> bool:
        return self.is_void or self.winning_bet_id is not None


class Bet(models.Model):
    id = models.BigIntegerField(
        primary_key=True, db_comment="Bet id from the catalogue feed, unique across the system"
    )
    market = models.ForeignKey(
        Market, on_delete=models.CASCADE, related_name="bets", db_comment="Market of the bet"
    )
    name = models.CharField(max_length=100, db_comment="Outcome label, e.g. 1, X, 2")
    odds = models.DecimalField(max_digits=10, decimal_places=3, db_comment="Current decimal odds")

    class Meta:
        db_table_comment = "Outcomes of markets with their current decimal odds"
        constraints = [
            models.CheckConstraint(condition=Q(odds__gte=1), name="bet_odds_at_least_1"),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.odds}"


class MarketResultChange(models.Model):
    """Audit trail: every time a market's result is set or changed, and by whom."""

    market = models.ForeignKey(
        Market, on_delete=models.CASCADE, related_name="result_changes", db_comment="Market"
    )
    winning_bet = models.ForeignKey(
        Bet,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_comment="Winning bet set by this change; null when void or cleared",
    )
    is_void = models.BooleanField(default=False, db_comment="Void set by this change")
    changed_at = models.DateTimeField(auto_now_add=True, db_comment="When the change was made")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_comment="Staff user; null for import_catalogue",
    )
    source = models.CharField(max_length=20, db_comment="admin or import")
    reason = models.TextField(blank=True, db_comment="Why the result was changed, if given")

    class Meta:
        db_table_comment = "Audit of market results: who set or changed them and when"

    def __str__(self) -> str:
        return f"result change of market {self.market_id} at {self.changed_at}"


class BetcardStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"
    SETTLED = "settled", "Settled"


class Betcard(models.Model):
    code = models.CharField(max_length=32, unique=True, db_comment="Public code, e.g. ABC123")
    name = models.CharField(max_length=200, db_comment="Display name")
    operator = models.ForeignKey(
        "operators.Operator",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="betcards",
        db_comment="Only this operator may sell it; null means every operator",
    )
    currency = models.CharField(max_length=3, db_comment="ISO 4217 currency of price and prizes")
    price = models.BigIntegerField(db_comment="Ticket price in cents")
    prize = models.BigIntegerField(db_comment="Jackpot prize (0 misses) in cents")
    bonus_prizes = ArrayField(
        models.BigIntegerField(),
        default=list,
        blank=True,
        db_comment="Bonus prizes in cents: [0] for 1 miss, [1] for 2 misses, ...",
    )
    min_events = models.PositiveIntegerField(
        null=True,
        blank=True,
        db_comment="Fewest events a ticket must pick; null means all events (code 118)",
    )
    opens_at = models.DateTimeField(db_comment="Sales open at")
    closes_at = models.DateTimeField(
        null=True, blank=True, db_comment="Sales close at; null means at the first kick-off"
    )
    status = models.CharField(
        max_length=10,
        choices=BetcardStatus.choices,
        default=BetcardStatus.DRAFT,
        db_comment="draft, open (selling), closed (no sales), settled (prizes paid)",
    )
    settled_at = models.DateTimeField(null=True, blank=True, db_comment="When the card was settled")
    offer_version = models.BigIntegerField(
        default=1,
        db_comment="Set from betcards_offer_version_seq whenever anything the Bet Card API shows "
        "of the card changes (odds, blocking, status, results, names...): kept answers "
        "(betcards_cardoffer) of another version are stale",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_comment="When the row was created")
    updated_at = models.DateTimeField(auto_now=True, db_comment="When the row last changed")
    events = models.ManyToManyField(Event, through="BetcardEvent", related_name="betcards")

    class Meta:
        db_table_comment = "Jackpots: a fixed list of events with a price and prize tiers"
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="betcard_price_positive"),
            models.CheckConstraint(condition=Q(prize__gte=0), name="betcard_prize_not_negative"),
            models.CheckConstraint(
                condition=Q(min_events__isnull=True) | Q(min_events__gte=1),
                name="betcard_min_events_positive",
            ),
            models.CheckConstraint(
                condition=Q(closes_at__isnull=True) | Q(closes_at__gt=F("opens_at")),
                name="betcard_closes_after_opens",
            ),
            models.CheckConstraint(
                condition=Q(status__in=BetcardStatus.values), name="betcard_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="betcard_currency_iso"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class BetcardEvent(models.Model):
    betcard = models.ForeignKey(
        Betcard, on_delete=models.CASCADE, related_name="card_events", db_comment="Betcard"
    )
    event = models.ForeignKey(
        Event, on_delete=models.PROTECT, related_name="card_entries", db_comment="Event"
    )
    position = models.PositiveIntegerField(db_comment="Order of the event on the card, from 1")

    class Meta:
        db_table_comment = "Events of a betcard, in card order"
        ordering = ["betcard", "position"]
        constraints = [
            models.UniqueConstraint(fields=["betcard", "event"], name="betcard_event_once"),
            models.UniqueConstraint(fields=["betcard", "position"], name="betcard_position_once"),
        ]

    def __str__(self) -> str:
        return f"{self.betcard_id}#{self.position}: {self.event_id}"


class CardOffer(models.Model):
    """A card as the Bet Card API answers it, kept until the card changes (betcards.offers)."""

    betcard = models.ForeignKey(
        Betcard, on_delete=models.CASCADE, related_name="offers", db_comment="Betcard"
    )
    timezone = models.CharField(
        max_length=64, db_comment="IANA time zone of the operator_time_* fields of the body"
    )
    version = models.BigIntegerField(
        db_comment="The card's offer_version the body was built from: stale once they differ"
    )
    etag = models.CharField(max_length=80, db_comment="HTTP ETag of the body (quoted)")
    body = models.TextField(db_comment="Exact JSON answer of GET /bc/jackpots/{code}")
    built_at = models.DateTimeField(db_comment="When the body was built")

    class Meta:
        db_table_comment = (
            "Bet Card API answers, one per card and time zone, rebuilt when the card changes"
        )
        constraints = [
            models.UniqueConstraint(fields=["betcard", "timezone"], name="card_offer_once_per_zone")
        ]

    def __str__(self) -> str:
        return f"{self.betcard_id} in {self.timezone} (version {self.version})"
