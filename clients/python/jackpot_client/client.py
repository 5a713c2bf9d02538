"""`JackpotClient`: signed calls to the operator API, retried safely, answers typed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import httpx

from jackpot_client.errors import ApiError, InvalidRequest, NotAuthenticated, Unavailable
from jackpot_client.models import Card, Pick, Ticket
from jackpot_client.signing import sign

RETRYABLE_STATUSES = (429, 503)


class JackpotClient:
    """Calls one engine as one operator.

    A call that fails in transit, or is answered 503 or 429, is sent again up to `retries`
    times with the same signed bytes: the engine answers a copy of a write with its first
    answer, so a retry never places a second ticket. Retries stop well inside the engine's
    signature window (300 s).
    """

    def __init__(
        self,
        base_url: str,
        *,
        operator: str,
        secret: str,
        signing: str = "betstack",
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if signing not in ("betstack", "strict"):
            raise ValueError("signing is 'betstack' or 'strict'")
        self.operator = operator
        self.secret = secret
        self.strict = signing == "strict"
        self.retries = retries
        self.backoff = backoff
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> JackpotClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------- purchases
    def place_ticket(
        self,
        order: Mapping[str, Any],
        *,
        reference: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Ticket, bool]:
        """POST /be/tickets; (the ticket, whether the answer repeats an earlier one)."""
        return self._purchase("/be/tickets", order, reference, idempotency_key)

    def reserve_ticket(
        self,
        order: Mapping[str, Any],
        *,
        reference: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Ticket, bool]:
        """POST /be/tickets/reserve (pay later)."""
        return self._purchase("/be/tickets/reserve", order, reference, idempotency_key)

    def pay(self, identifier: str, *, idempotency_key: str | None = None) -> tuple[Ticket, bool]:
        """POST /be/tickets/{identifier}/paid."""
        response = self._send("POST", f"/be/tickets/{identifier}/paid", b"", idempotency_key)
        return Ticket.of(response.json()), response.headers.get("replayed") == "true"

    def _purchase(
        self, path: str, order: Mapping[str, Any], reference: str | None, key: str | None
    ) -> tuple[Ticket, bool]:
        body = {**order, "operator": self.operator}
        if reference is not None:
            body["reference"] = reference
        raw = json.dumps(body, separators=(",", ":")).encode()
        response = self._send("POST", path, raw, key)
        return Ticket.of(response.json()), response.headers.get("replayed") == "true"

    # ------------------------------------------------------------------------- reads
    def ticket(self, identifier: str) -> Ticket:
        """GET /be/tickets/{identifier}: by id, code or reference, with its events."""
        return Ticket.of(self._send("GET", f"/be/tickets/{identifier}").json())

    def tickets(self, **filters: str | int | Sequence[str]) -> Iterator[Ticket]:
        """GET /be/tickets, newest first, every page (it follows the `Link` header)."""
        path: str | None = "/be/tickets" + ("?" + urlencode(filters, doseq=True) if filters else "")
        while path is not None:
            response = self._send("GET", path)
            yield from (Ticket.of(item) for item in response.json())
            link = response.links.get("next")
            path = link["url"] if link else None

    def cards(self, *, status: Sequence[str] = ()) -> list[Card]:
        """GET /bc/jackpots: the cards offered to this operator (on sale, or by status)."""
        query = "?" + urlencode({"status": list(status)}, doseq=True) if status else ""
        return [Card.of(item) for item in self._send("GET", f"/bc/jackpots{query}").json()]

    def card(self, code: str) -> Card:
        return Card.of(self._send("GET", f"/bc/jackpots/{code}").json())

    def pick(self, code: str, *, strategy: str = "favourites", seed: int | None = None) -> Pick:
        query = {"strategy": strategy, **({} if seed is None else {"seed": seed})}
        return Pick.of(self._send("GET", f"/bc/jackpots/{code}/pick?{urlencode(query)}").json())

    # ------------------------------------------------------------------------- transport
    def _send(
        self, method: str, path: str, body: bytes = b"", idempotency_key: str | None = None
    ) -> httpx.Response:
        """Sign once, then send (and resend the very same bytes) until an answer counts."""
        stamp = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "timestamp": stamp,
            "operator-name": self.operator,
            "signature": sign(self.secret, stamp, body, strict=self.strict),
        }
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        last: str = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self.http.request(method, path, content=body, headers=headers)
            except httpx.TransportError as error:
                last = f"{type(error).__name__}: {error}"
                continue
            if response.status_code in RETRYABLE_STATUSES:
                last = f"HTTP {response.status_code}"
                wait = response.headers.get("retry-after", "")
                if wait.isdigit():
                    time.sleep(min(int(wait), 30))
                continue
            return _checked(response)
        raise Unavailable(f"{method} {path}: no answer after {self.retries + 1} tries ({last})")


def _checked(response: httpx.Response) -> httpx.Response:
    if response.is_success:
        return response
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code == 403:
        raise NotAuthenticated(str(answer.get("detail", "forbidden")))
    if response.status_code == 422:
        raise InvalidRequest(list(answer.get("detail", [])))
    if isinstance(answer, dict) and "code" in answer:
        details = {k: v for k, v in answer.items() if k not in ("code", "message")}
        raise ApiError(response.status_code, answer["code"], answer.get("message", ""), details)
    raise ApiError(response.status_code, 0, str(answer.get("detail", response.text)), {})
