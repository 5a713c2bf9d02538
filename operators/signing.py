"""Request and webhook signatures (contract.md § Authentication).

`signature` is the lowercase hex HMAC-SHA256, keyed with the operator's secret, of
`{timestamp}{body}` where every space, tab, CR and LF is removed from the body, so a body
signed compact verifies when sent pretty-printed. The same rule signs PAM webhooks (whose
bodies are sent compact). Pure functions: no Django imports.
"""

from __future__ import annotations

import hashlib
import hmac

_WHITESPACE = b" \t\r\n"


def canonical_message(timestamp: str, body: bytes) -> bytes:
    return timestamp.encode() + body.translate(None, _WHITESPACE)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    message = canonical_message(timestamp, body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_matches(secret: str, timestamp: str, body: bytes, candidate: str) -> bool:
    """Constant-time comparison of a received signature with the expected one, exactly as
    the contract writes it: lower-case hex (an upper-case or padded one does not match)."""
    expected = signature(secret, timestamp, body)
    return hmac.compare_digest(expected.encode(), candidate.encode())
