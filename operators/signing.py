"""Request and webhook signatures (contract.md § Authentication, § Secret rotation and strict
signing).

`signature` is the lowercase hex HMAC-SHA256, keyed with the operator's secret, of
`{timestamp}{body}`. Under `betstack` signing (the default) every space, tab, CR and LF is
removed from the body first, so a body signed compact verifies when sent pretty-printed;
under `strict` signing the body is taken as the exact bytes sent, so no character of it,
inside strings included, can change without breaking the signature. The same rule signs
the operator's PAM webhooks. During a secret rotation two secrets verify, and a webhook's
`signature` header carries both signatures, newest first, separated by a comma. Pure
functions: no Django imports.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

_WHITESPACE = b" \t\r\n"


BETSTACK = "betstack"
STRICT = "strict"


def canonical_message(timestamp: str, body: bytes, signing: str = BETSTACK) -> bytes:
    if signing == STRICT:
        return timestamp.encode() + body
    return timestamp.encode() + body.translate(None, _WHITESPACE)


def signature(secret: str, timestamp: str, body: bytes, signing: str = BETSTACK) -> str:
    message = canonical_message(timestamp, body, signing)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_matches(
    secrets: Sequence[str], timestamp: str, body: bytes, candidate: str, signing: str = BETSTACK
) -> bool:
    """Whether `candidate` is the signature under any of `secrets` (a rotation's two), each
    compared in constant time, exactly as the contract writes it: lower-case hex."""
    matched = False
    for secret in secrets:  # every one compared: the time does not tell which matched
        expected = signature(secret, timestamp, body, signing)
        matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    return matched


def signature_header(secrets: Sequence[str], timestamp: str, body: bytes, signing: str) -> str:
    """A webhook's `signature` header: one signature per secret, newest first, joined by a
    comma (a PAM that checks any one of them keeps working through a rotation)."""
    return ",".join(signature(secret, timestamp, body, signing) for secret in secrets)


def webhook_signature_ok(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a PAM checks: one of the header's comma-separated signatures (a rotation sends
    two) is the body's under `secret`, signed `betstack` or `strict` (a PAM knows which its
    operator uses; the fake PAM accepts either)."""
    candidates = [part.strip() for part in header.split(",")]
    return any(
        signature_matches([secret], timestamp, body, candidate, signing)
        for candidate in candidates
        for signing in (BETSTACK, STRICT)
    )
