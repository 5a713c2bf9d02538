from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from betcards.models import Betcard, BetcardEvent, BetcardStatus
from betcards.services import betcard_assert_editable
from jackpot.core.errors import BetcardLocked
from tests.admin.builders import home_wins_everywhere
from tests.admin.forms import change_form_data
from tests.factories import BetcardFactory, EventFactory, OperatorFactory, TicketFactory
from tests.support.settlement import settlement_running
from tests.support.worker import (
    QueuedTask,
    RedisServer,
    celery_broker,
    free_port,
)
from tickets.models import TicketResult, TicketStatus
from tickets.tasks import betcard_resettle_task, betcard_settle_task

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:betcards_betcard_add")
LIST_URL = reverse("admin:betcards_betcard_changelist")


def change_url(card: Betcard) -> str:
    return reverse("admin:betcards_betcard_change", args=[card.pk])


def new_card_form(events: list[Any]) -> dict[str, str]:
    data = {
        "code": "WKND01",
        "name": "Weekend Mega Jackpot",
        "operator": "",
        "currency": "USD",
        "price": "500",
        "prize": "1000000",
        "bonus_prizes": "20000,15000,10000",
        "min_events": "",
        "opens_at_0": "2030-11-25",
        "opens_at_1": "00:00:00",
        "closes_at_0": "",
        "closes_at_1": "",
        "card_events-TOTAL_FORMS": str(len(events)),
        "card_events-INITIAL_FORMS": "0",
        "card_events-MIN_NUM_FORMS": "0",
        "card_events-MAX_NUM_FORMS": "1000",
    }
    for index, (position, event) in enumerate(events):
        data[f"card_events-{index}-position"] = str(position)
        data[f"card_events-{index}-event"] = str(event.pk)
    return data


def test_manager_creates_a_draft_betcard_with_events_in_the_chosen_order(
    manager_client: Client,
) -> None:
    # given
    first, second, third = EventFactory.create_batch(3)

    # when positions are typed out of list order
    response = manager_client.post(ADD_URL, new_card_form([(2, first), (1, second), (3, third)]))

    # then
    assert response.status_code == 302
    card = Betcard.objects.get(code="WKND01")
    assert card.status == BetcardStatus.DRAFT
    assert card.bonus_prizes == [20000, 15000, 10000]
    assert list(BetcardEvent.objects.filter(betcard=card).values_list("event_id", flat=True)) == [
        second.pk,
        first.pk,
        third.pk,
    ]


def test_locked_rule_names_the_ticket_count_and_the_fields() -> None:
    card = BetcardFactory(events=2)
    TicketFactory.create_batch(12, betcard=card)

    with pytest.raises(BetcardLocked) as raised:
        betcard_assert_editable(betcard=card, changing=["name", "price", "events"])

    assert str(raised.value) == (
        "This betcard has 12 tickets: its events, price and prizes can no longer change "
        "(you changed: events, price)."
    )
    betcard_assert_editable(betcard=card, changing=["name", "opens_at"])


def test_a_betcard_with_tickets_refuses_a_new_price_with_a_clear_message(
    admin_client: Client,
) -> None:
    # given
    card = BetcardFactory(events=2, price=500)
    TicketFactory(betcard=card)
    data = change_form_data(admin_client, change_url(card))

    # when
    data["price"] = "600"
    response = admin_client.post(change_url(card), data)

    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "This betcard has 1 ticket: its events, price and prizes can no longer change "
        "(you changed: price)."
    ]
    assert Betcard.objects.get(pk=card.pk).price == 500


def test_a_betcard_with_tickets_still_takes_a_new_name_and_sales_window(
    admin_client: Client,
) -> None:
    card = BetcardFactory(events=2)
    TicketFactory(betcard=card)
    data = change_form_data(admin_client, change_url(card))

    data["name"] = "Renamed jackpot"
    data["closes_at_0"], data["closes_at_1"] = "2031-01-01", "12:00:00"
    response = admin_client.post(change_url(card), data)

    assert response.status_code == 302
    saved = Betcard.objects.get(pk=card.pk)
    assert saved.name == "Renamed jackpot"
    assert saved.closes_at == dt.datetime(2031, 1, 1, 12, tzinfo=dt.UTC)


