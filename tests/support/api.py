"""Signed calls to the /be/ API through Django's test client (contract.md § Authentication).

    response = signed_post(client, operator, "/be/tickets", body)
    response = signed_get(client, operator, f"/be/tickets/{ticket.code}")

`body` may be a dict (sent compact, in its key order) or raw bytes (sent as they are). The
signature is computed with the operator's secret over the compact form unless `signature`
is given; `headers` adds or overrides headers (None removes one).
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.test import Client
from django.test.client import RequestFactory

from operators.models import Operator
from operators.signing import signature as sign


def compact(body: dict[str, Any] | bytes) -> bytes:
    if isinstance(body, bytes):
        return body
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(
    operator: Operator | str,
    body: bytes,
    *,
    timestamp: int | str | None = None,
    secret: str | None = None,
) -> dict[str, str]:
    """The three signature headers for `body` (as HTTP header names)."""
    name = operator if isinstance(operator, str) else operator.name
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    key = secret if secret is not None else "" if isinstance(operator, str) else operator.secret_key
    return {"timestamp": stamp, "operator-name": name, "signature": sign(key, stamp, body)}


def _meta(headers: dict[str, str | None]) -> dict[str, str]:
    return {
        "HTTP_" + name.upper().replace("-", "_"): value
        for name, value in headers.items()
        if value is not None
    }


def signed_post(
    client: Client | RequestFactory,
    operator: Operator | str,
    path: str,
    body: dict[str, Any] | bytes,
    *,
    timestamp: int | str | None = None,
    secret: str | None = None,
    signature: str | None = None,
    headers: dict[str, str | None] | None = None,
    **extra: Any,
) -> Any:
    raw = compact(body)
    all_headers: dict[str, str | None] = {
        **signed_headers(operator, raw, timestamp=timestamp, secret=secret)
    }
    if signature is not None:
        all_headers["signature"] = signature
    all_headers.update(headers or {})
    return client.generic(
        "POST", path, raw, content_type="application/json", **_meta(all_headers), **extra
    )


def signed_get(
    client: Client | RequestFactory,
    operator: Operator | str,
    path: str,
    *,
    timestamp: int | str | None = None,
    secret: str | None = None,
    headers: dict[str, str | None] | None = None,
) -> Any:
    all_headers: dict[str, str | None] = {
        **signed_headers(operator, b"", timestamp=timestamp, secret=secret)
    }
    all_headers.update(headers or {})
    return client.get(path, **_meta(all_headers))
