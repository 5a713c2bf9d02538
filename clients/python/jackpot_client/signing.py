"""Request signatures: HMAC-SHA256 of `{timestamp}{body}`, white space removed from the body
(`betstack`) or the exact bytes sent (`strict`)."""

from __future__ import annotations

import hashlib
import hmac

_WHITE_SPACE = b" \t\r\n"


def sign(secret: str, timestamp: str, body: bytes, *, strict: bool) -> str:
    kept = body if strict else body.translate(None, _WHITE_SPACE)
    return hmac.new(secret.encode(), timestamp.encode() + kept, hashlib.sha256).hexdigest()


def webhook_ok(secret: str, timestamp: str, body: bytes, header: str, *, strict: bool) -> bool:
    """Whether any one of a webhook's comma-separated signatures is right (a rotation
    sends two)."""
    expected = sign(secret, timestamp, body, strict=strict)
    return any(hmac.compare_digest(expected, part.strip()) for part in header.split(","))
