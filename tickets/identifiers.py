"""Ticket identifiers (contract.md § Ticket id, § Ticket code).

The id is 24 lower-case hex characters: 8 for the creation unix time (so ids sort by
creation), 16 random. The code is 6 random upper-case letters and digits; its uniqueness is
the unique index's job: `tickets.placement` retries on a collision and answers 111 when every
attempt collides (never a check-then-insert).
"""

from __future__ import annotations

import re
import secrets
import string
import time

CODE_ALPHABET = string.ascii_uppercase + string.digits
CODE_LENGTH = 6
TICKET_ID_PATTERN = re.compile(r"[0-9a-f]{24}")
TICKET_CODE_PATTERN = re.compile(r"[A-Z0-9]{6}")


def ticket_id(unix_time: float | None = None) -> str:
    """A new ticket id; `unix_time` defaults to now."""
    seconds = int(time.time() if unix_time is None else unix_time) & 0xFFFFFFFF
    return f"{seconds:08x}{secrets.token_hex(8)}"


def ticket_code() -> str:
    """A random 6-character code from `secrets` (36**6, about 2.2 billion, possibilities)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def looks_like_ticket_id(identifier: str) -> bool:
    return TICKET_ID_PATTERN.fullmatch(identifier) is not None


REFERENCE_PATTERN = re.compile(r"[\x21-\x7e]{1,64}")
"""A purchase's `reference`: 1-64 printable ASCII characters, no spaces (under `betstack`
signing white space is not signed, so a reference with a space could be changed)."""


def looks_like_ticket_code(identifier: str) -> bool:
    return TICKET_CODE_PATTERN.fullmatch(identifier) is not None


def identifier_lookup(identifier: str) -> dict[str, str] | None:
    """The ticket lookup an identifier stands for (`{"id": ...}` or `{"code": ...}`); None
    when it is neither shape, hence unknown without a query."""
    if looks_like_ticket_id(identifier):
        return {"id": identifier}
    if looks_like_ticket_code(identifier):
        return {"code": identifier}
    return None
