"""operators.pam: signed POST to the PAM and the classification of its answer."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from operators.models import Operator
from operators.pam import EXCERPT_CHARS, PamOutcome, pam_post, pam_post_many, player_id_from
from operators.signing import signature
from tests.factories import OperatorFactory
from tests.support.pam import Answer, ScriptedPam

pytestmark = pytest.mark.django_db


def body_for(operator: Operator) -> bytes:
    return b'{"action":"test","data":{"operator":"%s","note":null}}' % operator.name.encode()


def test_sends_the_body_as_given_with_a_signature_the_pam_verifies(pam: ScriptedPam) -> None:
    # given
    operator = OperatorFactory(name="acme", webhook_url=pam.url, secret="pam-secret-1")
    pam.trust(operator)

    # when
    answer = pam_post(operator=operator, body=body_for(operator))

    # then
    [request] = pam.received
    assert request.body == b'{"action":"test","data":{"operator":"acme","note":null}}'
    assert request.signature_ok
    assert request.headers["signature"] == signature(
        "pam-secret-1", request.headers["timestamp"], request.body
    )
    assert abs(int(request.headers["timestamp"]) - time.time()) < 5
    assert request.headers["content-type"] == "application/json"
    assert answer.outcome is PamOutcome.DELIVERED
    assert answer.http_status == 200


def test_2xx_is_delivered_with_the_player_id_and_the_answer_excerpt(pam: ScriptedPam) -> None:
    operator = OperatorFactory(webhook_url=pam.url)
    pam.trust(operator)
    pam.script(None, Answer(status=201, body=b'{"player_id": "P-77", "balance": 10}'))

    answer = pam_post(operator=operator, body=body_for(operator))

    assert answer.outcome is PamOutcome.DELIVERED
    assert answer.delivered
    assert answer.http_status == 201
    assert answer.player_id == "P-77"
    assert answer.excerpt == '{"player_id": "P-77", "balance": 10}'
    assert answer.error == ""
    assert answer.latency_ms >= 0


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (400, PamOutcome.REFUSED),
        (403, PamOutcome.REFUSED),
        (404, PamOutcome.REFUSED),
        (422, PamOutcome.REFUSED),
        (408, PamOutcome.RETRYABLE),
        (429, PamOutcome.RETRYABLE),
        (500, PamOutcome.RETRYABLE),
        (502, PamOutcome.RETRYABLE),
        (503, PamOutcome.RETRYABLE),
        (302, PamOutcome.RETRYABLE),
    ],
)
def test_classifies_non_2xx_answers(pam: ScriptedPam, status: int, outcome: PamOutcome) -> None:
    operator = OperatorFactory(webhook_url=pam.url)
    pam.trust(operator)
    pam.script(None, Answer(status=status, body=b'{"player_id":"ignored"}'))

    answer = pam_post(operator=operator, body=body_for(operator))

    assert answer.outcome is outcome
    assert answer.http_status == status
    assert answer.error == f"HTTP {status}"
    assert answer.player_id is None


def test_wrong_secret_is_refused_by_the_pam(pam: ScriptedPam) -> None:
    operator = OperatorFactory(webhook_url=pam.url, secret="engine-side")
    pam.trust(OperatorFactory.build(name=operator.name, secret="pam-side"))

    answer = pam_post(operator=operator, body=body_for(operator))

    assert answer.outcome is PamOutcome.REFUSED
    assert answer.http_status == 403
    assert pam.received[0].signature_ok is False


def test_read_timeout_is_retryable_without_status(pam: ScriptedPam) -> None:
    operator = OperatorFactory(webhook_url=pam.url)
    pam.trust(operator)
    pam.script(None, Answer(status=200, delay_seconds=1.0))

    answer = pam_post(operator=operator, body=body_for(operator), timeout=0.2)

    assert answer.outcome is PamOutcome.RETRYABLE
    assert answer.http_status is None
    assert answer.error.startswith("ReadTimeout")
    assert 150 <= answer.latency_ms < 1000


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    operator = OperatorFactory(webhook_url=f"http://127.0.0.1:{closed_port}/pam")

    answer = pam_post(operator=operator, body=body_for(operator), timeout=1.0)

    assert answer.outcome is PamOutcome.RETRYABLE
    assert answer.http_status is None
    assert answer.error.startswith("ConnectError")


def test_operator_without_webhook_url_is_retryable_without_a_request() -> None:
    operator = OperatorFactory(webhook_url="")

    answer = pam_post(operator=operator, body=body_for(operator))

    assert answer.outcome is PamOutcome.RETRYABLE
    assert answer.error == "operator has no webhook URL"


def test_answer_excerpt_is_truncated(pam: ScriptedPam) -> None:
    operator = OperatorFactory(webhook_url=pam.url)
    pam.trust(operator)
    pam.script(None, Answer(status=500, body=b"x" * (EXCERPT_CHARS + 500)))

    answer = pam_post(operator=operator, body=body_for(operator))

    assert answer.excerpt == "x" * EXCERPT_CHARS


@pytest.mark.parametrize(
    ("text", "player_id"),
    [
        ('{"player_id": "abc"}', "abc"),
        ('{"player_id": 12345}', "12345"),
        ('{"user_id": "u-1"}', "u-1"),
        ('{"player_id": "", "user_id": "u-2"}', "u-2"),
        ('{"player_id": true}', None),
        ('{"player_id": null}', None),
        ('{"player_id": ["a"]}', None),
        ('{"player_id": "' + "p" * 256 + '"}', None),
        ('["player_id"]', None),
        ("OK", None),
        ("", None),
    ],
)
def test_player_id_is_read_from_the_answer_when_present(text: str, player_id: str | None) -> None:
    assert player_id_from(text) == player_id


def test_a_keep_alive_connection_the_pam_closed_is_not_reused() -> None:
    # given: a PAM that answers with keep-alive, then drops each connection 0.1 s later
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        served: list[int] = []

        def serve() -> None:
            for number in (1, 2):
                connection, _ = listener.accept()
                with connection:
                    connection.recv(65536)
                    served.append(number)
                    connection.sendall(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok"
                    )
                    time.sleep(0.1)

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        operator = OperatorFactory(webhook_url=f"http://127.0.0.1:{port}/pam")

        # when: a second webhook goes after the PAM closed the first one's connection
        first = pam_post(operator=operator, body=body_for(operator), timeout=2.0)
        time.sleep(0.3)
        second = pam_post(operator=operator, body=body_for(operator), timeout=2.0)
        server.join(timeout=5)

    # then: both delivered, the second on a new connection
    assert (first.outcome, second.outcome) == (PamOutcome.DELIVERED, PamOutcome.DELIVERED)
    assert served == [1, 2]


def test_threads_post_at_once_each_with_its_own_client(pam: ScriptedPam) -> None:
    # given: a web server's threads sending test webhooks at the same time
    operator = OperatorFactory(webhook_url=pam.url)
    pam.trust(operator)
    for _ in range(4):
        pam.script(None, Answer(status=200, delay_seconds=0.3))

    # when
    with ThreadPoolExecutor(max_workers=4) as threads:
        started = time.perf_counter()
        answers = list(
            threads.map(lambda _: pam_post(operator=operator, body=body_for(operator)), range(4))
        )
        seconds = time.perf_counter() - started

    # then: all delivered, side by side rather than one after the other
    assert [answer.outcome for answer in answers] == [PamOutcome.DELIVERED] * 4
    assert seconds < 1.0


def test_an_engine_error_in_a_batch_is_that_webhooks_answer_and_the_others_go(
    pam: ScriptedPam,
) -> None:
    # given: one operator whose secret no longer decrypts, one whose URL trips a bug while
    # sending, one as it should be
    made = OperatorFactory.create(webhook_url=pam.url)
    Operator.objects.filter(pk=made.pk).update(secret_key_encrypted="not-fernet")
    broken_secret = Operator.objects.get(pk=made.pk)
    buggy = OperatorFactory.create(webhook_url=pam.url + "?buggy")
    fine = OperatorFactory.create(webhook_url=pam.url)
    pam.trust(fine)

    def proxy_for(sender: object, url: str) -> tuple[None, None]:
        if url.endswith("?buggy"):
            raise RuntimeError("a bug while sending")
        return None, None

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("operators.pam._Sender._proxy_for", proxy_for)

        # when
        answers = pam_post_many(
            [
                (broken_secret, body_for(broken_secret)),
                (buggy, body_for(buggy)),
                (fine, body_for(fine)),
            ]
        )

        # then: each failure is that webhook's retryable answer; the healthy one is delivered
        assert [answer.outcome for answer in answers] == [
            PamOutcome.RETRYABLE,
            PamOutcome.RETRYABLE,
            PamOutcome.DELIVERED,
        ]
        assert answers[0].error.startswith("engine error: InvalidToken")
        assert answers[1].error == "engine error: RuntimeError: a bug while sending"
        assert [request.signature_ok for request in pam.received] == [True]

        # and a single pam_post (the back office's test webhook) raises it
        with pytest.raises(RuntimeError, match="a bug while sending"):
            pam_post(operator=buggy, body=body_for(buggy))
