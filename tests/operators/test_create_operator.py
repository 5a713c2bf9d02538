from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from jackpot.core.errors import OperatorExists, OperatorInvalid
from operators.models import Operator
from operators.services import operator_create
from operators.signing import signature, signature_matches
from tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db


def run_create_operator(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_operator", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def operator_row(name: str) -> tuple[object, ...]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM operators_operator WHERE name = %s", [name])
        row = cursor.fetchone()
    assert row is not None
    return tuple(row)


def test_prints_exactly_one_json_object_with_name_and_secret() -> None:
    # when
    out, _ = run_create_operator(
        "site",
        "--webhook-url", "https://pam.example.com/hook",
        "--timezone", "Africa/Nairobi",
        "--ext", "12.5",
        "--ext-type", "exclusive",
        "--wht", "20",
        "--currencies", "KES, USD",
        "--aff-comm", "2.5",
    )  # fmt: skip

    # then
    printed = json.loads(out)
    assert out.count("\n") == 1
    assert list(printed) == ["operator", "secret_key"]
    assert printed["operator"] == "site"
    operator = Operator.objects.get(name="site")
    assert operator.secret_key == printed["secret_key"]
    assert (
        operator.webhook_url,
        operator.timezone,
        operator.ext_percent,
        operator.ext_type,
        operator.wht_percent,
        operator.currencies,
        operator.aff_comm_percent,
        operator.is_active,
    ) == (
        "https://pam.example.com/hook",
        "Africa/Nairobi",
        Decimal("12.50"),
        "exclusive",
        Decimal("20.00"),
        ["KES", "USD"],
        Decimal("2.50"),
        True,
    )


def test_defaults_are_utc_no_taxes_any_currency_no_webhook() -> None:
    run_create_operator("plain")

    operator = Operator.objects.get(name="plain")

    assert (
        operator.webhook_url,
        operator.timezone,
        operator.ext_percent,
        operator.ext_type,
        operator.wht_percent,
        operator.currencies,
        operator.aff_comm_percent,
    ) == ("", "UTC", Decimal(0), "inclusive", Decimal(0), [], None)


def test_secret_is_stored_encrypted_and_nowhere_in_clear() -> None:
    out, _ = run_create_operator("site", "--webhook-url", "http://127.0.0.1:9/pam")
    secret = json.loads(out)["secret_key"]

    row = operator_row("site")

    assert len(secret) >= 32
    assert not any(secret in str(value) for value in row)


def test_existing_name_is_refused_with_a_clear_message_and_nothing_changes() -> None:
    # given
    existing = OperatorFactory(name="site", secret="original-secret-0123456789")
    before = operator_row("site")

    # when
    with pytest.raises(CommandError) as error:
        run_create_operator("site", "--wht", "30")

    # then
    assert str(error.value) == (
        "operator 'site' already exists; nothing was changed "
        "(use --rotate-secret to issue it a new secret key)"
    )
    assert operator_row("site") == before
    assert Operator.objects.get(pk=existing.pk).secret_key == "original-secret-0123456789"


def test_rotate_secret_issues_a_new_working_key_and_the_old_one_stops_verifying() -> None:
    # given
    OperatorFactory(name="site", secret="original-secret-0123456789")
    body = b'{"operator":"site"}'

    # when
    out, _ = run_create_operator("site", "--rotate-secret")

    # then
    printed = json.loads(out)
    assert printed["operator"] == "site"
    stored = Operator.objects.get(name="site")
    assert stored.secret_key == printed["secret_key"] != "original-secret-0123456789"
    new_signature = signature(printed["secret_key"], "1706090303", body)
    assert signature_matches([stored.secret_key], "1706090303", body, new_signature)
    old_signature = signature("original-secret-0123456789", "1706090303", body)
    assert not signature_matches([stored.secret_key], "1706090303", body, old_signature)


def test_rotate_secret_leaves_settings_alone_and_says_which_options_it_ignored() -> None:
    OperatorFactory(name="site", wht_percent=Decimal(10))

    out, err = run_create_operator("site", "--rotate-secret", "--wht", "30")

    assert json.loads(out)["operator"] == "site"
    assert err == "note: --rotate-secret changes only the secret key; ignored --wht\n"
    assert Operator.objects.get(name="site").wht_percent == Decimal(10)


