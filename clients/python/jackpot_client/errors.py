"""What the engine refuses, as exceptions."""

from __future__ import annotations

from typing import Any


class JackpotClientError(Exception):
    """Any failure of a call: the engine refused it, or could not be reached in time."""


class ApiError(JackpotClientError):
    """A documented refusal: `{"code": N, "message": ...}` and any extra keys
    (`event_id`, `current_odds` for 109/110)."""

    def __init__(self, status: int, code: int, message: str, details: dict[str, Any]) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class InvalidRequest(JackpotClientError):
    """A 422: every bad field, as `{"loc": [...], "msg": ..., "type": ...}`."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        self.errors = errors


class NotAuthenticated(JackpotClientError):
    """A 403: the signature, the timestamp or the operator was refused."""


class Unavailable(JackpotClientError):
    """The engine could not answer after every retry (network, 503, 429)."""
