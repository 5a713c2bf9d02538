"""Back office for tickets and PAM webhook deliveries (Django admin), and what tickets add to
the betcard page (sales figures, settlement: `betcard_sales`, which extends the betcards
app's page: the arrows point tickets → betcards, never back)."""

from tickets.admin import betcard_sales, deliveries, tickets

__all__ = ["betcard_sales", "deliveries", "tickets"]
