"""Prize tier shares (contract.md § Settlement): equal, floored, the remainder reported."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tickets.settlement.tiers import TierShare, prize_tiers, tier_share

cents = st.integers(min_value=0, max_value=10**12)


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
