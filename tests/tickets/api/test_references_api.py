"""One purchase, one ticket: the body's `reference` (contract.md § Replays), and the
`Replayed: true` header on every answer that repeats an earlier one."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.api import compact, signed_get, signed_headers, signed_post
from tests.support.sample import sample_request, sample_setup
from tests.support.web import WebServer
from tickets.models import Ticket, WebhookDelivery, WriteReceipt

pytestmark = pytest.mark.django_db


@pytest.fixture
def sample():
    return sample_setup()


def now() -> int:
    return int(time.time())


def test_three_identical_quick_picks_in_one_second_with_references_are_three_tickets(
    client, sample
):
    # the case that made one ticket of three purchases: same player, body and second
    stamp = now()
    answers = [
        signed_post(
            client,
            sample.operator,
            "/be/tickets",
            sample_request(reference=f"purchase-{number}"),
            timestamp=stamp,
        )
        for number in range(3)
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert ["Replayed" in answer for answer in answers] == [False, False, False]
    assert len({answer.json()["id"] for answer in answers}) == 3
    assert set(Ticket.objects.values_list("reference", flat=True)) == {
        "purchase-0",
        "purchase-1",
        "purchase-2",
    }


def test_without_references_they_are_one_ticket_and_the_repeats_say_so(client, sample):
    stamp = now()
    answers = [
        signed_post(client, sample.operator, "/be/tickets", sample_request(), timestamp=stamp)
        for _ in range(3)
    ]

    assert [answer.get("Replayed") for answer in answers] == [None, "true", "true"]
    assert Ticket.objects.count() == 1


def test_a_reference_repeated_with_the_same_body_answers_the_first_ticket_at_any_time(
    client, sample
):
    first = signed_post(
        client, sample.operator, "/be/tickets", sample_request(reference="R-1"), timestamp=now()
    )
    # a retry minutes later: another timestamp, so another signature
    again = signed_post(
        client,
        sample.operator,
        "/be/tickets",
        sample_request(reference="R-1"),
        timestamp=now() - 200,
    )

    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again["Replayed"] == "true"
    assert "Replayed" not in first
    assert Ticket.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1


def test_a_reference_repeated_after_its_card_closed_still_answers_the_first_ticket(client, sample):
    first = signed_post(client, sample.operator, "/be/tickets", sample_request(reference="R-2"))
    sample.betcard.status = "closed"
    sample.betcard.save()

    again = signed_post(
        client, sample.operator, "/be/tickets", sample_request(reference="R-2"), timestamp=now() - 5
    )

    assert again.status_code == 200
    assert again.content == first.content
    assert again["Replayed"] == "true"


def test_a_reference_reused_with_another_body_is_409_code_132_and_creates_nothing(client, sample):
    signed_post(client, sample.operator, "/be/tickets", sample_request(reference="R-3"))

    other = signed_post(
        client,
        sample.operator,
        "/be/tickets",
        sample_request(reference="R-3", token="another-player"),
    )

    assert other.status_code == 409
    assert other.json() == {
        "code": 132,
        "message": "Reference `R-3` was already used with a different request body",
    }
    assert Ticket.objects.count() == 1


def test_a_reference_reused_with_a_body_refused_by_a_check_is_still_132(client, sample):
    # the key is known: the 409 comes before what the new body would have been refused for
    signed_post(client, sample.operator, "/be/tickets", sample_request(reference="R-4"))

    other = signed_post(
        client, sample.operator, "/be/tickets", sample_request(reference="R-4", price=1)
    )

    assert other.status_code == 409
    assert other.json()["code"] == 132


def test_a_reservation_and_a_placement_with_one_reference_are_409(client, sample):
    signed_post(client, sample.operator, "/be/tickets/reserve", sample_request(reference="R-5"))

    placed = signed_post(client, sample.operator, "/be/tickets", sample_request(reference="R-5"))

    assert placed.status_code == 409
    assert placed.json()["code"] == 132


@pytest.mark.parametrize(
    "reference",
    ["", "a b", "x" * 65, "tab\there", "é", 12, ["R"], {"r": 1}],
)
def test_a_bad_reference_is_a_422_naming_it(client, sample, reference):
    response = signed_post(
        client, sample.operator, "/be/tickets", sample_request(reference=reference)
    )

    assert response.status_code == 422
    assert [item["loc"] for item in response.json()["detail"]] == [["body", "reference"]]
    assert not Ticket.objects.exists()


def test_a_ticket_is_found_by_its_reference_and_a_code_shaped_reference_by_code_first(
    client, sample
):
    placed = signed_post(
        client, sample.operator, "/be/tickets", sample_request(reference="order:77.a")
    ).json()
    # a reference shaped like a ticket code finds the ticket with that code first
    coded = signed_post(
        client,
        sample.operator,
        "/be/tickets",
        sample_request(reference=placed["code"], token="p2"),
    ).json()

    by_reference = signed_get(client, sample.operator, "/be/tickets/order:77.a")
    by_code = signed_get(client, sample.operator, f"/be/tickets/{placed['code']}")
    unknown = signed_get(client, sample.operator, "/be/tickets/no-such-reference")

    assert by_reference.status_code == 200
    assert by_reference.json()["id"] == placed["id"]
    assert "reference" not in by_reference.json()  # the answer's shape is the contract's
    assert by_code.json()["id"] == placed["id"] != coded["id"]
    assert unknown.status_code == 404
    assert unknown.json()["code"] == 102


def test_the_list_filters_on_reference(client, sample):
    for number in range(3):
        signed_post(
            client,
            sample.operator,
            "/be/tickets",
            sample_request(reference=f"L-{number}", token=f"p{number}"),
        )

    listed = signed_get(client, sample.operator, "/be/tickets?reference=L-1")
    bad = signed_get(client, sample.operator, "/be/tickets?reference=a%20b")

    assert [ticket["id"] for ticket in listed.json()] == list(
        Ticket.objects.filter(reference="L-1").values_list("id", flat=True)
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "reference"]


@pytest.mark.parametrize("path", ["/be/tickets", "/be/tickets/reserve"])
def test_the_webhook_carries_the_reference_after_ticket_type(client, sample, path):
    signed_post(client, sample.operator, path, sample_request(reference="W-1", token="a"))
    signed_post(client, sample.operator, path, sample_request(token="b"))

    bodies = [
        json.loads(delivery.body)["data"] for delivery in WebhookDelivery.objects.order_by("id")
    ]

    assert [list(data)[-2:] for data in bodies] == [["ticket_type", "reference"]] * 2
    assert [data["reference"] for data in bodies] == ["W-1", None]


def test_an_idempotency_key_repeat_and_a_paid_repeat_say_replayed(client, sample):
    first = signed_post(
        client,
        sample.operator,
        "/be/tickets/reserve",
        sample_request(),
        headers={"Idempotency-Key": "k1"},
    )
    again = signed_post(
        client,
        sample.operator,
        "/be/tickets/reserve",
        sample_request(),
        timestamp=now() - 3,
        headers={"Idempotency-Key": "k1"},
    )
    path = f"/be/tickets/{first.json()['id']}/paid"
    paid = signed_post(client, sample.operator, path, b"", headers={"Idempotency-Key": "p1"})
    paid_again = signed_post(
        client, sample.operator, path, b"", timestamp=now() - 3, headers={"Idempotency-Key": "p1"}
    )

    assert "Replayed" not in first
    assert "Replayed" not in paid
    assert again["Replayed"] == paid_again["Replayed"] == "true"
    assert again.content == first.content
    assert paid_again.content == paid.content


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_requests_with_one_reference_make_one_ticket_over_http():
    # given: twenty copies of one purchase, each signed at its own second (not replays)
    sample = sample_setup()
    start = threading.Barrier(20)
    stamp = now()

    def send(number: int) -> httpx.Response:
        raw = compact(sample_request(reference="concurrent-1"))
        headers = {
            "content-type": "application/json",
            **signed_headers(sample.operator, raw, timestamp=stamp - number),
        }
        start.wait()
        return httpx.post(f"{server.url}/be/tickets", content=raw, headers=headers, timeout=60)

    with WebServer(env={"WEB_WORKERS": "2"}) as server, ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(send, range(20)))

    assert [answer.status_code for answer in answers] == [200] * 20
    assert len({answer.content for answer in answers}) == 1
    assert sum(answer.headers.get("replayed") == "true" for answer in answers) == 19
    assert Ticket.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1
    assert WriteReceipt.objects.filter(reference="concurrent-1").count() == 1


@pytest.mark.parametrize(
    "path", ["/be/tickets", "/be/tickets/reserve", "/be/tickets/{identifier}/paid"]
)
def test_the_schema_declares_the_replayed_header_on_every_write(client, path):
    schema = client.get("/be/schema", {"format": "json"}).json()

    headers = schema["paths"][path]["post"]["responses"]["200"]["headers"]

    assert headers["Replayed"]["schema"] == {"type": "string", "enum": ["true"]}
