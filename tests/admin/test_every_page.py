"""Every back-office page opens without a server error, for every kind of staff member.

Walks the admin site itself: each registered model's list, add and change pages and every
custom view its admin adds (settle, rotate secret, retry...), as a clerk (view only), a
manager and a superuser, with one row of every model in the database. A new page or field
that breaks for one kind of staff member is caught here, not by staff (a clerk once got a
500 on every operator page).
"""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, reverse

from betcards.models import Betcard, Market, MarketResultChange
from betcards.results import market_result_set
from tests.admin.builders import delivery_for
from tests.factories import BetcardFactory, TicketFactory
from tickets.models import Settlement

pytestmark = pytest.mark.django_db

PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


@pytest.fixture
def one_of_each(superuser) -> dict[type[Model], Model]:
    """A row of every model the admin shows (and the rows they lead to)."""
    ticket = TicketFactory()
    delivery_for(ticket, attempts=2)
    card = Betcard.objects.get(pk=ticket.betcard_id)
    market = Market.objects.filter(event__card_entries__betcard=card).first()
    assert market is not None
    market_result_set(market=market, winning_bet=market.bets.first(), void=False, source="admin")
    Settlement.objects.create(betcard=card, number=1, started_at=ticket.created_at)
    BetcardFactory()  # a draft card without tickets
    assert MarketResultChange.objects.exists()
    client = Client()
    client.force_login(superuser)
    client.post(reverse("admin:login"), {"username": "nobody", "password": "wrong"})  # axes rows
    return {
        model: model._default_manager.order_by("pk").first()
        for model in admin.site._registry
        if model._default_manager.exists()
    }


def page_urls(one_of_each: dict[type[Model], Model]) -> list[str]:
    """The GET URL of every page of every registered model admin."""
    urls = []
    for model, model_admin in admin.site._registry.items():
        row = one_of_each.get(model)
        for pattern in model_admin.get_urls():
            if not isinstance(pattern, URLPattern) or pattern.name is None:
                continue
            names = PARAMETER.findall(str(pattern.pattern))
            if not names:
                urls.append(reverse(f"admin:{pattern.name}"))
            elif row is not None:
                assert len(names) == 1, pattern  # object_id (auth's password page: id)
                urls.append(reverse(f"admin:{pattern.name}", kwargs={names[0]: row.pk}))
    return urls


@pytest.mark.parametrize("who", ["clerk_client", "manager_client", "admin_client"])
def test_no_admin_page_is_a_server_error(request, who, one_of_each):
    client: Client = request.getfixturevalue(who)
    urls = page_urls(one_of_each)

    answers = {url: client.get(url).status_code for url in urls}

    assert len(urls) > 40  # every model admin's pages were found
    assert {url: status for url, status in answers.items() if status >= 500} == {}
    assert answers[reverse("admin:operators_operator_changelist")] == 200


def object_page_urls(malformed: str) -> list[tuple[type[Model], str]]:
    """Every object page of every registered model admin (change, history, delete and the
    custom ones) with `malformed` (already URL-encoded) as its object id."""
    urls = []
    for model, model_admin in admin.site._registry.items():
        for pattern in model_admin.get_urls():
            if not isinstance(pattern, URLPattern) or pattern.name is None:
                continue
            names = PARAMETER.findall(str(pattern.pattern))
            if names:
                url = reverse(f"admin:{pattern.name}", kwargs={names[0]: "424242"})
                urls.append((model, url.replace("424242", malformed)))
    return urls


@pytest.mark.parametrize("malformed", ["%00", "1%00", "%00abc", "%01", "abc%7F", "abc"])
def test_a_malformed_object_id_in_any_admin_url_is_a_404(admin_client, malformed):
    urls = object_page_urls(malformed)

    answers = {
        url: admin_client.get(url).status_code
        for model, url in urls
        # a string id may be "abc"; an integer one may not
        if malformed != "abc" or model._meta.pk.get_internal_type() != "CharField"
    }

    assert len(urls) > 25  # change, history, delete and the custom pages of every admin
    assert {url: status for url, status in answers.items() if status != 404} == {}


def test_a_clerk_opens_an_operator_read_only(clerk_client, one_of_each):
    from operators.models import Operator

    operator = one_of_each[Operator]

    response = clerk_client.get(reverse("admin:operators_operator_change", args=[operator.pk]))

    assert response.status_code == 200
    assert b'name="ext_percent"' not in response.content  # shown, not editable
