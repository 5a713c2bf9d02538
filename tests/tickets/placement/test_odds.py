"""Odds tolerance and combined odds (contract.md § Odds check, § Odds)."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickets.odds import combined_odds, odds_accepted

odds = st.decimals(min_value=Decimal("1.001"), max_value=Decimal(9999), places=3)


@pytest.mark.parametrize(
    ("submitted", "current", "odds_diff", "accepted"),
    [
        ("2.55", "2.55", "0", True),
        ("2.55", "2.551", "0", False),
        ("2.00", "2.20", "10", True),  # exactly on the edge
        ("2.00", "1.80", "10", True),
        ("2.00", "2.201", "10", False),
        ("2.00", "1.799", "10", False),
    ],
)
def test_odds_accepted_within_percent_of_submitted(submitted, current, odds_diff, accepted):
    assert (
        odds_accepted(
            submitted=Decimal(submitted), current=Decimal(current), odds_diff=Decimal(odds_diff)
        )
        is accepted
    )


def test_contract_sample_product():
    sample = ["2.55", "3.62", "1.55", "2.11", "5.1", "1.78"]

    assert combined_odds(Decimal(value) for value in sample) == Decimal("274.06")


def test_product_rounds_half_up():
    assert combined_odds([Decimal("1.005")]) == Decimal("1.01")
    assert combined_odds([Decimal("1.5"), Decimal("1.003")]) == Decimal("1.50")  # 1.5045


def test_product_of_100_large_odds_is_exact():
    product = combined_odds([Decimal("9999.999")] * 100)

    with localcontext(prec=2000):
        exact = Decimal("9999.999") ** 100
        assert product == exact.quantize(Decimal("0.01"))
    assert len(str(product)) > 400


@given(submitted=odds, current=odds, odds_diff=st.decimals(min_value=0, max_value=1000, places=2))
def test_tolerance_matches_its_definition(submitted, current, odds_diff):
    assert odds_accepted(submitted=submitted, current=current, odds_diff=odds_diff) is (
        abs(current - submitted) <= odds_diff / 100 * submitted
    )


@given(st.lists(odds, min_size=1, max_size=20))
def test_product_is_within_half_a_cent_of_the_exact_product(values):
    with localcontext(prec=2000):
        exact = Decimal(1)
        for value in values:
            exact = exact * value
        assert abs(combined_odds(values) - exact) <= Decimal("0.005")
