"""Back office for betcards, tickets and PAM webhook deliveries (Django admin).

Betcards are registered here, not in `betcards.admin`, because their pages show ticket
figures and run settlement: the arrows point tickets → betcards, never back.
"""

from tickets.admin import betcards, deliveries, tickets

__all__ = ["betcards", "deliveries", "tickets"]
