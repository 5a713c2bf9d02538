"""`manage.py fake_pam --port 8765 [--fail-rate 0.2] [--delay-ms N] [--refuse-token TOKEN]`.

Runs the development PAM (operators/fake_pam.py) in the foreground until interrupted. Point
an operator's webhook URL at the printed address.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from operators.fake_pam import FakePam


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

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0 <= options["fail_rate"] <= 1:
            raise CommandError("--fail-rate must be between 0 and 1")
        if options["delay_ms"] < 0:
            raise CommandError("--delay-ms must not be negative")
        pam = FakePam(
            host=options["host"],
            port=options["port"],
            fail_rate=options["fail_rate"],
            delay_ms=options["delay_ms"],
            refuse_token=options["refuse_token"],
            keep_last=0,  # it logs every request and never reads them back: keep none
        )
        self.stdout.write(f"fake PAM listening on {pam.url} (Ctrl-C stops it)")
        self.stdout.flush()
        try:
            pam.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            pam.stop()
