"""`manage.py pam_conformance --url URL --operator NAME [--secret KEY] [--balance-url URL]`.

Checks an operator's PAM before it goes live (docs/webhooks.md § Checking your PAM): a
scripted session of every webhook kind, a repeat, a wrong signature, a stale timestamp and a
rotation's two signatures, against the PAM's test mode, signed with the operator's secret
and signing as the engine signs. Prints one line per check (PASS, FAIL or SKIP) and the
PAM's answer times; exits 1 when a check fails.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from operators.models import Operator
from tickets.conformance import balance_reader, conformance_run


class Command(BaseCommand):
    help = "Check an operator's PAM: every webhook, a repeat, bad signatures, a rotation."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--url", required=True, help="the PAM's webhook URL (test mode)")
        parser.add_argument("--operator", required=True, help="the operator's name")
        parser.add_argument(
            "--secret",
            help="sign with this key instead of the operator's stored one (e.g. a PAM that "
            "runs with the new key during a rotation)",
        )
        parser.add_argument(
            "--balance-url",
            metavar="URL",
            help="GET URL of a player's balance, `{token}` replaced by the player token, "
            'answering {"balance": CENTS}: checks that a repeated ticket_create debits once',
        )
        parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")

    def handle(self, *args: Any, **options: Any) -> None:
        operator = Operator.objects.filter(name=options["operator"]).first()
        if operator is None:
            raise CommandError(f"operator {options['operator']!r} does not exist")
        if not options["url"].startswith(("http://", "https://")):
            raise CommandError("--url must be an http:// or https:// URL")
        balance = options["balance_url"]
        if balance is not None and "{token}" not in balance:
            raise CommandError("--balance-url must contain {token}")
        report = conformance_run(
            url=options["url"],
            operator=operator,
            secret=options["secret"] or operator.secret_key,
            balance=None if balance is None else balance_reader(balance),
            timeout=options["timeout"],
        )
        for line in report.lines():
            self.stdout.write(line)
        if not report.passed:
            raise CommandError("the PAM failed conformance (see the FAIL lines above)")