def test_the_page_of_a_betcard_with_tickets_says_why_its_events_are_read_only(
    admin_client: Client,
) -> None:
    card = BetcardFactory(events=2)
    TicketFactory.create_batch(3, betcard=card)

    response = admin_client.get(change_url(card))

    page = response.content.decode()
    assert "This betcard has 3 tickets: its events, price and prizes can no longer change." in page
    assert 'name="card_events-0-event"' not in page
    fields = response.context["adminform"].form.fields
    assert {name for name in fields if fields[name].widget.attrs.get("readonly")} == {
        "currency",
        "price",
        "prize",
        "bonus_prizes",
        "min_events",
    }


def test_changing_the_events_of_a_betcard_without_tickets_is_allowed(
    admin_client: Client,
) -> None:
    card = BetcardFactory(events=2)
    extra = EventFactory()
    data = change_form_data(admin_client, change_url(card))
    data.update(
        {
            "card_events-TOTAL_FORMS": "3",
            "card_events-2-position": "3",
            "card_events-2-event": str(extra.pk),
            "card_events-2-betcard": str(card.pk),
        }
    )

    response = admin_client.post(change_url(card), data)

    assert response.status_code == 302
    assert BetcardEvent.objects.filter(betcard=card).count() == 3


def test_live_figures_count_sold_tickets_and_leave_cancelled_ones_out(
    admin_client: Client,
) -> None:
    # given 2 sold tickets of 500 (stake 444, excise 56) and one cancelled
    card = BetcardFactory(events=2, code="FIGS01")
    operator = OperatorFactory()
    TicketFactory.create_batch(2, betcard=card, operator=operator)
    TicketFactory(betcard=card, operator=operator, status=TicketStatus.CANCELLED)

    # when
    listing = admin_client.get(LIST_URL)
    page = admin_client.get(change_url(card))

    # then
    [row] = listing.context["cl"].result_list
    admin_class = listing.context["cl"].model_admin
    assert admin_class.tickets_sold(row) == 2
    assert admin_class.total_price(row) == "10.00 USD"
    assert admin_class.total_stake(row) == "8.88 USD"
    assert admin_class.excise(row) == "1.12 USD"
    assert "8.88 USD" in page.content.decode()


def test_open_and_close_are_logged(manager_client: Client) -> None:
    card = BetcardFactory(events=1, status=BetcardStatus.DRAFT)

    manager_client.post(reverse("admin:betcards_betcard_open", args=[card.pk]))
    opened = Betcard.objects.get(pk=card.pk).status
    manager_client.post(LIST_URL, {"action": "close_betcards", "_selected_action": [card.pk]})

    assert opened == BetcardStatus.OPEN
    assert Betcard.objects.get(pk=card.pk).status == BetcardStatus.CLOSED
    assert [e.get_change_message() for e in LogEntry.objects.order_by("pk")] == [
        "Opened for sales.",
        "Closed (sales stopped).",
    ]


def test_a_betcard_without_events_cannot_open(manager_client: Client) -> None:
    card = BetcardFactory(status=BetcardStatus.DRAFT)

    response = manager_client.post(
        reverse("admin:betcards_betcard_open", args=[card.pk]), follow=True
    )

    assert [str(m) for m in response.context["messages"]] == [
        f"Betcard {card.code} has no events: add some first"
    ]
    assert Betcard.objects.get(pk=card.pk).status == BetcardStatus.DRAFT


def the_queued_task(broker: RedisServer) -> QueuedTask:
    [queued] = broker.queued_tasks()
    return queued


