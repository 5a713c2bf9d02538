"""Withholding tax at settlement (contract.md § Settlement)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from operators.taxes import SettlementTaxes, settlement_taxes

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
