"""State builders only the back-office tests need (rows the engine's services normally write)."""

from __future__ import annotations

from django.utils import timezone

from betcards.models import Betcard, BetcardEvent
from betcards.results import market_result_set
from tickets.models import DeliveryStatus, Ticket, WebhookAttempt, WebhookDelivery


def delivery_for(
    ticket: Ticket,
    *,
    action: str = "ticket_create",
    status: str = DeliveryStatus.PENDING,
    attempts: int = 0,
) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.create(
        ticket=ticket,
        operator_id=ticket.operator_id,
        action=action,
        dedupe_key=action,
        body=f'{{"action":"{action}","data":{{}}}}',
        status=status,
        attempts_count=attempts,
        next_attempt_at=timezone.now(),
    )
    WebhookAttempt.objects.bulk_create(
        WebhookAttempt(
            delivery=delivery,
            number=number,
            started_at=timezone.now(),
            http_status=503,
            latency_ms=12,
            outcome="retryable",
            error="HTTP 503",
            response_excerpt="busy",
        )
        for number in range(1, attempts + 1)
    )
    return delivery


def home_wins_everywhere(card: Betcard) -> None:
    """Enter `1` (the factory's bet event.id*10) as the result of every event of the card."""
    for entry in BetcardEvent.objects.filter(betcard=card).select_related("event"):
        market = entry.event.markets.get()
        market_result_set(
            market=market, winning_bet=market.bets.get(name="1"), void=False, source="admin"
        )
