"""`manage.py create_operator NAME [...]` (operations.md § create_operator).

Prints one JSON object `{"operator": NAME, "secret_key": "..."}` on standard output. An
existing name fails unless `--rotate-secret` is given, which issues that operator a new key,
or `--update`, which changes only the options given (and prints `{"operator": NAME}`).
"""

from __future__ import annotations

import datetime as dt
import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from jackpot.core.errors import OperatorInvalid
from operators.models import ExciseType, Operator, Signing
from operators.services import (
    operator_create,
    operator_rotate_secret,
    operator_update,
)

_SETTING_OPTIONS = {  # option -> Operator field
    "webhook_url": "webhook_url",
    "timezone": "timezone",
    "ext": "ext_percent",
    "ext_type": "ext_type",
    "wht": "wht_percent",
    "currencies": "currencies",
    "aff_comm": "aff_comm_percent",
    "reservation_minutes": "reservation_minutes",
    "rate_limit": "rate_limit",
    "max_tickets_per_player": "max_tickets_per_player",
    "max_daily_spend": "max_daily_spend",
    "signing": "signing",
}


class Command(BaseCommand):
    help = "Register an operator (or rotate its secret key) and print its secret key as JSON."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="Operator name, sent in the operator-name header")
        parser.add_argument("--webhook-url", help="PAM webhook URL (default: none)")
        parser.add_argument("--timezone", help="IANA time zone (default: UTC)")
        parser.add_argument("--ext", help="Excise percent, 0-100 (default: 0)")
        parser.add_argument(
            "--ext-type", choices=ExciseType.values, help="Excise type (default: inclusive)"
        )
        parser.add_argument("--wht", help="Withholding tax percent on winnings (default: 0)")
        parser.add_argument(
            "--currencies", help="Comma-separated ISO 4217 codes, e.g. KES,USD (empty: any)"
        )
        parser.add_argument("--aff-comm", help="Affiliate instant commission percent (optional)")
        parser.add_argument(
            "--reservation-minutes",
            metavar="N",
            help="How long a reservation (pay later) waits to be paid (default: 30)",
        )
        parser.add_argument(
            "--rate-limit",
            metavar="PER_SECOND",
            help="Requests per second on /be/ and /bc/ together (default: 100; 0: none)",
        )
        parser.add_argument(
            "--max-tickets-per-player",
            metavar="N",
            help="Reserved and open tickets one player may hold on one card (default: none)",
        )
        parser.add_argument(
            "--max-daily-spend",
            metavar="CENTS",
            help="Cents one player may spend per day, operator's time zone (default: none)",
        )
        parser.add_argument(
            "--signing",
            choices=Signing.values,
            help="How requests and webhooks are signed: betstack (white space removed from "
            "the body; default) or strict (the exact bytes sent; recommended)",
        )
        parser.add_argument(
            "--update",
            action="store_true",
            help="Change only the options given on the existing operator NAME",
        )
        parser.add_argument(
            "--rotate-secret",
            action="store_true",
            help="Issue a new secret key to the existing operator NAME at once, the old one "
            "void (changes nothing else; rotate_operator_secret keeps it for a grace period)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name: str = options["name"]
        if options["update"] and options["rotate_secret"]:
            raise CommandError("give --update or --rotate-secret, not both")
        if options["update"]:
            self._update(name, options)
            self.stdout.write(json.dumps({"operator": name}))
            return
        if options["rotate_secret"]:
            secret = self._rotate(name, options)
        else:
            secret = self._create(name, options)
        self.stdout.write(json.dumps({"operator": name, "secret_key": secret}))

    def _update(self, name: str, options: dict[str, Any]) -> None:
        operator = Operator.objects.filter(name=name).first()
        if operator is None:
            raise CommandError(f"operator {name!r} does not exist; nothing was changed")
        changes = {
            field: options[option]
            for option, field in _SETTING_OPTIONS.items()
            if options[option] is not None
        }
        if "currencies" in changes:
            changes["currencies"] = _codes(changes["currencies"])
        if not changes:
            raise CommandError("--update needs at least one option to change")
        try:
            operator_update(operator=operator, **changes)
        except OperatorInvalid as exc:
            raise CommandError(str(exc)) from exc

    def _rotate(self, name: str, options: dict[str, Any]) -> str:
        operator = Operator.objects.filter(name=name).first()
        if operator is None:
            raise CommandError(
                f"operator {name!r} does not exist; run create_operator without --rotate-secret "
                "to register it"
            )
        ignored = [
            f"--{key.replace('_', '-')}" for key in _SETTING_OPTIONS if options[key] is not None
        ]
        if ignored:
            self.stderr.write(
                f"note: --rotate-secret changes only the secret key; ignored {', '.join(ignored)}"
            )
        return operator_rotate_secret(
            operator=operator, rotated_by="command:create_operator", grace=dt.timedelta(0)
        )

    def _create(self, name: str, options: dict[str, Any]) -> str:
        currencies = options["currencies"] or ""
        try:
            _operator, secret = operator_create(
                name=name,
                webhook_url=options["webhook_url"] or "",
                timezone=options["timezone"] or "UTC",
                ext_percent=options["ext"] or "0",
                ext_type=options["ext_type"] or ExciseType.INCLUSIVE,
                wht_percent=options["wht"] or "0",
                currencies=_codes(currencies),
                aff_comm_percent=options["aff_comm"],
                reservation_minutes=options["reservation_minutes"] or 30,
                rate_limit=100 if options["rate_limit"] is None else options["rate_limit"],
                max_tickets_per_player=options["max_tickets_per_player"],
                max_daily_spend=options["max_daily_spend"],
                signing=options["signing"] or Signing.BETSTACK,
            )
        except OperatorInvalid as exc:
            raise CommandError(str(exc)) from exc
        return secret


def _codes(text: str) -> list[str]:
    return [code.strip() for code in text.split(",") if code.strip()]
