from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

from tests.admin.builders import delivery_for
from tests.factories import TicketFactory
from tickets.models import DeliveryStatus, Ticket, TicketResult, TicketStatus, WebhookDelivery

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:tickets_ticket_changelist")


def change_url(ticket: Ticket) -> str:
    return reverse("admin:tickets_ticket_change", args=[ticket.pk])


def listed(client: Client, **params: str) -> list[str]:
    response = client.get(LIST_URL, params)
    assert response.status_code == 200
    return [ticket.code for ticket in response.context["cl"].result_list]


@pytest.mark.parametrize("how", ["id", "code", "lower-case code", "token"])
def test_search_finds_a_ticket_by_exact_id_code_or_token(admin_client: Client, how: str) -> None:
    ticket = TicketFactory(code="AB12CD", token="player-77")
    TicketFactory(token="player-777")
    term = {
        "id": ticket.pk,
        "code": "AB12CD",
        "lower-case code": "ab12cd",
        "token": "player-77",
    }[how]

    assert listed(admin_client, q=term) == ["AB12CD"]


def test_search_never_matches_part_of_a_value(admin_client: Client) -> None:
    TicketFactory(code="AB12CD", token="player-77")

    assert listed(admin_client, q="AB12") == []
    assert listed(admin_client, q="player") == []


def test_filters_by_status_result_and_source(admin_client: Client) -> None:
    TicketFactory(code="OPEN01", source="ussd")
    TicketFactory(
        code="CANC01", status=TicketStatus.CANCELLED, result=TicketResult.VOID, source="desktop"
    )

    assert listed(admin_client, status__exact="cancelled") == ["CANC01"]
    assert listed(admin_client, result__exact="pending") == ["OPEN01"]
    assert listed(admin_client, source="ussd") == ["OPEN01"]


def test_tickets_are_read_only_even_for_a_superuser(admin_client: Client) -> None:
    ticket = TicketFactory()

    page = admin_client.get(change_url(ticket))

    assert page.context["has_change_permission"] is False
    assert admin_client.get(reverse("admin:tickets_ticket_add")).status_code == 403
    assert (
        admin_client.get(reverse("admin:tickets_ticket_delete", args=[ticket.pk])).status_code
        == 403
    )


def test_the_ticket_page_shows_selections_and_every_webhook_attempt(admin_client: Client) -> None:
    ticket = TicketFactory()
    delivery_for(ticket, status=DeliveryStatus.PENDING, attempts=2)

    page = admin_client.get(change_url(ticket)).content.decode()

    for selection in ticket.selections.select_related("bet__market"):
        assert f"1X2: 1 (bet {selection.bet_id})" in page
    assert page.count("<td>HTTP 503</td>") == 2
    assert "ticket_create" in page


def test_cancel_asks_first_then_cancels_sends_discard_and_logs(manager_client: Client) -> None:
    # given
    ticket = TicketFactory(code="CANC02")
    url = reverse("admin:tickets_ticket_cancel", args=[ticket.pk])

    # when the manager opens the cancel page
    question = manager_client.get(url)

    # then nothing happened yet
    assert "Yes, cancel and send these webhooks" in question.content.decode()
    assert "CANC02" in question.content.decode()
    assert "→ ticket_discard" in question.content.decode()  # its ticket_create is not delivered
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.OPEN

    # when they confirm
    response = manager_client.post(url, {"confirmed": "yes"}, follow=True)

    # then
    ticket.refresh_from_db()
    assert (ticket.status, ticket.result, ticket.approved, ticket.cancel_reason) == (
        TicketStatus.CANCELLED,
        TicketResult.VOID,
        False,
        "staff_cancelled",
    )
    discard = WebhookDelivery.objects.get(ticket=ticket, action="ticket_discard")
    assert '"reason":"staff_cancelled"' in discard.body
    assert [str(m) for m in response.context["messages"]] == [
        "Ticket CANC02 cancelled; ticket_discard queued."
    ]
    entry = LogEntry.objects.get(object_id=ticket.pk)
    assert entry.get_change_message() == "Cancelled by staff; ticket_discard queued."
    assert entry.user.username == "manny"


def test_cancel_action_from_the_list_is_confirmed_too(manager_client: Client) -> None:
    tickets = TicketFactory.create_batch(2)
    form = {"action": "cancel_tickets", "_selected_action": [t.pk for t in tickets]}

    question = manager_client.post(LIST_URL, form)
    still_open = Ticket.objects.filter(status=TicketStatus.OPEN).count()
    manager_client.post(LIST_URL, {**form, "confirmed": "yes"})

    assert question.status_code == 200
    assert still_open == 2
    assert Ticket.objects.filter(status=TicketStatus.CANCELLED).count() == 2
    assert LogEntry.objects.count() == 2


def test_retry_webhook_reopens_a_failed_delivery_and_logs(manager_client: Client) -> None:
    ticket = TicketFactory()
    delivery = delivery_for(ticket, status=DeliveryStatus.FAILED, attempts=3)
    url = reverse("admin:tickets_ticket_retry_webhooks", args=[ticket.pk])

    manager_client.post(url, {"confirmed": "yes"})

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert LogEntry.objects.get(object_id=ticket.pk).get_change_message() == (
        "Retried webhook ticket_create now."
    )


def test_delivery_page_retry_now_is_confirmed_and_logged(manager_client: Client) -> None:
    delivery = delivery_for(TicketFactory(), status=DeliveryStatus.FAILED, attempts=1)
    url = reverse("admin:tickets_webhookdelivery_retry", args=[delivery.pk])

    question = manager_client.get(url)
    manager_client.post(url, {"confirmed": "yes"})

    assert question.status_code == 200
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.PENDING
    assert LogEntry.objects.get(object_id=str(delivery.pk)).get_change_message() == "Retried now."


def test_clerk_can_look_but_not_cancel_or_retry(clerk_client: Client) -> None:
    ticket = TicketFactory()
    delivery = delivery_for(ticket, status=DeliveryStatus.FAILED)

    page = clerk_client.get(change_url(ticket))
    cancel = clerk_client.post(
        reverse("admin:tickets_ticket_cancel", args=[ticket.pk]), {"confirmed": "yes"}
    )
    retry = clerk_client.post(
        reverse("admin:tickets_webhookdelivery_retry", args=[delivery.pk]), {"confirmed": "yes"}
    )
    listing = clerk_client.get(LIST_URL)

    assert page.status_code == 200
    assert "Cancel ticket" not in page.content.decode()
    assert cancel.status_code == 403
    assert retry.status_code == 403
    assert listing.context["action_form"] is None or not listing.context[
        "cl"
    ].model_admin.get_actions(listing.wsgi_request)
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.OPEN
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.FAILED
