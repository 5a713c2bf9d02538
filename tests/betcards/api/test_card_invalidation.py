"""A card's kept answer is refreshed by every path that changes what it shows
(contract.md § Bet Card API: the ETag changes whenever anything in the answer changes).

Each test reads the card (its answer is kept), changes it the way staff or a scheduled job
would, then asks again with the old ETag: a 200 with a new ETag and the change, never a 304.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from betcards.models import CardOffer, Event
from operators.models import Operator
from tests.admin.forms import change_form_data
from tests.factories import BetcardFactory, OperatorFactory
from tests.support.api import signed_get
from tests.tickets.settlement.conftest import results_enter

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return OperatorFactory()


@pytest.fixture
def card():
    return BetcardFactory(events=2, code="CACHED")


@pytest.fixture
def event(card):
    return card.card_events.order_by("position").first().event


class Reader:
    """Reads the card as an operator polling it would: with the ETag it last got."""

    def __init__(self, client: Client, operator: Operator, code: str) -> None:
        self.client, self.operator, self.path = client, operator, f"/bc/jackpots/{code}"
        first = signed_get(client, operator, self.path)
        assert first.status_code == 200
        self.etag = first["ETag"]
        assert CardOffer.objects.filter(betcard__code=code).exists()  # kept, not rebuilt

    def changed(self) -> dict[str, Any]:
        """The new answer; fails if the old ETag still matches."""
        response = signed_get(
            self.client, self.operator, self.path, headers={"If-None-Match": self.etag}
        )
        assert response.status_code == 200, "a change left the kept answer in place"
        assert response["ETag"] != self.etag
        body: dict[str, Any] = response.json()
        return body

    def unchanged(self) -> None:
        response = signed_get(
            self.client, self.operator, self.path, headers={"If-None-Match": self.etag}
        )
        assert response.status_code == 304


def first_market(body: dict[str, Any]) -> Any:
    return body["events"][0]["markets"][0]


def test_nothing_changed_keeps_the_etag(client, operator, card):
    Reader(client, operator, card.code).unchanged()


def test_odds_edited_in_the_admin(client, operator, card, event, admin_client):
    # given
    reader = Reader(client, operator, card.code)
    url = reverse("admin:betcards_event_change", args=[event.pk])
    data = change_form_data(admin_client, url)

    # when
    data[f"markets-0-odds_{event.pk * 10 + 1}"] = "3.333"
    assert admin_client.post(url, data).status_code == 302

    # then
    assert first_market(reader.changed())["bets"][1]["odds"] == 3.333


def test_market_blocked_with_the_admin_button(client, operator, card, event, manager_client):
    reader = Reader(client, operator, card.code)

    manager_client.post(reverse("admin:betcards_market_toggle_block", args=[event.pk * 10]))

    assert first_market(reader.changed())["blocked"] is True


def test_markets_blocked_with_the_bulk_action(client, operator, card, event, manager_client):
    reader = Reader(client, operator, card.code)

    manager_client.post(
        reverse("admin:betcards_event_changelist"),
        {"action": "block_markets", "_selected_action": [event.pk]},
    )

    assert first_market(reader.changed())["blocked"] is True


def test_card_closed_in_the_admin(client, operator, card, manager_client):
    reader = Reader(client, operator, card.code)

    manager_client.post(reverse("admin:betcards_betcard_close", args=[card.pk]))

    assert reader.changed()["status"] == "closed"


def test_result_entered_in_the_admin(client, operator, card, event, manager_client):
    reader = Reader(client, operator, card.code)

    manager_client.post(
        reverse("admin:betcards_market_result", args=[event.pk * 10]),
        {"outcome": str(event.pk * 10 + 2)},
    )

    assert first_market(reader.changed())["result"] == {"winning_bet": event.pk * 10 + 2}


def test_team_renamed_in_the_admin(client, operator, card, event, admin_client):
    # given
    reader = Reader(client, operator, card.code)
    url = reverse("admin:betcards_team_change", args=[event.home_team_id])
    data = change_form_data(admin_client, url)

    # when
    data["name"] = "Renamed FC"
    assert admin_client.post(url, data).status_code == 302

    # then
    assert reader.changed()["events"][0]["home_team"]["name"] == "Renamed FC"


def test_odds_and_names_changed_by_import_catalogue(client, operator, card, event, tmp_path):
    # given
    reader = Reader(client, operator, card.code)
    document = catalogue_of(event)
    document["teams"][0]["name"] = "Imported FC"
    document["events"][0]["markets"][0]["bets"][0]["odds"] = 9.99

    # when
    import_file(tmp_path, document)

    # then
    body = reader.changed()
    assert body["events"][0]["home_team"]["name"] == "Imported FC"
    assert first_market(body)["bets"][0]["odds"] == 9.99


def test_reimporting_the_same_catalogue_keeps_the_etag(client, operator, card, event, tmp_path):
    reader = Reader(client, operator, card.code)

    import_file(tmp_path, catalogue_of(event))

    reader.unchanged()


def test_card_settled_by_settle_betcard(client, operator, card):
    # given: results entered, the answer kept afterwards
    results_enter(card)
    reader = Reader(client, operator, card.code)

    # when
    call_command("settle_betcard", card.code, "--no-progress", stdout=io.StringIO())

    # then
    assert reader.changed()["status"] == "settled"


def catalogue_of(event: Event) -> dict[str, Any]:
    """An import document that states `event` exactly as it is."""
    return {
        "teams": [
            {"id": team.pk, "name": team.name} for team in (event.home_team, event.away_team)
        ],
        "events": [
            {
                "id": event.pk,
                "home": event.home_team_id,
                "away": event.away_team_id,
                "starts_at": event.starts_at.isoformat(),
                "bookmaker_event": event.bookmaker_event.external_id,
                "markets": [
                    {
                        "id": market.pk,
                        "name": market.name,
                        "blocked": market.is_blocked,
                        "bets": [
                            {"id": bet.pk, "name": bet.name, "odds": float(bet.odds)}
                            for bet in market.bets.order_by("pk")
                        ],
                    }
                    for market in event.markets.order_by("pk")
                ],
            }
        ],
        "betcards": [],
    }


def import_file(tmp_path: Path, document: dict[str, Any]) -> None:
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(document))
    call_command("import_catalogue", str(path), stdout=io.StringIO())
