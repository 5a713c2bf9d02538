"""`manage.py import_catalogue FILE` (operations.md § import_catalogue; `-` reads stdin).

Upserts the catalogue from one JSON document. A bad document changes nothing: the command
exits non-zero with a message naming the bad entry. Prints a one-line summary.
"""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from betcards.catalogue.importing import CatalogueInvalid, catalogue_import


class Command(BaseCommand):
    help = "Upsert teams, events, markets, bets and betcards from a JSON document."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="Path of the JSON document, or - for standard input")

    def handle(self, *args: Any, **options: Any) -> None:
        source: str = options["file"]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {source}: {exc}") from exc
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"{source} is not valid JSON: {exc}") from exc
        try:
            summary = catalogue_import(document)
        except CatalogueInvalid as exc:
            raise CommandError(f"nothing imported: {exc}") from exc
        self.stdout.write(f"imported {summary}")
