"""Every list page runs the same number of SQL queries for 5 rows as for 50."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from betcards.models import Market
from betcards.results import market_result_set
from tests.admin.builders import delivery_for
from tests.factories import (
    BetcardFactory,
    EventFactory,
    OperatorFactory,
    TeamFactory,
    TicketFactory,
)
from tickets.models import WebhookAttempt

pytestmark = pytest.mark.django_db


def _tickets(n: int) -> None:
    card, operator = BetcardFactory(events=2), OperatorFactory()
    TicketFactory.create_batch(n, betcard=card, operator=operator)


def _deliveries(n: int) -> None:
    card, operator = BetcardFactory(events=1), OperatorFactory()
    for ticket in TicketFactory.create_batch(n, betcard=card, operator=operator):
        delivery_for(ticket, attempts=1)


def _betcards(n: int) -> None:
    for card in BetcardFactory.create_batch(n, events=1):
        TicketFactory(betcard=card)


def _result_changes(n: int) -> None:
    for event in EventFactory.create_batch(n):
        market = Market.objects.get(event=event)
        market_result_set(
            market=market, winning_bet=market.bets.first(), void=False, source="admin"
        )


BUILDERS: dict[str, Callable[[int], object]] = {
    "operators_operator": OperatorFactory.create_batch,
    "betcards_team": TeamFactory.create_batch,
    "betcards_event": EventFactory.create_batch,
    "betcards_bookmakerevent": EventFactory.create_batch,
    "betcards_market": EventFactory.create_batch,
    "betcards_marketresultchange": _result_changes,
    "betcards_betcard": _betcards,
    "tickets_ticket": _tickets,
    "tickets_webhookdelivery": _deliveries,
}


def queries_for(client: Client, url: str) -> int:
    client.get(url)  # warm caches (content types, permissions of the session user)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("page", sorted(BUILDERS))
def test_list_page_query_count_does_not_grow_with_rows(admin_client: Client, page: str) -> None:
    # given
    url = reverse(f"admin:{page}_changelist")
    BUILDERS[page](5)
    with_5 = queries_for(admin_client, url)

    # when 45 more rows exist
    BUILDERS[page](45)
    with_50 = queries_for(admin_client, url)

    # then
    assert with_50 == with_5
    assert with_5 <= 12


def test_ticket_page_query_count_does_not_grow_with_webhook_attempts(
    admin_client: Client,
) -> None:
    ticket = TicketFactory()
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    deliveries = [
        delivery_for(ticket, action=a, attempts=2) for a in ("ticket_create", "ticket_win")
    ]
    few = queries_for(admin_client, url)

    for delivery in deliveries:
        WebhookAttempt.objects.bulk_create(
            WebhookAttempt(
                delivery=delivery,
                number=n,
                started_at=delivery.created_at,
                latency_ms=5,
                outcome="retryable",
            )
            for n in range(3, 30)
        )
    many = queries_for(admin_client, url)

    assert many == few


def test_event_page_query_count_does_not_grow_with_markets(admin_client: Client) -> None:
    event = EventFactory()
    url = reverse("admin:betcards_event_change", args=[event.pk])
    few = queries_for(admin_client, url)

    for offset in range(1, 10):
        market = Market.objects.create(
            id=event.pk * 10 + 100 + offset, event=event, name=f"M{offset}"
        )
        market.bets.create(id=event.pk * 100 + 1000 + offset, name="yes", odds="1.5")
    many = queries_for(admin_client, url)

    assert many == few


def test_event_autocomplete_names_the_teams_in_a_constant_number_of_queries(
    admin_client: Client,
) -> None:
    # given the picker a betcard's event rows use (select2 asks this view as staff type)
    url = reverse("admin:autocomplete") + (
        "?app_label=betcards&model_name=betcardevent&field_name=event&term="
    )
    EventFactory.create_batch(5)
    with_5 = queries_for(admin_client, url)
    events = EventFactory.create_batch(15)

    # when
    with_20 = queries_for(admin_client, url)
    results = admin_client.get(url).json()["results"]

    # then
    assert with_20 == with_5
    event = events[0]
    label = f"{event.id}: {event.home_team.name} v {event.away_team.name}"
    assert {"id": str(event.id), "text": label} in results
