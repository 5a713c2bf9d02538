from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from operators.admin import SECRET_PLACEHOLDER, timezone_choices
from operators.models import Operator
from operators.signing import signature
from tests.admin.conftest import LocalPam
from tests.admin.forms import change_form_data
from tests.factories import DEFAULT_SECRET, BetcardFactory, OperatorFactory, TicketFactory

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:operators_operator_add")


def operator_form(**overrides: str) -> dict[str, str]:
    return {
        "name": "acme",
        "is_active": "on",
        "webhook_url": "https://pam.acme.example/hook",
        "timezone": "Africa/Nairobi",
        "currencies": "KES,USD",
        "ext_percent": "12.5",
        "ext_type": "inclusive",
        "wht_percent": "10",
        "aff_comm_percent": "",
        "reservation_minutes": "30",
        "rate_limit": "100",
        "max_tickets_per_player": "",
        "max_daily_spend": "",
        "signing": "betstack",
        **overrides,
    }


def test_creating_an_operator_shows_its_secret_once_and_never_again(
    manager_client: Client,
) -> None:
    # when
    response = manager_client.post(ADD_URL, operator_form())

    # then the answer to the POST holds the secret, uncached
    operator = Operator.objects.get(name="acme")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"].split(", ")
    assert operator.secret_key in response.content.decode()
    assert operator.timezone == "Africa/Nairobi"
    assert operator.currencies == ["KES", "USD"]
    assert operator.secret_key not in operator.secret_key_encrypted
    # and no later page shows it
    change = manager_client.get(reverse("admin:operators_operator_change", args=[operator.pk]))
    listing = manager_client.get(reverse("admin:operators_operator_changelist"))
    for page in (change, listing):
        assert operator.secret_key not in page.content.decode()
    assert SECRET_PLACEHOLDER in change.content.decode()
    assert LogEntry.objects.filter(object_id=str(operator.pk), action_flag=ADDITION).count() == 1


def test_a_new_operator_can_be_created_inactive(manager_client: Client) -> None:
    manager_client.post(ADD_URL, operator_form(is_active=""))

    assert Operator.objects.get(name="acme").is_active is False


def test_operator_form_rejects_out_of_range_taxes_and_bad_currencies(
    manager_client: Client,
) -> None:
    response = manager_client.post(
        ADD_URL, operator_form(ext_percent="150", currencies="kes,USD", timezone="Mars/Base")
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"ext_percent", "currencies", "timezone"}
    assert not Operator.objects.exists()


def test_rotating_the_secret_asks_first_then_shows_the_new_key_once(
    manager_client: Client,
) -> None:
    # given
    operator = OperatorFactory(name="acme")
    url = reverse("admin:operators_operator_rotate_secret", args=[operator.pk])

    # when the manager opens the rotate page
    question = manager_client.get(url)

    # then nothing changed yet
    assert question.status_code == 200
    assert "Yes, rotate the secret" in question.content.decode()
    assert Operator.objects.get(pk=operator.pk).secret_key == DEFAULT_SECRET

    # when they confirm
    response = manager_client.post(url, {"confirmed": "yes"})

    # then a new key is shown once and logged
    rotated = Operator.objects.get(pk=operator.pk)
    assert rotated.secret_key != DEFAULT_SECRET
    assert rotated.secret_key in response.content.decode()
    assert "no-store" in response["Cache-Control"].split(", ")
    entry = LogEntry.objects.get(object_id=str(operator.pk), action_flag=CHANGE)
    assert entry.get_change_message() == "Rotated the secret key (24 hours of grace)."
    assert entry.user.username == "manny"
    # the old key keeps verifying for the grace period, and the rotation is recorded
    assert rotated.secrets_at(timezone.now()) == [rotated.secret_key, DEFAULT_SECRET]
    [record] = rotated.secret_rotations.all()
    assert record.rotated_by == "manny"
    assert record.grace_until == rotated.previous_secret_valid_until
    page = manager_client.get(reverse("admin:operators_operator_change", args=[operator.pk]))
    assert "by manny, old key valid until" in page.content.decode()


def test_timezone_choices_are_sorted_iana_names_with_utc_first() -> None:
    names = [value for value, _ in timezone_choices()]

    assert names[0] == "UTC"
    assert "Africa/Nairobi" in names
    assert names[1:] == sorted(names[1:])


def test_clerk_sees_operators_but_cannot_add_change_or_rotate(clerk_client: Client) -> None:
    operator = OperatorFactory(name="acme")

    listing = clerk_client.get(reverse("admin:operators_operator_changelist"))
    add = clerk_client.get(ADD_URL)
    rotate = clerk_client.post(
        reverse("admin:operators_operator_rotate_secret", args=[operator.pk]), {"confirmed": "yes"}
    )
    change = clerk_client.post(
        reverse("admin:operators_operator_change", args=[operator.pk]),
        operator_form(name="renamed"),
    )

    assert listing.status_code == 200
    assert add.status_code == 403
    assert rotate.status_code == 403
    assert change.status_code == 403
    assert Operator.objects.get(pk=operator.pk).secret_key == DEFAULT_SECRET
    assert Operator.objects.get(pk=operator.pk).name == "acme"


