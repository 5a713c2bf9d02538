"""A client of the jackpot bet engine's operator API (README.md beside this package)."""

from jackpot_client.client import JackpotClient
from jackpot_client.errors import ApiError, InvalidRequest, JackpotClientError, NotAuthenticated
from jackpot_client.models import Bet, Card, CardEvent, Market, Pick, Selection, Ticket
from jackpot_client.signing import sign

__all__ = [
    "ApiError",
    "Bet",
    "Card",
    "CardEvent",
    "InvalidRequest",
    "JackpotClient",
    "JackpotClientError",
    "Market",
    "NotAuthenticated",
    "Pick",
    "Selection",
    "Ticket",
    "sign",
]
