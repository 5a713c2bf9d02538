"""Odds rules of placement (contract.md § Odds check, § Odds).

Pure Decimal arithmetic: the tolerance check compares `|current − submitted|` with
`odds_diff` percent of `submitted` exactly, and the ticket's odds are the product of the
accepted odds rounded half-up to 2 decimals.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Context, Decimal

TWO_PLACES = Decimal("0.01")
# A ticket has at most 100 events, each odds below 10**7 with 3 decimals: the exact product
# has at most 1000 significant digits. Computing with that precision keeps the product exact,
# so the only rounding is the final half-up to 2 decimals (no double rounding).
_EXACT = Context(prec=1100, rounding=ROUND_HALF_UP, Emax=10_000, Emin=-10_000)


def odds_accepted(*, submitted: Decimal, current: Decimal, odds_diff: Decimal) -> bool:
    """True when `|current − submitted| ≤ odds_diff % of submitted` (0 accepts only equal odds).

    Multiplied out (`|Δ| × 100 ≤ odds_diff × submitted`) so no division can round.
    """
    return _EXACT.multiply(abs(_EXACT.subtract(current, submitted)), 100) <= _EXACT.multiply(
        odds_diff, submitted
    )


def combined_odds(odds: Iterable[Decimal]) -> Decimal:
    """Product of the accepted odds, rounded half-up to 2 decimals (1.00 for no odds)."""
    product = Decimal(1)
    for value in odds:
        product = _EXACT.multiply(product, value)
    return product.quantize(TWO_PLACES, context=_EXACT)
