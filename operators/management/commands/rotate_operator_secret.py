"""`manage.py rotate_operator_secret NAME [--grace HOURS]` (docs/operations.md).

Issues the operator a new secret key and prints it once, as JSON:
`{"operator": NAME, "secret_key": "...", "previous_key_valid_until": "...Z" | null}`. The
old key keeps verifying requests, and webhooks carry a signature with each key, until the
grace period ends (default 24 hours; 0 ends it at once). The rotation is recorded.
"""

from __future__ import annotations

import datetime as dt
import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from jackpot.core.errors import OperatorInvalid
from operators.models import Operator
from operators.services import DEFAULT_GRACE, operator_rotate_secret


class Command(BaseCommand):
    help = "Issue an operator a new secret key; the old one verifies for a grace period."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="Operator name")
        parser.add_argument(
            "--grace",
            type=float,
            default=DEFAULT_GRACE.total_seconds() / 3600,
            metavar="HOURS",
            help="Hours the old key keeps working (default: 24; 0: it stops at once)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name: str = options["name"]
        operator = Operator.objects.filter(name=name).first()
        if operator is None:
            raise CommandError(f"operator {name!r} does not exist; nothing was changed")
        try:
            secret = operator_rotate_secret(
                operator=operator,
                rotated_by="command:rotate_operator_secret",
                grace=dt.timedelta(hours=options["grace"]),
            )
        except (OperatorInvalid, OverflowError) as exc:
            raise CommandError(f"--grace: {exc}") from exc
        until = operator.previous_secret_valid_until
        self.stdout.write(
            json.dumps(
                {
                    "operator": name,
                    "secret_key": secret,
                    "previous_key_valid_until": (
                        None if until is None else until.isoformat().replace("+00:00", "Z")
                    ),
                }
            )
        )