def run(queued: QueuedTask) -> str:
    """What a worker does with the message: the task's own body, with the queued args."""
    if queued.task == "tickets.betcard_settle":
        return str(betcard_settle_task(*queued.args))
    assert queued.task == "tickets.betcard_resettle"
    return str(betcard_resettle_task(*queued.args))


def test_settle_asks_first_then_queues_the_settlement_and_logs(
    manager_client: Client, broker: RedisServer, django_capture_on_commit_callbacks
) -> None:
    # given a closed card whose results all went home, with one winning ticket
    card = BetcardFactory(events=2, status=BetcardStatus.CLOSED, prize=10_000)
    ticket = TicketFactory(betcard=card)
    home_wins_everywhere(card)
    url = reverse("admin:betcards_betcard_settle", args=[card.pk])

    # when
    question = manager_client.get(url)
    unchanged = Betcard.objects.get(pk=card.pk).status
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(url, {"confirmed": "yes"}, follow=True)

    # then: the settlement is queued, not run in the request
    assert question.status_code == 200
    assert unchanged == BetcardStatus.CLOSED
    assert [str(m) for m in response.context["messages"]] == [
        f"{card.code}: settlement queued. It runs in the background (minutes for a large "
        "card): reload this card's page to follow it under Settlement rounds (running, "
        "then finished)."
    ]
    assert LogEntry.objects.get().get_change_message() == "Settlement queued"
    assert Betcard.objects.get(pk=card.pk).status == BetcardStatus.CLOSED
    queued = the_queued_task(broker)
    assert (queued.task, queued.args) == ("tickets.betcard_settle", [card.pk])

    # when a worker runs it
    assert run(queued) == "graded 1"

    # then
    assert Betcard.objects.get(pk=card.pk).status == BetcardStatus.SETTLED
    ticket.refresh_from_db()
    assert (ticket.status, ticket.result, ticket.gross_payout) == (
        TicketStatus.CLOSED if ticket.status == TicketStatus.CLOSED else TicketStatus.OPEN,
        TicketResult.WON,
        10_000,
    )
    page = manager_client.get(change_url(card)).content.decode()
    assert "#1 started" in page
    assert "— finished" in page


def test_settle_refuses_a_card_with_missing_results(
    manager_client: Client, broker: RedisServer, django_capture_on_commit_callbacks
) -> None:
    card = BetcardFactory(events=1, status=BetcardStatus.CLOSED)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = settle_refused(manager_client, card)

    assert message.startswith(f"Betcard `{card.code}` cannot be settled")
    assert Betcard.objects.get(pk=card.pk).status == BetcardStatus.CLOSED
    assert callbacks == []
    assert broker.queued_tasks() == []
    assert not LogEntry.objects.exists()


def test_settle_while_another_run_holds_the_card_says_so_and_queues_nothing(
    manager_client: Client, broker: RedisServer, django_capture_on_commit_callbacks
) -> None:
    # given a settlement running on the card (another session holds its run lock)
    card = BetcardFactory(events=1, status=BetcardStatus.CLOSED)
    home_wins_everywhere(card)
    with settlement_running(card), django_capture_on_commit_callbacks(execute=True):
        # when staff click settle
        message = settle_refused(manager_client, card)

    # then
    assert message.startswith(f"Betcard `{card.code}` is being settled by another run")
    assert broker.queued_tasks() == []
    assert not LogEntry.objects.exists()


def settle_refused(client: Client, card: Betcard) -> str:
    """Confirm "settle" on the card's page; the one message shown, which must be an error."""
    response = client.post(
        reverse("admin:betcards_betcard_settle", args=[card.pk]), {"confirmed": "yes"}, follow=True
    )
    [message] = list(response.context["messages"])
    assert message.level_tag == "error"
    return str(message)


def test_settle_of_a_settled_card_queues_nothing(
    manager_client: Client, broker: RedisServer, django_capture_on_commit_callbacks
) -> None:
    card = BetcardFactory(events=1, status=BetcardStatus.CLOSED)
    home_wins_everywhere(card)
    betcard_settle_task(card.pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            reverse("admin:betcards_betcard_settle", args=[card.pk]),
            {"confirmed": "yes"},
            follow=True,
        )

    assert [str(m) for m in response.context["messages"]] == [f"{card.code} was already settled."]
    assert broker.queued_tasks() == []


