"""Taxes at creation (contract.md § Taxes at creation), including hypothesis properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from operators.taxes import CreationTaxes, creation_taxes

prices = st.integers(min_value=1, max_value=10**15)
percents = st.decimals(min_value=0, max_value=100, places=2)


def _taxes(price: int, ext: str, ext_type: str = "inclusive", **kwargs) -> CreationTaxes:
    return creation_taxes(
        price=price,
        ext_percent=Decimal(ext),
        ext_type=ext_type,
        wht_percent=Decimal(10),
        aff_comm_percent=kwargs.get("aff"),
        atag=kwargs.get("atag"),
    )


def test_contract_example_inclusive():
    taxes = _taxes(500, "12.5")

    assert (taxes.stake, taxes.ext_amount) == (444, 56)


@pytest.mark.parametrize(
    ("price", "ext", "stake"),
    [(1, "0", 1), (1, "100", 1), (3, "100", 2), (100, "100", 50), (225, "12.5", 200)],
)
def test_inclusive_stake_rounds_half_up(price, ext, stake):
    # 3 / 2 = 1.5 -> 2 (half-up, not banker's 2; 1/2 = 0.5 -> 1)
    assert _taxes(price, ext).stake == stake


def test_exclusive_excise_is_on_top():
    taxes = _taxes(500, "12.5", "exclusive")

    assert (taxes.stake, taxes.ext_amount) == (500, 63)  # 62.5 -> 63


def test_affiliate_commission_needs_percent_and_atag():
    assert _taxes(500, "12.5", aff=Decimal("3"), atag="a").aff_comm_amount == 13
    assert _taxes(500, "12.5", aff=Decimal("3"), atag="").aff_comm_amount is None
    assert _taxes(500, "12.5", aff=Decimal("3"), atag=None).aff_comm_percent is None
    assert _taxes(500, "12.5", aff=None, atag="a").aff_comm_amount is None


def test_invariant_is_enforced_by_the_value_object():
    with pytest.raises(ValueError, match="stake \\+ ext_amount != price"):
        CreationTaxes(
            price=500,
            stake=444,
            ext_percent=Decimal("12.5"),
            ext_type="inclusive",
            ext_amount=55,
            wht_percent=Decimal(10),
            aff_comm_percent=None,
            aff_comm_amount=None,
        )


@given(price=prices, ext=percents)
def test_inclusive_stake_plus_excise_is_the_price(price, ext):
    taxes = _taxes(price, str(ext))

    assert taxes.stake + taxes.ext_amount == price
    # the stake is the nearest cent to price / (1 + ext/100)
    exact = Decimal(price) * 100 / (100 + ext)
    assert abs(Decimal(taxes.stake) - exact) <= Decimal("0.5")


@given(price=prices, ext=percents)
def test_exclusive_stake_is_the_price_and_excise_is_rounded_percent(price, ext):
    taxes = _taxes(price, str(ext), "exclusive")

    assert taxes.stake == price
    assert abs(Decimal(taxes.ext_amount) - Decimal(price) * ext / 100) <= Decimal("0.5")


@given(price=prices, ext=percents, aff=percents)
def test_affiliate_commission_never_exceeds_the_stake(price, ext, aff):
    taxes = _taxes(price, str(ext), aff=aff, atag="tag")

    assert taxes.aff_comm_amount is not None
    assert 0 <= taxes.aff_comm_amount <= taxes.stake
