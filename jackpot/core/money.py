"""Money arithmetic (contract.md § Domain words): integer cents, Decimal maths, half-up.

`round_half_up_cents` is the only rounding function of the engine; everything that turns a
Decimal amount into cents goes through it. No Django imports here.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

HUNDRED = Decimal(100)


def round_half_up_cents(value: Decimal) -> int:
    """Round a Decimal amount of cents to a whole cent, halves away from zero."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent_of(amount: int | Decimal, percent: Decimal) -> Decimal:
    """`amount × percent / 100`, exact (no rounding)."""
    return Decimal(amount) * percent / HUNDRED


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    """Convert a JSON number to Decimal through its shortest text form, never via float maths."""
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))
