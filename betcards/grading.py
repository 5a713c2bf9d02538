"""Event results of a betcard, as settlement reads them (contract.md § Settlement).

An event is resulted when each of its markets has a result (a winning bet, or void); it is
void when every market is void. A selection matches when its bet is its market's winning
bet or its market is void; a void event is matched for every ticket, picked or not.
"""

from __future__ import annotations

from dataclasses import dataclass

from betcards.models import Bet, Betcard, Market


@dataclass(frozen=True, kw_only=True)
class CardResults:
    """What grading needs to know about a card's results, as plain ids."""

    event_ids: tuple[int, ...]
    unresulted_event_ids: tuple[int, ...]
    void_event_ids: frozenset[int]
    winning_bet_ids: frozenset[int]
    void_bet_ids: frozenset[int]
    # Bets whose selection matches on an event that is not void. Selections on void events
    # are left out: those events are matched for everyone, outside `scored_event_count`.
    matching_bet_ids: frozenset[int]

    def as_json(self) -> dict[str, list[int]]:
        """The ids as sorted lists, stored with a settlement round (and compared to it)."""
        return {
            "event_ids": list(self.event_ids),
            "unresulted_event_ids": list(self.unresulted_event_ids),
            "void_event_ids": sorted(self.void_event_ids),
            "winning_bet_ids": sorted(self.winning_bet_ids),
            "void_bet_ids": sorted(self.void_bet_ids),
            "matching_bet_ids": sorted(self.matching_bet_ids),
        }

    @classmethod
    def from_json(cls, data: dict[str, list[int]]) -> CardResults:
        return cls(
            event_ids=tuple(data["event_ids"]),
            unresulted_event_ids=tuple(data["unresulted_event_ids"]),
            void_event_ids=frozenset(data["void_event_ids"]),
            winning_bet_ids=frozenset(data["winning_bet_ids"]),
            void_bet_ids=frozenset(data["void_bet_ids"]),
            matching_bet_ids=frozenset(data["matching_bet_ids"]),
        )

    @property
    def complete(self) -> bool:
        return not self.unresulted_event_ids

    @property
    def all_void(self) -> bool:
        return bool(self.event_ids) and len(self.void_event_ids) == len(self.event_ids)

    @property
    def scored_event_count(self) -> int:
        """Events a ticket can miss: the card's events that are not void."""
        return len(self.event_ids) - len(self.void_event_ids)


def betcard_results(*, betcard: Betcard) -> CardResults:
    """Read the results of every event of the card (three queries)."""
    event_ids = tuple(betcard.card_events.order_by("position").values_list("event_id", flat=True))
    markets = list(
        Market.objects.filter(event_id__in=event_ids).values_list(
            "id", "event_id", "winning_bet_id", "is_void"
        )
    )
    markets_by_event: dict[int, list[tuple[int | None, bool]]] = {e: [] for e in event_ids}
    for _market_id, event_id, winning_bet_id, is_void in markets:
        markets_by_event[event_id].append((winning_bet_id, is_void))
    void_market_ids = [market_id for market_id, _e, _w, is_void in markets if is_void]
    void_bets = list(
        Bet.objects.filter(market_id__in=void_market_ids).values_list("id", "market__event_id")
    )
    void_event_ids = frozenset(
        event_id
        for event_id, results in markets_by_event.items()
        if results and all(v for _w, v in results)
    )
    winning_bet_ids = frozenset(w for _m, _e, w, _v in markets if w is not None)
    return CardResults(
        event_ids=event_ids,
        # An event without markets has no result: it can never be graded, so it blocks.
        unresulted_event_ids=tuple(
            event_id
            for event_id, results in markets_by_event.items()
            if not results or any(w is None and not v for w, v in results)
        ),
        void_event_ids=void_event_ids,
        winning_bet_ids=winning_bet_ids,
        void_bet_ids=frozenset(bet_id for bet_id, _e in void_bets),
        matching_bet_ids=winning_bet_ids
        | frozenset(bet_id for bet_id, event_id in void_bets if event_id not in void_event_ids),
    )
