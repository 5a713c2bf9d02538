"""The raw request body of /be/ calls: size limit (413) before parsing, strict JSON.

Implements contract.md § Authentication ("bodies larger than 64 KiB are refused with 413
before they are parsed, whether or not they declare a Content-Length") and the "never 500"
rule of § POST /be/tickets for unparsable bodies.

The body is read once and kept in `request.META` so the signature check, the operator peek
(code 115) and the view all see the same bytes and the JSON is parsed at most once.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final

import msgspec
from django.conf import settings
from django.http import HttpRequest
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

_RAW_BODY: Final = "jackpot.raw_body"
_JSON_BODY: Final = "jackpot.json_body"
_READ_CHUNK = 16 * 1024


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body is too large."
    default_code = "payload_too_large"


def raw_body(request: HttpRequest) -> bytes:
    """The request body, read at most once and never beyond `MAX_REQUEST_BODY_BYTES` + 1.

    A declared `Content-Length` above the limit is refused without reading anything. A
    chunked body (no `Content-Length`; the web server, jackpot.rsgi, de-chunks
    `wsgi.input`) is read in pieces and refused as soon as it passes the limit. A request
    with neither has no body (HTTP/1.1 § 3.3.3).
    """
    cached: bytes | None = request.META.get(_RAW_BODY)
    if cached is not None:
        return cached
    limit: int = settings.MAX_REQUEST_BODY_BYTES
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        body = _read_limited(request.META["wsgi.input"], limit)
    else:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        length = int(declared) if declared.isdigit() else 0
        if length > limit:
            raise PayloadTooLarge(f"Request body is larger than {limit} bytes.")
        body = request.body if length else b""
    request.META[_RAW_BODY] = body
    return body


def _read_limited(stream: Any, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        part: bytes = stream.read(min(_READ_CHUNK, limit + 1 - size))
        if not part:
            return b"".join(parts)
        parts.append(part)
        size += len(part)
        if size > limit:
            raise PayloadTooLarge(f"Request body is larger than {limit} bytes.")


# Numbers with a fraction or an exponent are read as Decimal from their text, never through a
# float: "2.5500000000000001" has 16 decimals however close to 2.55 its float would be.
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def json_body(request: HttpRequest) -> object:
    """The body parsed as strict JSON (RFC 8259), numbers with a fraction as Decimal: NaN,
    Infinity, invalid UTF-8, lone surrogates and nesting too deep to read are refused with
    ParseError (→ 422)."""
    parsed: tuple[bool, object] | None = request.META.get(_JSON_BODY)
    if parsed is None:
        try:
            parsed = (True, _DECODER.decode(raw_body(request)))
        except (msgspec.DecodeError, UnicodeDecodeError) as error:
            parsed = (False, f"Invalid JSON: {error}")
        except ArithmeticError:  # decimal: an exponent beyond what Decimal holds (1e99…9)
            parsed = (False, "Invalid JSON: a number is out of range")
        except RecursionError:
            parsed = (False, "Invalid JSON: nested too deep")
        request.META[_JSON_BODY] = parsed
    ok, value = parsed
    if not ok:
        raise ParseError(str(value))
    return value


def json_body_or_none(request: HttpRequest) -> object | None:
    """The parsed body, or None when it is not valid JSON (for peeking before validation)."""
    try:
        return json_body(request)
    except ParseError:
        return None


class JsonOnlyNegotiation(BaseContentNegotiation):
    """The /be/ API speaks JSON only, whatever the `Accept` header says.

    DRF's default negotiation answers 406 to e.g. `Accept: text/html`; an operator's HTTP
    client sending an unusual Accept header should still get its ticket.
    """

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type
