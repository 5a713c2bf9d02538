"""The PAM conformance kit (`manage.py pam_conformance`, tickets/conformance.py): the fake
PAM passes it, and a PAM broken in each way fails the check that is about it."""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from operators.fake_pam import FakePam
from operators.signing import signature
from tests.factories import OperatorFactory
from tickets.conformance import balance_reader, conformance_run

pytestmark = pytest.mark.django_db

SECRET = "pam-secret"


@dataclass
class WalletPam:
    """A PAM with a wallet, correct unless told otherwise."""

    checks_signature: bool = True
    checks_time: bool = True
    reads_rotations: bool = True
    idempotent: bool = True
    refuses_all: bool = False
    balances: dict[str, int] = field(default_factory=dict)
    seen: dict[str, bytes] = field(default_factory=dict)
    answered: int = 0

    def answer(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if self.refuses_all:
            return 400, b'{"error":"no"}'
        stamp, header = headers.get("timestamp", ""), headers.get("signature", "")
        candidates = header.split(",") if self.reads_rotations else [header]
        expected = signature(SECRET, stamp, body)
        if self.checks_signature and not any(
            hmac.compare_digest(expected, candidate) for candidate in candidates
        ):
            return 403, b'{"error":"signature"}'
        if self.checks_time and abs(time.time() - int(stamp or 0)) > 300:
            return 403, b'{"error":"stale"}'
        message = json.loads(body)
        data = message["data"]
        if message["action"] == "ticket_create":
            ticket = data["ticket_id"]
            if self.idempotent and ticket in self.seen:
                return 200, self.seen[ticket]
            self.balances[data["player_id"]] = (
                self.balances.get(data["player_id"], 10_000) - data["price"]
            )
            self.answered += 1
            answer = json.dumps({"player_id": "P1", "n": 0 if self.idempotent else self.answered})
            self.seen[ticket] = answer.encode()
            return 200, answer.encode()
        return 200, b"{}"


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(pam: WalletPam) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                self._send(*pam.answer(headers, body))

            def do_GET(self) -> None:
                token = self.path.rsplit("/", 1)[-1]
                self._send(200, json.dumps({"balance": pam.balances.get(token, 10_000)}).encode())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def failed(report) -> set[str]:
    return {check.name for check in report.checks if check.passed is False}


def test_a_correct_pam_passes_every_check_debits_once_and_answer_times_are_shown(serve):
    base = serve(WalletPam())
    operator = OperatorFactory(secret=SECRET)

    report = conformance_run(
        url=f"{base}/pam", operator=operator, secret=SECRET,
        balance=balance_reader(base + "/balance/{token}"),
    )  # fmt: skip

    assert failed(report) == set()
    assert all(check.passed for check in report.checks)  # the debit was checked too
    assert len(report.checks) == 15
    assert report.lines()[-2].startswith("answer times over 15 requests: median")
    assert report.lines()[-1] == "conformance: PASSED"


def test_the_fake_pam_passes(transactional_db):
    operator = OperatorFactory(secret=SECRET)
    pam = FakePam(port=0, secret_lookup={operator.name: SECRET}.get).start()
    try:
        out = StringIO()
        call_command("pam_conformance", "--url", pam.url, "--operator", operator.name, stdout=out)
    finally:
        pam.stop()

    assert out.getvalue().splitlines()[-1] == "conformance: PASSED"
    assert "SKIP  a repeated ticket_create debits once" in out.getvalue()


@pytest.mark.parametrize(
    ("broken", "fails"),
    [
        ({"refuses_all": True}, {
            "ticket_create accepted", "ticket_reserve accepted", "ticket_discard accepted",
            "ticket_refund accepted", "ticket_win accepted", "ticket_lost accepted",
            "ticket_void accepted", "ticket_rollback accepted", "ticket_closed accepted",
            "a repeated ticket_create gets the same answer",
            "a repeated ticket_create debits once",
            "a rotation's two signatures (the valid one first) are accepted",
            "a rotation's two signatures (the valid one second) are accepted",
        }),
        ({"checks_signature": False}, {"a wrong signature is refused"}),
        ({"checks_time": False}, {"a timestamp 10 minutes old is refused"}),
        ({"reads_rotations": False}, {
            "a rotation's two signatures (the valid one first) are accepted",
            "a rotation's two signatures (the valid one second) are accepted",
        }),
        ({"idempotent": False}, {
            "a repeated ticket_create gets the same answer",
            "a repeated ticket_create debits once",
        }),
    ],
)  # fmt: skip
def test_a_pam_broken_in_one_way_fails_the_checks_about_it(serve, broken, fails):
    base = serve(WalletPam(**broken))
    operator = OperatorFactory(secret=SECRET)

    report = conformance_run(
        url=f"{base}/pam", operator=operator, secret=SECRET,
        balance=balance_reader(base + "/balance/{token}"),
    )  # fmt: skip

    assert failed(report) == fails
    assert report.lines()[-1] == f"conformance: FAILED ({len(fails)} checks)"


def test_the_command_exits_non_zero_when_a_check_fails(serve):
    base = serve(WalletPam(checks_time=False))
    operator = OperatorFactory(secret=SECRET)
    out = StringIO()

    with pytest.raises(CommandError, match="failed conformance"):
        call_command(
            "pam_conformance", "--url", f"{base}/pam", "--operator", operator.name, stdout=out
        )

    assert "FAIL  a timestamp 10 minutes old is refused: HTTP 200" in out.getvalue()


def test_an_unreachable_pam_fails_with_no_answer():
    operator = OperatorFactory(secret=SECRET)

    report = conformance_run(
        url="http://127.0.0.1:9/pam", operator=operator, secret=SECRET, timeout=1
    )

    assert not report.passed
    assert "no answer" in report.checks[0].detail


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--url", "http://x/pam", "--operator", "nobody"], "does not exist"),
        (["--url", "ftp://x/pam", "--operator", "acme"], "http"),
        (["--url", "http://x/pam", "--operator", "acme", "--balance-url", "http://x/b"], "{token}"),
    ],
)
def test_the_command_refuses_bad_arguments(arguments, message):
    OperatorFactory(name="acme")

    with pytest.raises(CommandError, match=message):
        call_command("pam_conformance", *arguments, stdout=StringIO())
