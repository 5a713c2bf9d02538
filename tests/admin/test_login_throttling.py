"""Back-office logins are throttled (django-axes): wrong passwords lock the username out for
that address, so guessing cannot go on, and the right password does not get in meanwhile."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.support.staff import PASSWORD

pytestmark = pytest.mark.django_db


def log_in(client: Client, username: str, password: str) -> int:
    response = client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": reverse("admin:index")},
    )
    return response.status_code


def test_twenty_wrong_passwords_lock_the_account_out_even_for_the_right_one(settings, superuser):
    # given
    client = Client()
    statuses = [log_in(client, superuser.username, f"guess-{n}") for n in range(20)]

    # when
    status = log_in(client, superuser.username, PASSWORD)

    # then: refused, not logged in
    assert statuses[0] == 200  # the login form again, with its error
    assert status == 429
    assert statuses[settings.AXES_FAILURE_LIMIT - 1 :] == [429] * (21 - settings.AXES_FAILURE_LIMIT)
    assert client.get(reverse("admin:index")).status_code == 302  # to the login page


def test_a_few_wrong_passwords_then_the_right_one_logs_in(superuser):
    client = Client()
    for n in range(3):
        log_in(client, superuser.username, f"guess-{n}")

    assert log_in(client, superuser.username, PASSWORD) == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_the_lockout_is_per_username_another_user_still_logs_in(superuser, manager):
    client = Client()
    for n in range(10):
        log_in(client, superuser.username, f"guess-{n}")

    assert log_in(client, manager.username, PASSWORD) == 302
