"""Placement snapshots of the catalogue (betcards/snapshots.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from betcards.models import BookmakerEvent, Market, Team
from betcards.snapshots import betcard_snapshot_for_placement, bets_for_placement
from tests.factories import BetcardFactory, EventFactory

pytestmark = pytest.mark.django_db


def test_unknown_code_has_no_snapshot():
    assert betcard_snapshot_for_placement("NOPE") is None


def test_card_without_events_has_an_empty_snapshot(django_assert_num_queries):
    BetcardFactory(code="EMPTY1")

    with django_assert_num_queries(1):
        card = betcard_snapshot_for_placement("EMPTY1")

    assert card is not None
    assert (card.code, dict(card.events), card.required_events) == ("EMPTY1", {}, 0)


def test_snapshot_lists_events_in_card_order_with_team_and_bookmaker_flags(
    django_assert_num_queries,
):
    # given a card whose second event has a disabled away team and no bookmaker event
    events = [EventFactory(id=500_003), EventFactory(id=500_001), EventFactory(id=500_002)]
    Team.objects.filter(id=events[1].away_team_id).update(is_active=False)
    BookmakerEvent.objects.filter(event_id=500_001).delete()
    BetcardFactory(code="ORDER1", events=events, min_events=2, bonus_prizes=[5, 4])

    # when
    with django_assert_num_queries(1):
        card = betcard_snapshot_for_placement("ORDER1")

    # then
    assert card is not None
    assert list(card.events) == [500_003, 500_001, 500_002]
    assert card.events[500_001].disabled_team_id == events[1].away_team_id
    assert not card.events[500_001].has_bookmaker_event
    assert card.events[500_003].disabled_team_id is None
    assert card.events[500_003].has_bookmaker_event
    assert (card.required_events, card.bonus_prizes) == (2, (5, 4))


def test_bets_snapshot_has_market_and_event_and_skips_unknown_ids(django_assert_num_queries):
    EventFactory(id=500_010)
    Market.objects.filter(id=5_000_100).update(is_blocked=True)

    with django_assert_num_queries(1):
        bets = bets_for_placement([5_000_101, 999, 2**63 - 1])

    assert list(bets) == [5_000_101]
    bet = bets[5_000_101]
    assert (bet.odds, bet.market_id, bet.event_id, bet.market_blocked) == (
        Decimal("3.200"), 5_000_100, 500_010, True,
    )  # fmt: skip


def test_card_snapshot_carries_the_chosen_bets_of_its_own_events_only(
    django_assert_num_queries,
):
    # given a card with two events, and a bet of an event that is not on it
    events = [EventFactory(id=500_020), EventFactory(id=500_021)]
    EventFactory(id=500_022)
    BetcardFactory(code="BETS01", events=events)

    # when
    with django_assert_num_queries(1):
        card = betcard_snapshot_for_placement("BETS01", [5_000_201, 5_000_221, 999])

    # then
    assert card is not None
    assert list(card.events) == [500_020, 500_021]
    assert list(card.bets) == [5_000_201]
    assert card.bets[5_000_201].event_id == 500_020
