"""A PAM conformance run: what an operator checks of its own PAM before going live
(`manage.py pam_conformance`, docs/webhooks.md § Checking your PAM).

A scripted session against the PAM's test mode, with the operator's own secret and signing,
and the engine's exact webhook bodies (`tickets.outbox.payloads`) for a made-up ticket:

1. every webhook kind, with realistic data: each must be accepted (2xx);
2. the same `ticket_create` twice: the same answer both times, and, where the PAM shows a
   balance (`balance_url`), the player debited once;
3. a wrong signature: refused (4xx);
4. a stale timestamp (10 minutes old): refused (4xx);
5. a rotation's comma-separated signature (`<valid>,<other key's>`): accepted.

Each request's answer time is measured; a check passes or fails with what was seen.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlsplit

from operators.models import ExciseType, Operator
from operators.signing import signature
from tickets import identifiers
from tickets.models import Ticket, TicketResult, TicketStatus
from tickets.outbox.payloads import TICKET_CREATE, WEBHOOKS, body

STALE_SECONDS = 600
_SAMPLE_OF: dict[str, tuple[str, dict[str, str]]] = {
    "ticket_discard": (TicketResult.VOID, {"reason": "pam_refused"}),
    "ticket_refund": (TicketResult.VOID, {"reason": "staff_cancelled"}),
    "ticket_win": (TicketResult.WON, {}),
    "ticket_lost": (TicketResult.LOST, {}),
    "ticket_void": (TicketResult.VOID, {}),
    "ticket_rollback": (TicketResult.PENDING, {"reason": "result corrected"}),
    "ticket_closed": (TicketResult.WON, {}),
}
"""Per webhook (`WEBHOOKS`), the made-up ticket's result and the webhook's parameters; the
others: a pending ticket, none."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int | None  # None: no answer (refused connection, timeout)
    body: bytes
    seconds: float
    error: str = ""

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def refused(self) -> bool:
        return self.status is not None and 400 <= self.status < 500

    def __str__(self) -> str:
        if self.status is None:
            return f"no answer ({self.error})"
        return f"HTTP {self.status} in {self.seconds * 1000:.0f} ms"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    passed: bool | None  # None: not checked (the PAM exposes nothing to check it with)
    detail: str


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed is not False for check in self.checks)

    def lines(self) -> list[str]:
        mark = {True: "PASS", False: "FAIL", None: "SKIP"}
        lines = [f"{mark[check.passed]}  {check.name}: {check.detail}" for check in self.checks]
        if self.seconds:
            ordered = sorted(self.seconds)
            median = ordered[len(ordered) // 2]
            lines.append(
                f"answer times over {len(ordered)} requests: median {median * 1000:.0f} ms, "
                f"worst {ordered[-1] * 1000:.0f} ms"
            )
        failed = sum(check.passed is False for check in self.checks)
        lines.append("conformance: " + ("PASSED" if self.passed else f"FAILED ({failed} checks)"))
        return lines


class Session:
    """Signed POSTs to one PAM URL, as the engine sends them."""

    def __init__(self, *, url: str, operator: Operator, secret: str, timeout: float) -> None:
        self.url = url
        self.operator = operator
        self.secret = secret
        self.timeout = timeout
        self.seconds: list[float] = []

    def post(self, payload: bytes, *, age: int = 0) -> Answer:
        """`payload` signed as the engine signs it, timestamped `age` seconds ago."""
        stamp = str(int(time.time()) - age)
        return self.send(payload, {"timestamp": stamp, "signature": self.signed(stamp, payload)})

    def signed(self, stamp: str, payload: bytes) -> str:
        return signature(self.secret, stamp, payload, self.operator.signing)

    def send(self, payload: bytes, headers: dict[str, str]) -> Answer:
        parts = urlsplit(self.url)
        kind = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = kind(parts.hostname or "", parts.port, timeout=self.timeout)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        started = time.perf_counter()
        try:
            connection.request(
                "POST", path, payload, {"content-type": "application/json", **headers}
            )
            response = connection.getresponse()
            answer = Answer(response.status, response.read(), time.perf_counter() - started)
        except (OSError, http.client.HTTPException) as error:
            answer = Answer(
                None, b"", time.perf_counter() - started, str(error) or type(error).__name__
            )
        finally:
            connection.close()
        self.seconds.append(answer.seconds)
        return answer


def sample_ticket(operator: Operator, *, token: str, result: str = TicketResult.PENDING) -> Ticket:
    """A made-up ticket with realistic figures (never saved): price 500, 12.5 % inclusive
    excise, 10 % WHT; a win pays 10,000 gross."""
    now = dt.datetime.now(dt.UTC)
    won = result == TicketResult.WON
    return Ticket(
        id=identifiers.ticket_id(now.timestamp()),
        code=identifiers.ticket_code(),
        operator=operator,
        token=token,
        psp="mobile",
        price=500,
        stake=444,
        currency="USD",
        ext_percent=Decimal("12.5"),
        ext_type=ExciseType.INCLUSIVE,
        ext_amount=56,
        wht_percent=Decimal(10),
        wht_amount=956 if won else 0,
        gross_payout=10_000 if won else 0,
        net_payout=9_044 if won else 0,
        atag=None,
        rtag="conformance",
        source="desktop",
        type="jackpot",
        status=TicketStatus.OPEN,
        result=result,
        reference=f"conformance-{secrets.token_hex(4)}",
    )


def conformance_run(
    *,
    url: str,
    operator: Operator,
    secret: str,
    balance: Callable[[str], int | None] | None = None,
    timeout: float = 10.0,
) -> Report:
    """Run every check against the PAM at `url`; `balance(token)` reads a player's balance
    in cents where the PAM exposes one (None: not checked)."""
    session = Session(url=url, operator=operator, secret=secret, timeout=timeout)
    report = Report()
    token = f"conformance-player-{secrets.token_hex(4)}"

    for name, webhook in WEBHOOKS.items():
        result, params = _SAMPLE_OF.get(name, (TicketResult.PENDING, {}))
        ticket = sample_ticket(operator, token=token, result=result)
        answer = session.post(body(webhook, ticket, **params))
        report.checks.append(Check(f"{name} accepted", answer.accepted, str(answer)))

    # the same ticket_create twice: one debit, the same answer
    ticket = sample_ticket(operator, token=token)
    payload = body(TICKET_CREATE, ticket)
    before = balance(token) if balance is not None else None
    first, again = session.post(payload), session.post(payload)
    after = balance(token) if balance is not None else None
    same = first.accepted and (first.status, first.body) == (again.status, again.body)
    report.checks.append(
        Check(
            "a repeated ticket_create gets the same answer",
            same,
            f"{first}, then {again}"
            + ("" if same else f": {first.body[:80]!r} / {again.body[:80]!r}"),
        )
    )
    if before is None or after is None:
        report.checks.append(
            Check(
                "a repeated ticket_create debits once", None, "no balance to read (--balance-url)"
            )
        )
    else:
        debited = before - after
        report.checks.append(
            Check(
                "a repeated ticket_create debits once",
                debited == ticket.price,
                f"balance {before} -> {after}: debited {debited}, expected {ticket.price}",
            )
        )

    # a wrong signature, a stale timestamp: refused
    payload = body(TICKET_CREATE, sample_ticket(operator, token=token))
    wrong = session.send(
        payload,
        {"timestamp": str(int(time.time())), "signature": signature("not-the-key", "0", payload)},
    )
    report.checks.append(Check("a wrong signature is refused", wrong.refused, str(wrong)))
    stale = session.post(payload, age=STALE_SECONDS)
    report.checks.append(
        Check(
            f"a timestamp {STALE_SECONDS // 60} minutes old is refused", stale.refused, str(stale)
        )
    )

    # a rotation: two signatures, the valid one first or second
    for order in ("first", "second"):
        payload = body(TICKET_CREATE, sample_ticket(operator, token=token))
        stamp = str(int(time.time()))
        valid, other = session.signed(stamp, payload), signature("another-key", stamp, payload)
        header = f"{valid},{other}" if order == "first" else f"{other},{valid}"
        answer = session.send(payload, {"timestamp": stamp, "signature": header})
        report.checks.append(
            Check(
                f"a rotation's two signatures (the valid one {order}) are accepted",
                answer.accepted,
                str(answer),
            )
        )
    report.seconds = session.seconds
    return report


def balance_reader(url_template: str, *, timeout: float = 10.0) -> Callable[[str], int | None]:
    """`GET url_template.format(token=...)` → the JSON answer's `balance` (cents)."""

    def read(token: str) -> int | None:
        parts = urlsplit(url_template.format(token=token))
        kind = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = kind(parts.hostname or "", parts.port, timeout=timeout)
        try:
            connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
            answer = json.loads(connection.getresponse().read())
        except (OSError, http.client.HTTPException, ValueError):
            return None
        finally:
            connection.close()
        value = answer.get("balance") if isinstance(answer, dict) else None
        return value if isinstance(value, int) else None

    return read
