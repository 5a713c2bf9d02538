from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from betcards.models import Bet, Event, Market, MarketResultChange, Team
from tests.admin.forms import change_form_data
from tests.factories import EventFactory, TeamFactory

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("admin:betcards_event_import")

CATALOGUE = {
    "teams": [{"id": 1, "name": "Arsenal"}, {"id": 2, "name": "Chelsea"}],
    "events": [
        {
            "id": 265825,
            "home": 1,
            "away": 2,
            "starts_at": "2030-12-01T15:00:00Z",
            "bookmaker_event": "bm-9911",
            "markets": [
                {
                    "id": 7001,
                    "name": "1X2",
                    "blocked": False,
                    "bets": [
                        {"id": 14, "name": "1", "odds": 2.55},
                        {"id": 15, "name": "X", "odds": 3.10},
                        {"id": 16, "name": "2", "odds": 2.70},
                    ],
                }
            ],
        }
    ],
    "betcards": [],
}


def upload(document: object) -> SimpleUploadedFile:
    return SimpleUploadedFile("catalogue.json", json.dumps(document).encode(), "application/json")


def test_manager_imports_a_catalogue_file_and_the_import_is_logged(
    manager_client: Client, manager: User
) -> None:
    response = manager_client.post(IMPORT_URL, {"document": upload(CATALOGUE)}, follow=True)

    assert response.redirect_chain == [(reverse("admin:betcards_event_changelist"), 302)]
    assert Event.objects.get(pk=265825).bookmaker_event.external_id == "bm-9911"
    assert Bet.objects.get(pk=15).odds == Decimal("3.100")
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("Catalogue imported: teams: 2 created, 0 updated, 0 unchanged;")
    entry = LogEntry.objects.get(user=manager, action_flag=CHANGE)
    assert entry.get_change_message().startswith("Imported a catalogue: teams: 2 created")


def test_a_bad_catalogue_file_imports_nothing_and_names_the_bad_entry(
    manager_client: Client,
) -> None:
    bad = {**CATALOGUE, "events": [{**CATALOGUE["events"][0], "home": 99}]}

    response = manager_client.post(IMPORT_URL, {"document": upload(bad)})

    assert response.status_code == 200
    [error] = response.context["form"].errors["document"]
    assert error.startswith("Nothing was imported: events[0] (id 265825):")
    assert "99" in error
    assert not Team.objects.exists()


def test_a_file_that_is_not_json_is_refused(manager_client: Client) -> None:
    response = manager_client.post(
        IMPORT_URL, {"document": SimpleUploadedFile("c.json", b"{not json")}
    )

    [error] = response.context["form"].errors["document"]
    assert error.startswith("The file is not valid JSON:")


def test_clerk_cannot_open_the_import_page(clerk_client: Client) -> None:
    assert clerk_client.get(IMPORT_URL).status_code == 403


def test_odds_are_edited_inline_on_the_event_page(admin_client: Client) -> None:
    # given
    event = EventFactory()
    url = reverse("admin:betcards_event_change", args=[event.pk])
    data = change_form_data(admin_client, url)
    draw = event.pk * 10 + 1

    # when
    data[f"markets-0-odds_{draw}"] = "3.333"
    response = admin_client.post(url, data)

    # then
    assert response.status_code == 302
    assert Bet.objects.get(pk=draw).odds == Decimal("3.333")
    assert Bet.objects.get(pk=event.pk * 10).odds == Decimal("2.100")


def test_odds_below_one_are_refused_on_the_event_page(admin_client: Client) -> None:
    event = EventFactory()
    url = reverse("admin:betcards_event_change", args=[event.pk])
    data = change_form_data(admin_client, url)
    data[f"markets-0-odds_{event.pk * 10}"] = "0.5"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert Bet.objects.get(pk=event.pk * 10).odds == Decimal("2.100")


def test_one_click_blocks_then_unblocks_a_market(manager_client: Client) -> None:
    event = EventFactory()
    url = reverse("admin:betcards_market_toggle_block", args=[event.pk * 10])
    back = reverse("admin:betcards_event_changelist")

    first = manager_client.post(f"{url}?next={back}")
    blocked = Market.objects.get(pk=event.pk * 10).is_blocked
    manager_client.post(f"{url}?next={back}")

    assert first.status_code == 302
    assert first["Location"] == back
    assert blocked is True
    assert Market.objects.get(pk=event.pk * 10).is_blocked is False
    messages = LogEntry.objects.filter(object_id=str(event.pk * 10)).order_by("pk")
    assert [e.get_change_message() for e in messages] == ["Blocked.", "Unblocked."]


def test_bulk_action_blocks_every_market_of_the_selected_events(
    manager_client: Client,
) -> None:
    events = EventFactory.create_batch(2)
    untouched = EventFactory()

    manager_client.post(
        reverse("admin:betcards_event_changelist"),
        {"action": "block_markets", "_selected_action": [e.pk for e in events]},
    )

    assert set(Market.objects.filter(is_blocked=True).values_list("event_id", flat=True)) == {
        e.pk for e in events
    }
    assert not Market.objects.get(event=untouched).is_blocked


def test_entering_a_result_goes_through_the_audit_with_the_staff_user(
    manager_client: Client, manager: User
) -> None:
    # given
    event = EventFactory()
    market_id = event.pk * 10
    url = reverse("admin:betcards_market_result", args=[market_id])

    # when a winner is set, then corrected to void without a reason, then with one
    manager_client.post(url, {"outcome": str(market_id + 2)})
    refused = manager_client.post(url, {"outcome": "void", "reason": ""})
    manager_client.post(url, {"outcome": "void", "reason": "match abandoned"})

    # then
    assert refused.context["form"].errors == {"reason": ["Say why the result is being corrected."]}
    market = Market.objects.get(pk=market_id)
    assert market.is_void is True
    assert market.winning_bet_id is None
    assert market.result_set_by == manager
    history = list(
        MarketResultChange.objects.filter(market_id=market_id)
        .order_by("pk")
        .values_list("winning_bet_id", "is_void", "source", "reason", "changed_by__username")
    )
    assert history == [
        (market_id + 2, False, "admin", "", "manny"),
        (None, True, "admin", "match abandoned", "manny"),
    ]
    page = manager_client.get(reverse("admin:betcards_market_change", args=[market_id]))
    assert "match abandoned" in page.content.decode()


@pytest.mark.parametrize("term", ["Arsenal", "300001", "bm-3", ""])
def test_event_search_accepts_words_and_ids(admin_client: Client, term: str) -> None:
    EventFactory(home_team=TeamFactory(name="Arsenal"))

    response = admin_client.get(reverse("admin:betcards_event_changelist"), {"q": term})

    assert response.status_code == 200


def test_several_problems_are_listed_one_per_line(manager_client: Client) -> None:
    bad = {
        **CATALOGUE,
        "teams": [
            {**CATALOGUE["teams"][0], "active": "yes"},
            {**CATALOGUE["teams"][1], "name": ""},
        ],
    }

    response = manager_client.post(IMPORT_URL, {"document": upload(bad)})

    errors = [m for e in response.context["form"].errors["document"].as_data() for m in e]
    assert errors[0] == "Nothing was imported: 2 problems:"
    assert [error.split(":")[0] for error in errors[1:]] == ["teams[0] (id 1)", "teams[1] (id 2)"]
    assert not Team.objects.exists()
