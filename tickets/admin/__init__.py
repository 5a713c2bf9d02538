"""Back office for tickets and PAM webhook deliveries (Django admin), and what tickets add to
the betcard page (sales figures, settlement: `betcard_sales`) and to the operator page
(today's top players: `operator_players`); both extend the other app's page, so the arrows
point tickets → betcards/operators, never back."""

from tickets.admin import betcard_sales, deliveries, operator_players, tickets

__all__ = ["betcard_sales", "deliveries", "operator_players", "tickets"]
