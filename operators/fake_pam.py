"""A fake operator PAM for development, demos, tests and benchmarks (docs/webhooks.md).

It receives engine webhooks (contract.md § PAM webhooks), verifies each signature with the
secret of the operator named in `data.operator` (looked up in the database by default),
records every request, logs it, and answers like a PAM: 200 `{"player_id": "..."}`, or a
failure on demand (a rate of 500s, a delay, 400 for one player token). Tests and scripts can
also plan answers per request (`planner`).

`FakePam(port=0).start()` runs it in a daemon thread on an OS-chosen port (`.url`);
`manage.py fake_pam --port 8765` runs it in the foreground.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import structlog
from django.db import connections

from operators.models import Operator
from operators.signing import webhook_signature_ok

log = structlog.get_logger(__name__)

MAX_SKEW_SECONDS = 300
SECRET_CACHE_SECONDS = 10.0


@dataclass(frozen=True, kw_only=True)
class PlannedAnswer:
    status: int = 200
    body: bytes = b""
    delay_seconds: float = 0.0


@dataclass(frozen=True, kw_only=True)
class ReceivedWebhook:
    """One request as the fake PAM saw it (recorded on arrival, before any delay)."""

    received_at: float  # unix time
    path: str
    headers: dict[str, str]
    body: bytes
    action: str | None
    data: dict[str, Any] | None
    signature_ok: bool
    answer: PlannedAnswer

    @property
    def ticket_id(self) -> str | None:
        value = (self.data or {}).get("ticket_id")
        return value if isinstance(value, str) else None


Planner = Callable[[ReceivedWebhook], PlannedAnswer | None]
SecretLookup = Callable[[str], str | None]


def operator_secret_from_db(name: str) -> str | None:
    operator = Operator.objects.filter(name=name, is_active=True).first()
    return operator.secret_key if operator is not None else None


def player_id_for(token: str) -> str:
    """The fake PAM's stable player id for a player token."""
    return "P" + hashlib.sha256(token.encode()).hexdigest()[:12]


