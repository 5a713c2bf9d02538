"""`manage.py seed_demo [--webhook-url URL] [--base-url URL] [--rotate]`: demo data and a
signed curl.

Idempotent: creates or refreshes operator `demo` (printing its secret key, which it keeps
unless `--rotate` is given), a 13-event catalogue and open betcard DEMO13, then prints a
ready-to-paste signed `curl` placing a ticket. The signature's timestamp expires
(SIGNATURE_MAX_SKEW_SECONDS), so the last line says how to get a fresh one.
"""

from __future__ import annotations

import shlex
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from betcards.catalogue.importing import CatalogueInvalid
from betcards.demo import DEMO_BETCARD, curl_command, demo_seed, demo_ticket_request
from jackpot.core import clock
from jackpot.core.errors import OperatorInvalid

_DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = "Create or refresh demo operator, catalogue and betcard DEMO13; print a signed curl."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--webhook-url", help="PAM webhook URL of the demo operator (default: keep as is)"
        )
        parser.add_argument(
            "--base-url",
            default=_DEFAULT_BASE_URL,
            help=f"Engine URL (default {_DEFAULT_BASE_URL})",
        )
        parser.add_argument(
            "--rotate",
            action="store_true",
            help="Issue the demo operator a new secret key (curls printed before stop working)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = clock.now()
        try:
            operator, secret, summary = demo_seed(
                now=now, webhook_url=options["webhook_url"], rotate=options["rotate"]
            )
        except (OperatorInvalid, CatalogueInvalid) as exc:
            raise CommandError(str(exc)) from exc
        request = demo_ticket_request(
            operator=operator,
            secret=secret,
            base_url=options["base_url"],
            timestamp=int(now.timestamp()),
        )
        # The same services and keys as `make run` (var/local.env), so the new secret decrypts.
        rerun = ".venv/bin/python -m devserver manage seed_demo"
        if options["base_url"] != _DEFAULT_BASE_URL:
            rerun += f" --base-url {shlex.quote(options['base_url'])}"
        self.stdout.write(f"operator: {operator.name} (time zone {operator.timezone})")
        self.stdout.write(f"secret key: {secret}")
        self.stdout.write(f"webhook URL: {operator.webhook_url or '(none)'}")
        self.stdout.write(f"catalogue: {summary}")
        self.stdout.write(f"betcard: {DEMO_BETCARD} (open, 13 events, USD, price 500)")
        if not operator.webhook_url:
            self.stdout.write(
                "warning: the demo operator has no webhook URL, so the API refuses its tickets "
                "with code 114; run seed_demo --webhook-url URL to set one"
            )
        self.stdout.write("")
        self.stdout.write(curl_command(request))
        self.stdout.write("")
        self.stdout.write(
            f"# The signature expires {settings.SIGNATURE_MAX_SKEW_SECONDS} s after "
            f"{int(now.timestamp())}; for a fresh curl run: {rerun}"
        )
