from __future__ import annotations

import io
import json
import shlex
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from betcards.models import Bet, Betcard, BetcardEvent, Event
from operators.models import Operator
from operators.signing import signature_matches

pytestmark = pytest.mark.django_db

CONTRACT_FIELDS = [
    "operator", "token", "psp", "price", "currency", "atag", "rtag", "source", "type",
    "odds_diff", "events", "betcard_code", "prize", "bonus_prizes",
]  # fmt: skip


def seed_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def parse_curl(output: str) -> tuple[str, dict[str, str], str]:
    """The URL, headers and body of the printed curl command, read as the shell would."""
    command = output[output.index("curl ") :].split("\n\n", maxsplit=1)[0]
    words = shlex.split(command.replace(" \\\n", " "))
    url = words[4]
    headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
    body = words[words.index("--data-raw") + 1]
    return url, headers, body


def test_prints_a_curl_whose_signature_verifies_for_the_printed_body() -> None:
    # when
    output = seed_demo("--webhook-url", "http://127.0.0.1:18150/pam", "--base-url", "http://h:9")

    # then
    url, headers, body = parse_curl(output)
    operator = Operator.objects.get(name="demo")
    assert url == "http://h:9/be/tickets"
    assert list(headers) == ["Content-Type", "timestamp", "operator-name", "signature"]
    assert headers["operator-name"] == "demo"
    assert signature_matches(
        [operator.secret_key], headers["timestamp"], body.encode(), headers["signature"]
    )
    assert f"secret key: {operator.secret_key}\n" in output
    assert operator.webhook_url == "http://127.0.0.1:18150/pam"
    assert output.rstrip().endswith(
        "; for a fresh curl run: .venv/bin/python -m devserver manage seed_demo"
        " --base-url http://h:9"
    )


def test_body_is_compact_in_contract_order_and_picks_a_bet_of_every_demo13_event() -> None:
    output = seed_demo()

    _, _, body = parse_curl(output)
    order = json.loads(body)
    card = Betcard.objects.get(code="DEMO13")
    card_events = list(card.card_events.values_list("event_id", flat=True))
    assert json.dumps(order, separators=(",", ":")) == body
    assert list(order) == CONTRACT_FIELDS
    assert (order["price"], order["currency"], order["prize"], order["bonus_prizes"]) == (
        500,
        "USD",
        10_000_000,
        [500_000, 100_000, 25_000],
    )
    assert [item["id"] for item in order["events"]] == card_events
    for item in order["events"]:
        bet = Bet.objects.select_related("market").get(id=item["bet"])
        assert (bet.market.event_id, bet.odds) == (item["id"], Decimal(str(item["odds"])))


def test_demo_operator_and_catalogue_are_as_documented() -> None:
    seed_demo("--webhook-url", "http://127.0.0.1:18150/pam")

    operator = Operator.objects.get(name="demo")
    card = Betcard.objects.get(code="DEMO13")
    events = Event.objects.filter(card_entries__betcard=card)
    assert (
        operator.timezone,
        str(operator.ext_percent),
        operator.ext_type,
        str(operator.wht_percent),
        operator.currencies,
    ) == ("Africa/Nairobi", "12.50", "inclusive", "10.00", [])
    assert (card.status, card.operator_id, card.min_events, card.closes_at) == (
        "open",
        None,
        None,
        None,
    )
    assert card.opens_at < card.updated_at
    assert events.count() == 13
    assert all(event.starts_at > card.updated_at for event in events)
    assert all(hasattr(event, "bookmaker_event") for event in events)
    assert all(event.markets.get().bets.count() == 3 for event in events)


def test_runs_twice_reusing_the_operator_its_secret_and_the_same_catalogue() -> None:
    # given
    first = seed_demo("--webhook-url", "http://127.0.0.1:18150/pam")
    first_secret = Operator.objects.get(name="demo").secret_key
    entries = list(BetcardEvent.objects.values_list("id", "event_id", "position"))

    # when
    second = seed_demo()

    # then
    operator = Operator.objects.get(name="demo")
    assert Operator.objects.count() == 1
    assert operator.secret_key == first_secret  # curls printed earlier keep working
    assert f"secret key: {first_secret}" in second
    assert operator.webhook_url == "http://127.0.0.1:18150/pam"
    assert list(BetcardEvent.objects.values_list("id", "event_id", "position")) == entries
    assert "catalogue: teams: 0 created, 0 updated, 26 unchanged;" in second
    assert "catalogue: teams: 26 created" in first
    _, headers, body = parse_curl(second)
    assert signature_matches(
        [operator.secret_key], headers["timestamp"], body.encode(), headers["signature"]
    )


def test_without_a_webhook_url_it_warns_that_tickets_get_code_114() -> None:
    output = seed_demo()

    assert (
        "warning: the demo operator has no webhook URL, so the API refuses its tickets "
        "with code 114; run seed_demo --webhook-url URL to set one\n"
    ) in output


def test_the_printed_request_places_a_ticket_through_the_api(client: Client) -> None:
    # given
    _, headers, body = parse_curl(seed_demo("--webhook-url", "http://127.0.0.1:18150/pam"))

    # when
    response = client.post(
        "/be/tickets",
        data=body,
        content_type=headers.pop("Content-Type"),
        headers=headers,
    )

    # then
    assert response.status_code == 200, response.content
    ticket = response.json()
    assert (ticket["betcard_code"], ticket["price"], ticket["stake"], ticket["status"]) == (
        "DEMO13",
        500,
        444,
        "open",
    )


def test_rotate_issues_a_new_secret_and_the_old_curls_stop_verifying() -> None:
    seed_demo("--webhook-url", "http://127.0.0.1:18150/pam")
    first_secret = Operator.objects.get(name="demo").secret_key

    rotated = seed_demo("--rotate")

    operator = Operator.objects.get(name="demo")
    assert operator.secret_key != first_secret
    assert operator.secrets_at(timezone.now()) == [operator.secret_key]
    assert f"secret key: {operator.secret_key}" in rotated
