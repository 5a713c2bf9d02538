"""What the dev tooling tells its user: progress lines, masked URLs, and the one error type."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit, urlunsplit


class ServiceError(Exception):
    """A service could not be found, started or reached; the message says what to do."""


def say(message: str) -> None:
    """Progress and errors go to stderr, prefixed, so a command's own stdout stays clean."""
    sys.stderr.write(f"jackpot: {message}\n")
    sys.stderr.flush()


def redact(url: str) -> str:
    """The URL with its password replaced by `***`, fit for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
