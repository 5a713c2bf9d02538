"""Placement reads and writes in a constant number of queries, whatever the number of
events (a query-count assertion on the fast path)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import BetcardFactory, OperatorFactory
from tests.support.api import signed_post

pytestmark = pytest.mark.django_db

# operator; betcard with its events and the chosen bets; one statement locking the bets and
# markets FOR SHARE and writing the ticket, its selections and its webhook row, committed on
# its own (in a request: no BEGIN/COMMIT; inside the test's own transaction it runs in a
# SAVEPOINT, left out below). An Idempotency-Key (or a reference) costs nothing more: it is
# written in the write's receipt, and looked up only when the write says it is taken.
QUERIES = 3
QUERIES_WITH_IDEMPOTENCY_KEY = 3


def _statements(context: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"]
        for query in context.captured_queries
        if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


def _order(operator, card, events):
    return {
        "operator": operator.name,
        "token": "player",
        "psp": None,
        "price": card.price,
        "currency": card.currency,
        "atag": None,
        "rtag": None,
        "source": "desktop",
        "type": "jackpot",
        "odds_diff": 0,
        "events": [{"id": event.id, "bet": event.id * 10, "odds": 2.1} for event in events],
        "betcard_code": card.code,
        "prize": card.prize,
        "bonus_prizes": card.bonus_prizes,
    }


@pytest.mark.parametrize("count", [1, 13, 50])
def test_placement_queries_do_not_grow_with_events(client, count):
    # given
    operator = OperatorFactory()
    card = BetcardFactory(events=count)
    events = [entry.event for entry in card.card_events.select_related("event")]
    body = _order(operator, card, events)

    # when / then
    with CaptureQueriesContext(connection) as plain:
        response = signed_post(client, operator, "/be/tickets", body)
    assert response.status_code == 200, response.content
    with CaptureQueriesContext(connection) as keyed:
        response = signed_post(
            client,
            operator,
            "/be/tickets",
            {**body, "token": "another player"},  # the same bytes again would be a replay
            headers={"Idempotency-Key": f"k{count}"},
        )
    assert response.status_code == 200, response.content
    assert len(_statements(plain)) == QUERIES, _statements(plain)
    assert len(_statements(keyed)) == QUERIES_WITH_IDEMPOTENCY_KEY, _statements(keyed)
