"""`manage.py fake_pam --port 8765 [--fail-rate 0.2] [--delay-ms N] [--refuse-token TOKEN]
[--answer ACTION=STATUS[:DELAY_MS] ...] [--keep N]`.

Runs the development PAM (operators/fake_pam.py), the operator's test double, in the
foreground until interrupted. Point an operator's webhook URL at the printed address. It
logs every webhook with its body, and `GET /requests[?limit=N]` lists the last ones
received (JSON).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from operators.fake_pam import FakePam, PlannedAnswer


class Command(BaseCommand):
    help = "Run a fake operator PAM that verifies and logs engine webhooks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to bind")
        parser.add_argument("--port", type=int, default=8765, help="port to bind")
        parser.add_argument(
            "--fail-rate", type=float, default=0.0, help="share of webhooks answered 500 (0-1)"
        )
        parser.add_argument(
            "--delay-ms", type=int, default=0, help="wait this long before every answer"
        )
        parser.add_argument(
            "--refuse-token", default=None, help="answer 400 to webhooks for this player token"
        )
        parser.add_argument(
            "--answer",
            action="append",
            default=[],
            metavar="ACTION=STATUS[:DELAY_MS]",
            help="answer this action so, e.g. ticket_create=503 or ticket_win=200:3000 "
            "(repeatable)",
        )
        parser.add_argument(
            "--keep", type=int, default=100, help="requests kept for GET /requests (default 100)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0 <= options["fail_rate"] <= 1:
            raise CommandError("--fail-rate must be between 0 and 1")
        if options["delay_ms"] < 0:
            raise CommandError("--delay-ms must not be negative")
        if options["keep"] < 0:
            raise CommandError("--keep must not be negative")
        answers = dict(_answer(text) for text in options["answer"])
        pam = FakePam(
            host=options["host"],
            port=options["port"],
            fail_rate=options["fail_rate"],
            delay_ms=options["delay_ms"],
            refuse_token=options["refuse_token"],
            keep_last=options["keep"],
            answers=answers,
        )
        self.stdout.write(f"fake PAM listening on {pam.url} (Ctrl-C stops it)")
        self.stdout.flush()
        try:
            pam.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            pam.stop()


def _answer(text: str) -> tuple[str, PlannedAnswer]:
    """`ticket_create=503` or `ticket_win=200:3000` → (action, what to answer)."""
    action, _, planned = text.partition("=")
    status, _, delay = planned.partition(":")
    if not action or not status.isdigit() or not 100 <= int(status) <= 599:
        raise CommandError(
            f"--answer {text!r}: expected ACTION=STATUS[:DELAY_MS], e.g. ticket_create=503"
        )
    if delay and not delay.isdigit():
        raise CommandError(f"--answer {text!r}: the delay must be whole milliseconds")
    body = b'{"player_id":null}' if int(status) < 300 else b'{"error":"told to by --answer"}'
    return action, PlannedAnswer(
        status=int(status), body=body, delay_seconds=int(delay or 0) / 1000
    )
