"""A local HTTP PAM for tests: records every webhook, answers as scripted.

    @pytest.fixture
    def pam() -> Iterator[ScriptedPam]:
        with ScriptedPam() as scripted:
            yield scripted

    def test_x(pam: ScriptedPam) -> None:
        operator = OperatorFactory(webhook_url=pam.url)
        pam.trust(operator)                       # needed when the test runs in a transaction
        pam.script("ticket_create", 500, 500, Answer(status=200, delay_seconds=2))
        ...
        [create] = pam.wait_for(lambda got: len(got) >= 1)

Scripted answers are consumed in order per ticket id, else per action (None: any action),
so concurrent requests can be scripted per ticket; once a script is empty the PAM answers
like `operators.fake_pam.FakePam` (200 with a player id). Signatures
are verified with the secrets given to `trust`, else the operator's secret from the
database (which a server thread sees only in `transaction=True` tests).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from types import TracebackType

from operators.fake_pam import (
    FakePam,
    PlannedAnswer,
    ReceivedWebhook,
    operator_secret_from_db,
    player_id_for,
)
from operators.models import Operator

Answer = PlannedAnswer

__all__ = ["Answer", "ReceivedWebhook", "ScriptedPam", "player_id_for"]


class ScriptedPam:
    def __init__(self) -> None:
        self._scripts: dict[str | None, deque[PlannedAnswer]] = {}
        self._secrets: dict[str, str] = {}
        # Called in the server thread before answering (e.g. to change the database while a
        # webhook is in flight).
        self.on_request: Callable[[ReceivedWebhook], None] | None = None
        self.server = FakePam(port=0, planner=self._plan, secret_lookup=self._secret)

    def __enter__(self) -> ScriptedPam:
        self.server.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def received(self) -> list[ReceivedWebhook]:
        return self.server.received

    def of_action(self, action: str) -> list[ReceivedWebhook]:
        return [request for request in self.received if request.action == action]

    def trust(self, operator: Operator) -> None:
        self._secrets[operator.name] = operator.secret_key

    def script(self, key: str | None, *answers: PlannedAnswer | int) -> None:
        """Answers for the requests of one ticket id, else one action, else (None) any."""
        queue = self._scripts.setdefault(key, deque())
        for answer in answers:
            queue.append(PlannedAnswer(status=answer) if isinstance(answer, int) else answer)

    def wait_for(
        self,
        condition: Callable[[list[ReceivedWebhook]], bool],
        *,
        timeout: float = 15.0,
        what: str = "the expected webhooks",
    ) -> list[ReceivedWebhook]:
        deadline = time.monotonic() + timeout
        while True:
            received = self.received
            if condition(received):
                return received
            if time.monotonic() > deadline:
                actions = [request.action for request in received]
                raise AssertionError(f"PAM did not get {what} in {timeout} s; got {actions}")
            time.sleep(0.02)

    def _plan(self, request: ReceivedWebhook) -> PlannedAnswer | None:
        if self.on_request is not None:
            self.on_request(request)
        for key in (request.ticket_id, request.action, None):
            queue = self._scripts.get(key)
            if queue:
                return queue.popleft()
        return None

    def _secret(self, name: str) -> str | None:
        return self._secrets.get(name) or operator_secret_from_db(name)
