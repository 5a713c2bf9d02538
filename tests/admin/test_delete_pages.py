"""Delete pages of rows that tickets depend on answer at once (jackpot/admin_support.py
`RefusesProtectedDeleteAtOnce`), and money rows stay undeletable.

Django's delete page lists every related row before it refuses: 404 ms for an operator
with 1,400 tickets, unbounded at a million. Here the refusal costs a few EXISTS queries,
the same for one ticket as for many."""

from __future__ import annotations

import pytest
from django.db.models import ProtectedError
from django.test import Client
from django.urls import reverse

from betcards.models import Bet, Betcard, Event, Market, MarketResultChange, Team
from betcards.results import market_result_set
from operators.models import Operator
from tests.admin.builders import delivery_for
from tests.factories import BetcardFactory, OperatorFactory, TicketFactory
from tickets.models import Selection, Ticket, WebhookAttempt, WebhookDelivery

pytestmark = pytest.mark.django_db

MAX_QUERIES = 16  # session, user, the object, a few EXISTS: not one per related row


def _rows_of(ticket: Ticket) -> dict[str, object]:
    card = Betcard.objects.get(pk=ticket.betcard_id)
    event = Event.objects.filter(card_entries__betcard=card).first()
    assert event is not None
    market = event.markets.get()
    return {
        "operator": Operator.objects.get(pk=ticket.operator_id),
        "betcard": card,
        "event": event,
        "market": market,
        "team": Team.objects.get(pk=event.home_team_id),
    }


@pytest.mark.parametrize("tickets", [1, 40])
@pytest.mark.parametrize(
    ("kind", "rows"),
    [
        ("operator", "tickets"),
        ("betcard", "tickets"),
        ("event", "selections"),
        ("market", "selections"),
        ("team", "events"),
    ],
)
def test_the_delete_page_of_a_row_with_tickets_refuses_at_once(
    admin_client: Client, django_assert_max_num_queries, kind, rows, tickets
):
    card = BetcardFactory(events=2)
    operator = OperatorFactory()
    first = TicketFactory(betcard=card, operator=operator)
    TicketFactory.create_batch(tickets - 1, betcard=card, operator=operator)
    target = _rows_of(first)[kind]
    model = type(target)
    url = reverse(
        f"admin:{model._meta.app_label}_{model._meta.model_name}_delete", args=[target.pk]
    )

    with django_assert_max_num_queries(MAX_QUERIES):
        page = admin_client.get(url)
    refused = admin_client.post(url, {"post": "yes"})

    assert page.status_code == 200
    assert f"{target}: has {rows}, cannot be deleted" in page.content.decode()
    assert refused.status_code == 200  # the same refusal, nothing deleted
    assert model._default_manager.filter(pk=target.pk).exists()


def test_the_bulk_delete_action_refuses_at_once_too(admin_client: Client):
    ticket = TicketFactory()
    spare = OperatorFactory()

    page = admin_client.post(
        reverse("admin:operators_operator_changelist"),
        {"action": "delete_selected", "_selected_action": [ticket.operator_id, spare.pk]},
    )

    assert page.status_code == 200
    assert "has tickets, cannot be deleted" in page.content.decode()
    assert Operator.objects.count() == 2


def test_a_row_without_tickets_is_deleted_as_before(admin_client: Client):
    card = BetcardFactory(events=1)
    url = reverse("admin:betcards_betcard_delete", args=[card.pk])

    page = admin_client.get(url)
    admin_client.post(url, {"post": "yes"})

    assert "Are you sure" in page.content.decode()
    assert not Betcard.objects.filter(pk=card.pk).exists()


# ----------------------------------------------------------------------------- money rows
@pytest.mark.parametrize(
    "url_name",
    [
        "tickets_ticket_delete",
        "tickets_webhookdelivery_delete",
        "betcards_marketresultchange_delete",
    ],
)
def test_no_money_row_has_a_delete_page_even_for_a_superuser(admin_client: Client, url_name):
    ticket = TicketFactory()
    delivery = delivery_for(ticket, attempts=1)
    market = Market.objects.filter(event__card_entries__betcard_id=ticket.betcard_id).first()
    assert market is not None
    market_result_set(market=market, winning_bet=market.bets.first(), void=False, source="admin")
    row = {
        "tickets_ticket_delete": ticket,
        "tickets_webhookdelivery_delete": delivery,
        "betcards_marketresultchange_delete": MarketResultChange.objects.first(),
    }[url_name]

    assert admin_client.get(reverse(f"admin:{url_name}", args=[row.pk])).status_code == 403


@pytest.mark.parametrize(
    "money_rows", ["tickets", "selections", "deliveries", "attempts", "results", "receipts"]
)
def test_money_rows_cannot_be_deleted_through_what_they_belong_to(money_rows):
    # A delete of a parent that would take money rows with it is refused by the ORM.
    ticket = TicketFactory()
    delivery_for(ticket, attempts=1)
    selection = Selection.objects.filter(ticket=ticket).select_related("bet__market").first()
    assert selection is not None
    market = selection.bet.market
    market_result_set(market=market, winning_bet=selection.bet, void=False, source="admin")
    deletes = {
        "tickets": lambda: Operator.objects.filter(pk=ticket.operator_id).delete(),
        "selections": lambda: Bet.objects.filter(pk=selection.bet_id).delete(),
        "deliveries": lambda: Ticket.objects.filter(pk=ticket.pk).delete(),
        "attempts": lambda: Ticket.objects.filter(pk=ticket.pk).delete(),
        "results": lambda: Market.objects.filter(pk=market.pk).delete(),
        "receipts": lambda: Operator.objects.filter(pk=ticket.operator_id).delete(),
    }

    with pytest.raises(ProtectedError):
        deletes[money_rows]()

    assert Ticket.objects.filter(pk=ticket.pk).exists()
    assert Selection.objects.filter(pk=selection.pk).exists()
    assert WebhookAttempt.objects.filter(delivery__ticket=ticket).exists()
    assert WebhookDelivery.objects.filter(ticket=ticket).exists()
    assert MarketResultChange.objects.filter(market=market).exists()