@dataclass
class _SecretCache:
    lookup: SecretLookup
    entries: dict[str, tuple[float, str | None]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # One lookup at a time: when an entry expires, every handler thread (hundreds, with a
    # worker sending 25 at once per process) misses together, and each lookup opened a
    # database connection: past max_connections ("too many clients") in a million run.
    looking_up: threading.Lock = field(default_factory=threading.Lock)

    def get(self, name: str, *, fresh: bool = False) -> str | None:
        if not fresh and (entry := self._unexpired(name)):
            return entry[1]
        with self.looking_up:
            if not fresh and (entry := self._unexpired(name)):
                return entry[1]  # another thread looked it up meanwhile
            found = self.lookup(name)
            with self.lock:
                self.entries[name] = (time.monotonic() + SECRET_CACHE_SECONDS, found)
        return found

    def _unexpired(self, name: str) -> tuple[float, str | None] | None:
        """The (expires, secret) entry while it holds; a secret may be None (no operator)."""
        with self.lock:
            entry = self.entries.get(name)
        return entry if entry is not None and entry[0] > time.monotonic() else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Workers open hundreds of keep-alive connections at once (PAM_REQUESTS_PER_PROCESS per
    # pool process); socketserver's default backlog of 5 resets some of them, and 128 did
    # at 8 x 25 (as nginx's 511 would not).
    request_queue_size = 1024


class FakePam:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        fail_rate: float = 0.0,
        delay_ms: int = 0,
        refuse_token: str | None = None,
        planner: Planner | None = None,
        secret_lookup: SecretLookup = operator_secret_from_db,
        rng: random.Random | None = None,
        keep_last: int | None = None,
        answers: dict[str, PlannedAnswer] | None = None,
    ) -> None:
        self.fail_rate = fail_rate
        self.answers = answers or {}  # per action: what to answer instead (--answer)
        self.delay_ms = delay_ms
        self.refuse_token = refuse_token
        self.planner = planner
        self._secrets = _SecretCache(secret_lookup)
        self._rng = rng or random.Random()  # noqa: S311 - simulated failures, not crypto
        # Every request is kept unless `keep_last` says how many (a benchmark's million
        # would cost gigabytes and long garbage collections, slowing the answers).
        self._received: deque[ReceivedWebhook] = deque(maxlen=keep_last)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._server = _Server((host, port), _handler_for(self))

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/pam"

    @property
    def received(self) -> list[ReceivedWebhook]:
        with self._lock:
            return list(self._received)

    def start(self) -> FakePam:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> ReceivedWebhook:
        """Record one request and decide its answer (the HTTP handler sends it)."""
        received_at = time.time()
        parsed = _json_object(body)
        data = parsed.get("data") if parsed is not None else None
        data = data if isinstance(data, dict) else None
        action = parsed.get("action") if parsed is not None else None
        signature_ok = self._signature_ok(headers, body, data, now=received_at)
        request = ReceivedWebhook(
            received_at=received_at,
            path=path,
            headers=headers,
            body=body,
            action=action if isinstance(action, str) else None,
            data=data,
            signature_ok=signature_ok,
            answer=PlannedAnswer(),
        )
        request = replace(request, answer=self._answer(request))
        with self._lock:
            self._received.append(request)
        log.info(
            "fake_pam_webhook",
            action=request.action,
            ticket_id=request.ticket_id,
            operator=(data or {}).get("operator"),
            signature_ok=signature_ok,
            status=request.answer.status,
            delay_ms=round(request.answer.delay_seconds * 1000),
            body=body.decode(errors="replace"),
        )
        return request

    def recent(self, limit: int) -> list[dict[str, Any]]:
        """The last `limit` requests received, newest last, as `GET /requests` shows them."""
        with self._lock:
            kept = list(self._received)[-limit:] if limit else []
        return [
            {
                "received_at": request.received_at,
                "path": request.path,
                "action": request.action,
                "data": request.data,
                "signature_ok": request.signature_ok,
                "status": request.answer.status,
                "delay_ms": round(request.answer.delay_seconds * 1000),
            }
            for request in kept
        ]

    def _signature_ok(
        self, headers: dict[str, str], body: bytes, data: dict[str, Any] | None, *, now: float
    ) -> bool:
        timestamp, candidate = headers.get("timestamp"), headers.get("signature")
        operator = (data or {}).get("operator")
        if not (timestamp and candidate and isinstance(operator, str)):
            return False
        try:
            if abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
                return False
        except ValueError:
            return False
        secret = self._secrets.get(operator)
        if secret is not None and webhook_signature_ok(secret, timestamp, body, candidate):
            return True
        # The operator's key may have been rotated since it was cached (seed_demo's fresh
        # curl does): read it again once before refusing.
        secret = self._secrets.get(operator, fresh=True)
        return secret is not None and webhook_signature_ok(secret, timestamp, body, candidate)

    def _answer(self, request: ReceivedWebhook) -> PlannedAnswer:
        delay = self.delay_ms / 1000
        if not request.signature_ok:
            return PlannedAnswer(status=403, body=b'{"error":"bad signature"}', delay_seconds=delay)
        if self.planner is not None:
            planned = self.planner(request)
            if planned is not None:
                return planned
        if request.action in self.answers:
            return self.answers[request.action]
        token = (request.data or {}).get("player_id")
        if self.refuse_token is not None and token == self.refuse_token:
            return PlannedAnswer(
                status=400, body=b'{"error":"player refused"}', delay_seconds=delay
            )
        if self.fail_rate and self._rng.random() < self.fail_rate:
            return PlannedAnswer(
                status=500, body=b'{"error":"simulated failure"}', delay_seconds=delay
            )
        player = player_id_for(token) if isinstance(token, str) else None
        return PlannedAnswer(
            status=200,
            body=json.dumps({"player_id": player}).encode(),
            delay_seconds=delay,
        )


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _handler_for(pam: FakePam) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real PAM behind a proxy would
        # The answer goes out in two writes (headers, then body): with Nagle's algorithm the
        # body waits for the engine's delayed ACK of the headers, ~40 ms on Linux. Real HTTP
        # servers set TCP_NODELAY; so does this one.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                request = pam.handle(self.path, headers, body)
            finally:
                # The connection of a secret lookup is closed at once: this thread may wait
                # a long time on the next keep-alive request, and an idle connection would
                # block dropping a test database.
                connections.close_all()
            if request.answer.delay_seconds:
                time.sleep(request.answer.delay_seconds)
            self._send(request.answer.status, request.answer.body)

        def do_GET(self) -> None:
            """`GET /requests[?limit=N]`: the last N webhooks received (default 50), JSON."""
            path, _, query = self.path.partition("?")
            if path != "/requests":
                self._send(404, b'{"error":"GET /requests lists what was received"}')
                return
            limit = parse_qs(query).get("limit", ["50"])[0]
            if not limit.isdigit():
                self._send(400, b'{"error":"limit must be a whole number"}')
                return
            self._send(200, json.dumps(pam.recent(int(limit))).encode())

        def _send(self, status: int, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the engine gave up waiting (its read timeout); nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            return  # every request is already logged, structured, by FakePam.handle

    return Handler