def test_resettle_needs_a_reason_and_records_it(
    manager_client: Client, manager: User, broker: RedisServer, django_capture_on_commit_callbacks
) -> None:
    # given a card settled from the back office
    card = BetcardFactory(events=1, status=BetcardStatus.CLOSED)
    TicketFactory(betcard=card)
    home_wins_everywhere(card)
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(
            reverse("admin:betcards_betcard_settle", args=[card.pk]),
            {"confirmed": "yes"},
            follow=True,
        )
    run(the_queued_task(broker))
    with broker.client() as client:
        client.flushdb()
    url = reverse("admin:betcards_betcard_resettle", args=[card.pk])

    # when
    with django_capture_on_commit_callbacks(execute=True):
        refused = manager_client.post(url, {"confirmed": "yes", "reason": " "}, follow=True)
    nothing_queued = broker.queued_tasks()
    with django_capture_on_commit_callbacks(execute=True):
        done = manager_client.post(
            url, {"confirmed": "yes", "reason": "feed corrected"}, follow=True
        )

    # then: the refusal is told at once, the resettlement is queued with its reason
    assert [(m.level_tag, str(m)) for m in refused.context["messages"]] == [
        ("error", f"A resettlement of betcard `{card.code}` needs a reason")
    ]
    assert nothing_queued == []
    [message] = [str(m) for m in done.context["messages"]]
    assert message.startswith(f"{card.code}: resettlement queued. It runs in the background")
    assert (
        LogEntry.objects.latest("pk").get_change_message()
        == "Resettlement queued, reason: feed corrected"
    )
    queued = the_queued_task(broker)
    assert (queued.task, queued.args) == (
        "tickets.betcard_resettle",
        [card.pk, "feed corrected", manager.pk, False],
    )

    # when a worker runs it
    assert run(queued) == "round 2: rolled back 0"

    # then
    round_2 = card.settlements.get(number=2)
    assert (round_2.reason, round_2.requested_by, round_2.finished_at is not None) == (
        "feed corrected",
        manager,
        True,
    )


@pytest.mark.django_db(transaction=True)
def test_settle_with_the_broker_down_says_so_and_changes_nothing(manager_client: Client) -> None:
    # given: no transaction around the request, so the task is published at once
    card = BetcardFactory(events=1, status=BetcardStatus.CLOSED)
    home_wins_everywhere(card)

    # when
    with celery_broker(f"redis://127.0.0.1:{free_port()}/0"):
        response = manager_client.post(
            reverse("admin:betcards_betcard_settle", args=[card.pk]),
            {"confirmed": "yes"},
            follow=True,
        )

    # then
    [message] = list(response.context["messages"])
    assert message.level_tag == "error"
    assert str(message).startswith(f"{card.code}: the settlement could not be queued (")
    assert str(message).endswith(
        f"nothing changed. Try again, or run python manage.py settle_betcard {card.code} "
        "on the server."
    )
    assert not LogEntry.objects.exists()
    assert Betcard.objects.get(pk=card.pk).status == BetcardStatus.CLOSED


def test_clerk_sees_betcards_but_cannot_change_or_settle(clerk_client: Client) -> None:
    card = BetcardFactory(events=1)

    assert clerk_client.get(LIST_URL).status_code == 200
    assert clerk_client.get(change_url(card)).status_code == 200
    assert (
        clerk_client.post(reverse("admin:betcards_betcard_close", args=[card.pk])).status_code
        == 403
    )
    assert (
        clerk_client.post(
            reverse("admin:betcards_betcard_settle", args=[card.pk]), {"confirmed": "yes"}
        ).status_code
        == 403
    )
    assert Betcard.objects.get(pk=card.pk).status == BetcardStatus.OPEN