def test_rotate_secret_of_an_unknown_operator_is_refused() -> None:
    with pytest.raises(CommandError) as error:
        run_create_operator("nobody", "--rotate-secret")

    assert str(error.value) == (
        "operator 'nobody' does not exist; run create_operator without --rotate-secret "
        "to register it"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--timezone", "Mars/Olympus"],
            "time zone 'Mars/Olympus' is not an IANA time zone (e.g. UTC, Africa/Nairobi)",
        ),
        (
            ["--ext", "101"],
            "ext percent '101' must be a number from 0 to 100 with at most 2 decimals",
        ),
        (
            ["--wht", "-1"],
            "wht percent '-1' must be a number from 0 to 100 with at most 2 decimals",
        ),
        (
            ["--aff-comm", "ten"],
            "aff_comm percent 'ten' must be a number from 0 to 100 with at most 2 decimals",
        ),
        (
            ["--ext", "12.345"],
            "ext percent '12.345' must be a number from 0 to 100 with at most 2 decimals",
        ),
        (["--currencies", "KES,usd"], "currency 'usd' is not an ISO 4217 code like KES or USD"),
        (["--webhook-url", "ftp://pam"], "webhook URL 'ftp://pam' is not an http(s) URL"),
    ],
)
def test_invalid_settings_are_refused_and_nothing_is_created(args: list[str], message: str) -> None:
    with pytest.raises(CommandError) as error:
        run_create_operator("site", *args)

    assert str(error.value) == message
    assert not Operator.objects.exists()


def test_service_refuses_a_name_unusable_in_a_header() -> None:
    with pytest.raises(OperatorInvalid) as error:
        operator_create(
            name=" bad\nname",
            ext_percent=0,
            ext_type="inclusive",
            wht_percent=0,
            currencies=[],
            aff_comm_percent=None,
        )

    assert str(error.value) == (
        "name ' bad\\nname' must be 1-100 visible ASCII characters (single spaces allowed "
        "inside); it is sent in the operator-name header"
    )


def test_service_raises_operator_exists_for_a_taken_name() -> None:
    OperatorFactory(name="site")

    with pytest.raises(OperatorExists):
        operator_create(
            name="site",
            ext_percent=0,
            ext_type="inclusive",
            wht_percent=0,
            currencies=[],
            aff_comm_percent=None,
        )


def test_limits_and_reservation_time_are_set_at_creation() -> None:
    run_create_operator(
        "limited",
        "--rate-limit", "50",
        "--max-tickets-per-player", "3",
        "--max-daily-spend", "100000",
        "--reservation-minutes", "15",
    )  # fmt: skip

    operator = Operator.objects.get(name="limited")
    assert (
        operator.rate_limit,
        operator.max_tickets_per_player,
        operator.max_daily_spend,
        operator.reservation_minutes,
    ) == (50, 3, 100_000, 15)


def test_limits_default_to_100_per_second_and_none_per_player() -> None:
    run_create_operator("plain")

    operator = Operator.objects.get(name="plain")
    assert (operator.rate_limit, operator.max_tickets_per_player, operator.max_daily_spend) == (
        100,
        None,
        None,
    )


def test_update_changes_only_the_options_given() -> None:
    # given
    run_create_operator("site", "--timezone", "Africa/Nairobi", "--wht", "10")
    before = Operator.objects.get(name="site")

    # when
    out, _ = run_create_operator(
        "site", "--update", "--rate-limit", "0", "--max-daily-spend", "500"
    )

    # then
    after = Operator.objects.get(name="site")
    assert json.loads(out) == {"operator": "site"}
    assert (after.rate_limit, after.max_daily_spend) == (0, 500)
    assert (after.timezone, after.wht_percent, after.secret_key_encrypted) == (
        before.timezone,
        before.wht_percent,
        before.secret_key_encrypted,
    )


def test_update_can_lift_a_player_limit() -> None:
    run_create_operator("site", "--max-tickets-per-player", "2")

    run_create_operator("site", "--update", "--max-tickets-per-player", "none")

    assert Operator.objects.get(name="site").max_tickets_per_player is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ghost", "--update", "--rate-limit", "1"], "does not exist"),
        (["site", "--update"], "at least one option"),
        (["site", "--update", "--rate-limit", "-1"], "rate_limit must be between"),
        (["site", "--update", "--max-daily-spend", "lots"], "max_daily_spend must be a whole"),
        (["site", "--update", "--rotate-secret"], "not both"),
    ],
)
def test_bad_updates_are_refused_and_change_nothing(args: list[str], message: str) -> None:
    run_create_operator("site")
    before = operator_row("site")

    with pytest.raises(CommandError, match=message):
        run_create_operator(*args)

    assert operator_row("site") == before
