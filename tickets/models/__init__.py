"""The tickets app's tables: tickets and selections, the PAM webhook outbox, settlement
rounds, and the answers kept for repeated writes."""

from tickets.models.receipts import WriteEndpoint, WriteReceipt
from tickets.models.settlement import Settlement, SettlementTier
from tickets.models.tickets import (
    TICKET_TYPES,
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
    "TICKET_TYPES",
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
    "WriteEndpoint",
    "WriteReceipt",
]
