"""Prize tiers: each tier shared equally by its tickets, floored to the cent, the remainder
reported (contract.md § Settlement: "never lost or invented"). Pure functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class TierShare:
    """One prize tier split equally among its winners, each share floored to the cent.

    `share × winners + remainder == amount` always; a tier without winners pays nothing and
    its whole amount is the remainder.
    """

    misses: int
    amount: int
    winners: int
    share: int
    remainder: int

    def __post_init__(self) -> None:
        if min(self.misses, self.amount, self.winners, self.share, self.remainder) < 0:
            raise ValueError(f"negative tier figure: {self}")
        if self.share * self.winners + self.remainder != self.amount:
            raise ValueError(f"shares plus remainder != tier amount: {self}")
        if self.winners and self.remainder >= self.winners:
            raise ValueError(f"remainder could pay another cent to every winner: {self}")
        if not self.winners and self.share:
            raise ValueError(f"a share without winners: {self}")

    @property
    def paid(self) -> int:
        return self.share * self.winners


def tier_share(*, misses: int, amount: int, winners: int) -> TierShare:
    """Split `amount` cents equally among `winners`, flooring each share to the cent."""
    share, remainder = divmod(amount, winners) if winners else (0, amount)
    return TierShare(
        misses=misses, amount=amount, winners=winners, share=share, remainder=remainder
    )


def prize_tiers(
    *, prize: int, bonus_prizes: Sequence[int], winners_by_misses: Mapping[int, int]
) -> list[TierShare]:
    """Every tier of a card: 0 misses shares `prize`, k misses share `bonus_prizes[k-1]`.

    `winners_by_misses` counts graded tickets per number of misses; counts beyond the last
    bonus prize are ignored (those tickets win nothing).
    """
    amounts = [prize, *bonus_prizes]
    return [
        tier_share(misses=misses, amount=amount, winners=winners_by_misses.get(misses, 0))
        for misses, amount in enumerate(amounts)
    ]
