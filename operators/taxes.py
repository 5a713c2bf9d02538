"""The operator's taxes on a ticket: excise and affiliate commission at creation,
withholding tax on winnings at settlement.

Implements contract.md § Taxes at creation and the WHT of § Settlement. Pure functions of
the operator's tax settings, returning frozen dataclasses whose constructors enforce the
invariants; all rounding goes through `jackpot.core.money.round_half_up_cents`. Placement,
settlement and the Bet Card API's calculator all compute with these.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from jackpot.core.money import HUNDRED, percent_of, round_half_up_cents

# ----------------------------------------------------------------------------- creation
# Excise, WHT percent snapshot and affiliate commission when a ticket is placed
# (contract.md § Taxes at creation).

INCLUSIVE = "inclusive"
EXCLUSIVE = "exclusive"


@dataclass(frozen=True, kw_only=True)
class CreationTaxes:
    """A new ticket's money: inclusive excise comes out of the price (`stake + ext_amount ==
    price`), exclusive excise is charged on top (`stake == price`); the affiliate commission
    is either fully present (percent and amount) or fully absent."""

    price: int
    stake: int
    ext_percent: Decimal
    ext_type: str
    ext_amount: int
    wht_percent: Decimal
    aff_comm_percent: Decimal | None
    aff_comm_amount: int | None

    def __post_init__(self) -> None:
        if self.price <= 0 or self.stake < 0 or self.ext_amount < 0:
            raise ValueError(f"non-positive price or negative stake/excise: {self}")
        if self.ext_type == INCLUSIVE and self.stake + self.ext_amount != self.price:
            raise ValueError(f"inclusive excise: stake + ext_amount != price: {self}")
        if self.ext_type == EXCLUSIVE and self.stake != self.price:
            raise ValueError(f"exclusive excise: stake != price: {self}")
        if self.ext_type not in (INCLUSIVE, EXCLUSIVE):
            raise ValueError(f"unknown excise type: {self}")
        if (self.aff_comm_percent is None) != (self.aff_comm_amount is None):
            raise ValueError(f"affiliate commission half present: {self}")
        if self.aff_comm_amount is not None and not 0 <= self.aff_comm_amount <= self.stake:
            raise ValueError(f"affiliate commission outside 0..stake: {self}")


def creation_taxes(
    *,
    price: int,
    ext_percent: Decimal,
    ext_type: str,
    wht_percent: Decimal,
    aff_comm_percent: Decimal | None,
    atag: str | None,
) -> CreationTaxes:
    """Taxes of a ticket at creation from the operator's settings (all percents 0-100).

    - inclusive: `stake = round(price / (1 + ext/100))`, `ext_amount = price − stake`
      (price 500, ext 12.5 → stake 444, ext_amount 56);
    - exclusive: `stake = price`, `ext_amount = round(price × ext/100)`;
    - affiliate: null unless the operator has a percent and `atag` is a non-empty string,
      then `round(stake × pct/100)`.
    """
    if ext_type == INCLUSIVE:
        stake = round_half_up_cents(Decimal(price) * HUNDRED / (HUNDRED + ext_percent))
        ext_amount = price - stake
    else:
        stake = price
        ext_amount = round_half_up_cents(percent_of(price, ext_percent))
    has_affiliate = aff_comm_percent is not None and bool(atag)
    return CreationTaxes(
        price=price,
        stake=stake,
        ext_percent=ext_percent,
        ext_type=ext_type,
        ext_amount=ext_amount,
        wht_percent=wht_percent,
        aff_comm_percent=aff_comm_percent if has_affiliate else None,
        aff_comm_amount=(
            round_half_up_cents(percent_of(stake, aff_comm_percent))
            if has_affiliate and aff_comm_percent is not None
            else None
        ),
    )


# ----------------------------------------------------------------------------- settlement
# Withholding tax on winnings (contract.md § Settlement).


@dataclass(frozen=True, kw_only=True)
class SettlementTaxes:
    """A settled ticket's payout: `net_payout + wht_amount == gross_payout`, WHT only on a win
    larger than the stake."""

    stake: int
    gross_payout: int
    wht_amount: int
    net_payout: int

    def __post_init__(self) -> None:
        if self.gross_payout < 0 or self.wht_amount < 0:
            raise ValueError(f"negative payout or tax: {self}")
        if self.net_payout + self.wht_amount != self.gross_payout:
            raise ValueError(f"net_payout + wht_amount != gross_payout: {self}")
        if self.wht_amount and self.gross_payout <= self.stake:
            raise ValueError(f"withholding tax on a payout not above the stake: {self}")


def settlement_taxes(*, gross_payout: int, stake: int, wht_percent: Decimal) -> SettlementTaxes:
    """WHT = round((gross − stake) × wht/100) when the payout exceeds the stake, else 0."""
    winnings = gross_payout - stake
    wht_amount = round_half_up_cents(percent_of(winnings, wht_percent)) if winnings > 0 else 0
    return SettlementTaxes(
        stake=stake,
        gross_payout=gross_payout,
        wht_amount=wht_amount,
        net_payout=gross_payout - wht_amount,
    )
