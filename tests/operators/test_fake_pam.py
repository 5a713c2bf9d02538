"""operators.fake_pam and `manage.py fake_pam`: the development PAM verifies and answers."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.core.management import CommandError, call_command

from operators.fake_pam import FakePam, PlannedAnswer, player_id_for
from operators.models import Operator
from operators.signing import signature
from tests.factories import OperatorFactory


def webhook(operator: Operator, *, token: str = "tok-1") -> bytes:
    data = {"operator": operator.name, "ticket_id": "a" * 24, "player_id": token}
    return json.dumps({"action": "ticket_create", "data": data}, separators=(",", ":")).encode()


def post(pam: FakePam, body: bytes, *, secret: str, timestamp: int | None = None) -> httpx.Response:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"timestamp": stamp, "signature": signature(secret, stamp, body)}
    return httpx.post(pam.url, content=body, headers=headers, timeout=5)


@pytest.fixture
def running() -> Iterator[list[FakePam]]:
    started: list[FakePam] = []
    yield started
    for pam in started:
        pam.stop()


def start(running: list[FakePam], **options: object) -> FakePam:
    pam = FakePam(port=0, **options).start()
    running.append(pam)
    return pam


@pytest.mark.django_db(transaction=True)
def test_verifies_with_the_operator_secret_from_the_database(running: list[FakePam]) -> None:
    # given
    operator = OperatorFactory(secret="db-secret")
    pam = start(running)

    # when
    good = post(pam, webhook(operator, token="tok-9"), secret="db-secret")
    bad = post(pam, webhook(operator), secret="not-the-secret")

    # then
    assert good.status_code == 200
    assert good.json() == {"player_id": player_id_for("tok-9")}
    assert bad.status_code == 403
    assert [request.signature_ok for request in pam.received] == [True, False]
    assert pam.received[0].action == "ticket_create"
    assert pam.received[0].ticket_id == "a" * 24


@pytest.mark.django_db(transaction=True)
def test_a_rotated_secret_is_read_again_at_once(running: list[FakePam]) -> None:
    # given: the PAM has verified (and cached) the operator's first key
    operator = OperatorFactory(secret="first-secret")
    pam = start(running)
    assert post(pam, webhook(operator), secret="first-secret").status_code == 200

    # when: the key is rotated (seed_demo's fresh curl does) and the next webhook uses it
    operator.set_secret_key("second-secret")
    operator.save()
    rotated = post(pam, webhook(operator, token="tok-2"), secret="second-secret")
    old = post(pam, webhook(operator, token="tok-3"), secret="first-secret")

    # then
    assert rotated.status_code == 200
    assert old.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_unknown_operator_or_stale_timestamp_is_refused(running: list[FakePam]) -> None:
    operator = OperatorFactory.build(name="nobody", secret="s")
    known = OperatorFactory(secret="s")
    pam = start(running)

    unknown = post(pam, webhook(operator), secret="s")
    stale = post(pam, webhook(known), secret="s", timestamp=int(time.time()) - 3600)

    assert (unknown.status_code, stale.status_code) == (403, 403)


def test_refuses_the_configured_token_and_fails_at_the_configured_rate(
    running: list[FakePam],
) -> None:
    operator = OperatorFactory.build(name="acme", secret="s")
    lookup = {"acme": "s"}.get
    refusing = start(running, refuse_token="bad-player", secret_lookup=lookup)
    failing = start(running, fail_rate=1.0, secret_lookup=lookup, rng=random.Random(1))

    refused = post(refusing, webhook(operator, token="bad-player"), secret="s")
    accepted = post(refusing, webhook(operator, token="good-player"), secret="s")
    failed = post(failing, webhook(operator), secret="s")

    assert (refused.status_code, accepted.status_code, failed.status_code) == (400, 200, 500)


def test_delays_every_answer(running: list[FakePam]) -> None:
    operator = OperatorFactory.build(name="acme", secret="s")
    pam = start(running, delay_ms=300, secret_lookup={"acme": "s"}.get)

    started = time.monotonic()
    response = post(pam, webhook(operator), secret="s")

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize(
    "arguments", [["--fail-rate", "1.5"], ["--fail-rate", "-0.1"], ["--delay-ms", "-1"]]
)
def test_command_rejects_impossible_options(arguments: list[str]) -> None:
    with pytest.raises(CommandError):
        call_command("fake_pam", "--port", "0", *arguments)


def test_keeps_only_the_last_requests_it_is_told_to(running: list[FakePam]) -> None:
    # given: a PAM that keeps two requests (a benchmark's million would fill the memory)
    pam = start(running, keep_last=2, secret_lookup=lambda name: "s")
    operator = Operator(name="operator-k")

    # when
    answers = [post(pam, webhook(operator, token=f"tok-{n}"), secret="s") for n in range(3)]

    # then: every request was answered, the last two are kept
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert [(request.data or {})["player_id"] for request in pam.received] == ["tok-1", "tok-2"]


def test_requests_that_miss_the_secret_together_look_it_up_once() -> None:
    # given: a secret that takes a while to look up (a database round trip)
    lookups: list[str] = []

    def slow_lookup(name: str) -> str:
        lookups.append(name)
        time.sleep(0.2)
        return "pam-secret"

    operator = OperatorFactory.build(name="acme")
    pam = FakePam(secret_lookup=slow_lookup).start()
    try:
        # when: 10 webhooks arrive at once
        with ThreadPoolExecutor(max_workers=10) as clients:
            answers = list(
                clients.map(lambda _: post(pam, webhook(operator), secret="pam-secret"), range(10))
            )
    finally:
        pam.stop()

    # then: all verified, with one lookup between them
    assert [answer.status_code for answer in answers] == [200] * 10
    assert lookups == ["acme"]


def test_any_one_of_a_rotations_comma_separated_signatures_passes(running: list[FakePam]) -> None:
    pam = start(running, secret_lookup={"acme": "new"}.get)
    operator = Operator(name="acme")
    body = webhook(operator)
    stamp = str(int(time.time()))

    both = f"{signature('new', stamp, body)},{signature('old', stamp, body)}"
    other_order = f"{signature('old', stamp, body)},{signature('new', stamp, body)}"
    neither = f"{signature('x', stamp, body)},{signature('y', stamp, body)}"
    answers = [
        httpx.post(pam.url, content=body, headers={"timestamp": stamp, "signature": header})
        for header in (both, other_order, neither)
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 403]


def test_get_requests_lists_the_last_webhooks_received(running: list[FakePam]) -> None:
    pam = start(running, keep_last=5, secret_lookup=lambda name: "s")
    operator = Operator(name="acme")
    for number in range(3):
        post(pam, webhook(operator, token=f"t{number}"), secret="s")
    base = pam.url.removesuffix("/pam")

    last_two = httpx.get(f"{base}/requests?limit=2").json()
    unknown = httpx.get(f"{base}/nothing")
    bad = httpx.get(f"{base}/requests?limit=two")

    assert [item["data"]["player_id"] for item in last_two] == ["t1", "t2"]
    assert {(item["action"], item["status"], item["signature_ok"]) for item in last_two} == {
        ("ticket_create", 200, True)
    }
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/json"
    assert bad.status_code == 400


def test_each_action_can_be_told_how_to_answer(running: list[FakePam]) -> None:
    pam = start(
        running,
        secret_lookup=lambda name: "s",
        answers={"ticket_create": PlannedAnswer(status=503, body=b"{}", delay_seconds=0.2)},
    )
    operator = Operator(name="acme")
    data = {"operator": "acme", "ticket_id": "a" * 24, "player_id": "t"}
    win = json.dumps({"action": "ticket_win", "data": data}, separators=(",", ":")).encode()

    started = time.monotonic()
    created = post(pam, webhook(operator), secret="s")
    took = time.monotonic() - started
    won = post(pam, win, secret="s")

    assert created.status_code == 503
    assert took >= 0.2
    assert won.status_code == 200


@pytest.mark.parametrize(
    "answer", ["ticket_create", "ticket_create=abc", "=503", "ticket_create=503:slow", "x=99"]
)
def test_the_command_refuses_a_malformed_answer(answer: str) -> None:
    with pytest.raises(CommandError, match="--answer"):
        call_command("fake_pam", "--answer", answer)
