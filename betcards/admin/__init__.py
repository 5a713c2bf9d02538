"""The catalogue and betcards in the Django admin (docs/back-office.md)."""

from betcards.admin import betcards, catalogue, markets

__all__ = ["betcards", "catalogue", "markets"]
