"""Withholding tax at settlement and prize tier shares (contract.md § Settlement)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickets.taxes import (
    SettlementTaxes,
    TierShare,
    prize_tiers,
    settlement_taxes,
    tier_share,
)

cents = st.integers(min_value=0, max_value=10**12)
percents = st.decimals(min_value=0, max_value=100, places=2)


def test_wht_is_charged_on_winnings_above_the_stake_rounded_half_up():
    # (10005 - 444) × 12.5 % = 1195.125 → 1195
    assert settlement_taxes(gross_payout=10_005, stake=444, wht_percent=Decimal("12.5")) == (
        SettlementTaxes(stake=444, gross_payout=10_005, wht_amount=1195, net_payout=8810)
    )
    # (454 - 444) × 25 % = 2.5 → 3 (half up)
    assert settlement_taxes(gross_payout=454, stake=444, wht_percent=Decimal(25)).wht_amount == 3


@pytest.mark.parametrize("gross", [0, 100, 444])
def test_no_wht_when_the_payout_does_not_exceed_the_stake(gross):
    taxes = settlement_taxes(gross_payout=gross, stake=444, wht_percent=Decimal(10))

    assert (taxes.wht_amount, taxes.net_payout) == (0, gross)


@given(gross=cents, stake=cents, wht=percents)
def test_net_plus_wht_is_gross_and_wht_only_on_a_win_above_the_stake(gross, stake, wht):
    taxes = settlement_taxes(gross_payout=gross, stake=stake, wht_percent=wht)

    assert taxes.net_payout + taxes.wht_amount == taxes.gross_payout == gross
    assert taxes.wht_amount == 0 or gross > stake
    assert 0 <= taxes.wht_amount <= max(gross - stake, 0)


def test_the_taxes_value_refuses_an_inconsistent_payout():
    with pytest.raises(ValueError, match="net_payout"):
        SettlementTaxes(stake=10, gross_payout=100, wht_amount=5, net_payout=94)
    with pytest.raises(ValueError, match="not above the stake"):
        SettlementTaxes(stake=100, gross_payout=100, wht_amount=1, net_payout=99)


def test_a_tie_splits_the_tier_with_the_odd_cents_left_as_remainder():
    assert tier_share(misses=0, amount=10_000, winners=3) == TierShare(
        misses=0, amount=10_000, winners=3, share=3333, remainder=1
    )


def test_a_tier_without_winners_pays_nothing_and_reports_its_amount():
    tier = tier_share(misses=2, amount=1_500, winners=0)

    assert (tier.share, tier.paid, tier.remainder) == (0, 0, 1_500)


@given(amount=cents, winners=st.integers(min_value=0, max_value=10**7))
def test_shares_of_a_tier_plus_its_remainder_equal_the_tier(amount, winners):
    tier = tier_share(misses=0, amount=amount, winners=winners)

    assert tier.share * tier.winners + tier.remainder == amount
    assert tier.paid <= amount
    assert tier.remainder < winners or winners == 0


def test_tiers_follow_the_prize_then_the_bonus_prizes_in_order():
    tiers = prize_tiers(
        prize=10_000, bonus_prizes=[2_000, 1_500, 1_000], winners_by_misses={0: 2, 1: 3, 3: 1, 5: 9}
    )

    assert [(t.misses, t.amount, t.winners, t.share, t.remainder) for t in tiers] == [
        (0, 10_000, 2, 5_000, 0),
        (1, 2_000, 3, 666, 2),
        (2, 1_500, 0, 0, 1_500),
        (3, 1_000, 1, 1_000, 0),
    ]


@given(
    prize=cents,
    bonus=st.lists(cents, max_size=6),
    winners=st.dictionaries(st.integers(0, 8), st.integers(0, 10**6)),
)
def test_tiers_never_pay_more_than_the_prizes(prize, bonus, winners):
    tiers = prize_tiers(prize=prize, bonus_prizes=bonus, winners_by_misses=winners)

    assert sum(t.paid + t.remainder for t in tiers) == prize + sum(bonus)
