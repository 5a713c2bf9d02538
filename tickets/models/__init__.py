"""The tickets app's tables: tickets and selections, the PAM webhook outbox, settlement rounds."""

from tickets.models.settlement import Settlement, SettlementTier
from tickets.models.tickets import (
    Selection,
    SelectionResult,
    Ticket,
    TicketResult,
    TicketStatus,
)
from tickets.models.webhooks import (
    DeliveryStatus,
    WebhookAction,
    WebhookAttempt,
    WebhookDelivery,
)

__all__ = [
    "DeliveryStatus",
    "Selection",
    "SelectionResult",
    "Settlement",
    "SettlementTier",
    "Ticket",
    "TicketResult",
    "TicketStatus",
    "WebhookAction",
    "WebhookAttempt",
    "WebhookDelivery",
]
