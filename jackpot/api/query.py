"""Query parameters of the operator APIs, checked strictly: a bad parameter is a 422 naming
it (`{"loc": ["query", "limit"], "msg": ..., "type": ...}`, as a bad body field is), every
bad one at once, never a 500. Unknown parameters are ignored.

    params = QueryParams(request.GET)
    limit = params.integer("limit", default=10, minimum=1, maximum=100)
    statuses = params.choices("status", ("open", "closed"))
    params.raise_if_invalid()        # RequestInvalid (422) listing every problem
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from django.http import QueryDict

from jackpot.api.exceptions import FieldError, RequestInvalid
from jackpot.api.strings import text_problem

_INTEGER = re.compile(r"-?[0-9]{1,19}")
_MOMENT = re.compile(
    r"(?P<time>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?)"
    r"(?P<zone>[Zz]|[+ -][0-9]{2}:[0-9]{2})?"
)
"""A space before the offset is a `+` that the query string decoded (`+` must be sent as
`%2B`; an unencoded one arrives as a space)."""


class QueryParams:
    def __init__(self, query: QueryDict) -> None:
        self.query = query
        self.errors: list[FieldError] = []

    def fail(self, name: str, msg: str, kind: str) -> None:
        self.errors.append({"loc": ["query", name], "msg": msg, "type": kind})

    def raise_if_invalid(self) -> None:
        if self.errors:
            raise RequestInvalid(self.errors)

    def text(self, name: str, *, max_length: int, required: bool = False) -> str | None:
        value = self.query.get(name)
        if value is None:
            if required:
                self.fail(name, "Field required", "missing")
            return None
        if not self._text_ok(name, value, max_length):
            return None
        return value

    def texts(self, name: str, *, max_length: int) -> list[str]:
        """A repeatable text parameter (`?skip_types=a&skip_types=b`); [] when absent."""
        values = self.query.getlist(name)
        if not all(self._text_ok(name, value, max_length) for value in values):
            return []
        return list(dict.fromkeys(values))

    def _text_ok(self, name: str, value: str, max_length: int) -> bool:
        problem = text_problem(value, longest=max_length)
        if problem is not None:
            self.fail(name, *problem)
        return problem is None

    def matching(self, name: str, pattern: re.Pattern[str], *, description: str) -> str | None:
        """A text parameter of a fixed shape (`description` says which), or None."""
        value = self.query.get(name)
        if value is None:
            return None
        if not pattern.fullmatch(value):
            self.fail(name, f"Input should be {description}", "string_pattern_mismatch")
            return None
        return value

    def integer(
        self,
        name: str,
        *,
        minimum: int,
        maximum: int,
        default: int | None = None,
        required: bool = False,
    ) -> int | None:
        raw = self.query.get(name)
        if raw is None:
            if required:
                self.fail(name, "Field required", "missing")
            return default
        if not _INTEGER.fullmatch(raw):
            self.fail(name, "Input should be a valid integer", "int_parsing")
            return None
        value = int(raw)
        if value < minimum:
            self.fail(
                name, f"Input should be greater than or equal to {minimum}", "greater_than_equal"
            )
            return None
        if value > maximum:
            self.fail(name, f"Input should be less than or equal to {maximum}", "less_than_equal")
            return None
        return value

    def choice(
        self, name: str, choices: Sequence[str], *, default: str | None = None
    ) -> str | None:
        raw = self.query.get(name)
        if raw is None:
            if default is None:
                self.fail(name, "Field required", "missing")
            return default
        if raw not in choices:
            self.fail(name, _one_of(choices), "enum")
            return None
        return raw

    def choices(self, name: str, choices: Sequence[str]) -> list[str]:
        """A repeatable parameter (`?status=open&status=closed`); [] when absent."""
        values = self.query.getlist(name)
        if any(value not in choices for value in values):
            self.fail(name, _one_of(choices), "enum")
            return []
        return list(dict.fromkeys(values))

    def moment(self, name: str) -> dt.datetime | None:
        """A time in the contract's format (`YYYY-MM-DDTHH:MM:SS[.ffffff]`, UTC), or the same
        with a zone: `Z` or an offset (`+03:00`), converted to UTC."""
        raw = self.query.get(name)
        if raw is None:
            return None
        match = _MOMENT.fullmatch(raw)
        if match is not None:
            zone = match["zone"]
            offset = "+00:00" if zone in (None, "Z", "z") else zone.replace(" ", "+")
            text = match["time"] + offset
            try:
                return dt.datetime.fromisoformat(text).astimezone(dt.UTC)
            except ValueError:
                pass
        self.fail(
            name,
            "Input should be a time as YYYY-MM-DDTHH:MM:SS[.ffffff], UTC, or with Z or an "
            "offset such as +03:00",
            "datetime",
        )
        return None


def _one_of(choices: Sequence[str]) -> str:
    return "Input should be one of " + ", ".join(f"'{choice}'" for choice in choices)