def test_send_test_webhook_posts_a_signed_test_action_and_reports_the_answer(
    manager_client: Client, local_pam: LocalPam
) -> None:
    # given
    operator = OperatorFactory(name="acme", webhook_url=local_pam.url)
    local_pam.answer_with(200, b'{"ok":true}')
    url = reverse("admin:operators_operator_test_webhook", args=[operator.pk])

    # when
    response = manager_client.post(url, {"confirmed": "yes"}, follow=True)

    # then
    [(headers, body)] = local_pam.received
    assert json.loads(body)["action"] == "test"
    assert json.loads(body)["data"]["operator"] == "acme"
    assert headers["signature"] == signature(DEFAULT_SECRET, headers["timestamp"], body)
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("Test webhook to acme: delivered (HTTP 200, ")
    assert message.endswith('; body: {"ok":true}')
    entry = LogEntry.objects.get(object_id=str(operator.pk), action_flag=CHANGE)
    assert entry.get_change_message().startswith("Sent a test webhook: delivered (HTTP 200")


def test_send_test_webhook_reports_a_refusal_as_an_error(
    manager_client: Client, local_pam: LocalPam
) -> None:
    operator = OperatorFactory(name="acme", webhook_url=local_pam.url)
    local_pam.answer_with(403, b"bad signature")

    response = manager_client.post(
        reverse("admin:operators_operator_changelist"),
        {"action": "send_test_webhook", "_selected_action": [operator.pk], "confirmed": "yes"},
        follow=True,
    )

    [message] = list(response.context["messages"])
    assert message.level_tag == "error"
    assert str(message).startswith("Test webhook to acme: refused (HTTP 403, ")
    assert str(message).endswith("; body: bad signature")


def test_a_manager_sets_the_limits_on_the_operators_page(manager_client: Client) -> None:
    # given
    operator = OperatorFactory(name="limits-co")
    url = reverse("admin:operators_operator_change", args=[operator.pk])
    data = change_form_data(manager_client, url)

    # when
    data.update(rate_limit="20", max_tickets_per_player="5", max_daily_spend="250000")
    response = manager_client.post(url, data)

    # then
    assert response.status_code == 302
    operator.refresh_from_db()
    assert (operator.rate_limit, operator.max_tickets_per_player, operator.max_daily_spend) == (
        20,
        5,
        250_000,
    )


def test_a_clerk_sees_the_limits_read_only(clerk_client: Client) -> None:
    operator = OperatorFactory(max_daily_spend=1000)

    page = clerk_client.get(reverse("admin:operators_operator_change", args=[operator.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Limits" in html
    assert 'name="max_daily_spend"' not in html  # shown, not editable


def test_the_operators_page_shows_todays_top_players_against_the_daily_limit(
    admin_client: Client,
) -> None:
    # given: one player spent 1500 of a 2000 limit today, another 500
    operator = OperatorFactory(max_daily_spend=2000)
    card = BetcardFactory(events=1)
    for token, count in (("big-spender", 3), ("small-fry", 1)):
        TicketFactory.create_batch(count, operator=operator, betcard=card, token=token)

    # when
    page = admin_client.get(reverse("admin:operators_operator_change", args=[operator.pk]))

    # then
    html = page.content.decode()
    assert "Top players today" in html
    assert html.index("big-spender") < html.index("small-fry")
    assert "75 %" in html


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("max_tickets_per_player", "max_tickets_per_player must be between 1 and"),
        ("max_daily_spend", "max_daily_spend must be between 1 and"),
        ("reservation_minutes", "reservation_minutes must be between 1 and"),
    ],
)
def test_a_limit_the_engine_refuses_is_a_form_error_on_add_and_on_edit(
    manager_client: Client, field: str, message: str
) -> None:
    # when: an add with 0, which operator_create refuses
    added = manager_client.post(ADD_URL, operator_form(**{field: "0"}))

    # then: the form says why, and nothing was created
    assert added.status_code == 200
    assert message in added.content.decode()
    assert not Operator.objects.filter(name="acme").exists()

    # and an edit of an existing operator refuses it the same way
    operator = OperatorFactory(name="beta")
    change = reverse("admin:operators_operator_change", args=[operator.pk])
    edited = manager_client.post(change, operator_form(name="beta", **{field: "0"}))
    assert edited.status_code == 200
    assert message in edited.content.decode()
    operator.refresh_from_db()
    assert getattr(operator, field) != 0
