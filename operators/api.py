"""The base of every signed operator endpoint, /be/ and /bc/ (contract.md § Authentication).

`OperatorApi` reads the body first (413 before parsing, `jackpot.api.requests`), then
authenticates the operator from the signed headers (403/115/112,
`operators.authentication`), counts the request against the operator's rate (429/129,
`operators.rate`), and always answers JSON. `OperatorSignatureScheme` documents
the three headers in the OpenAPI schema as one security requirement.
"""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.request import Request
from rest_framework.views import APIView

from jackpot.api.paths import ARRIVED
from jackpot.api.requests import JsonOnlyNegotiation, raw_body
from operators.authentication import OperatorSignatureAuthentication
from operators.models import Operator
from operators.rate import rate_check

_SIGNATURE_HEADERS = (
    ("timestamp", "Unix time in seconds; at most SIGNATURE_MAX_SKEW_SECONDS (300) from now."),
    ("operator-name", "The operator's registered name."),
    (
        "signature",
        "Lower-case hex HMAC-SHA256, keyed with the operator's secret key, of "
        "`{timestamp}{body}` with every space, tab, CR and LF removed from the body "
        "(a body-less request signs `{timestamp}` alone).",
    ),
)


class OperatorApi(APIView):
    """Base of every signed operator endpoint (see the module docstring)."""

    authentication_classes = [OperatorSignatureAuthentication]
    permission_classes = []
    content_negotiation_class = JsonOnlyNegotiation

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        raw_body(request._request)
        super().initial(request, *args, **kwargs)

    def check_throttles(self, request: Request) -> None:
        """After authentication: the operator's request rate (429, code 129)."""
        rate_check(self.operator(request), arrived=request._request.META.get(ARRIVED))

    @staticmethod
    def operator(request: Request) -> Operator:
        return cast(Operator, request.auth)


class OperatorSignatureScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Documents the three signature headers as one security requirement."""

    target_class = OperatorSignatureAuthentication
    name = [header for header, _ in _SIGNATURE_HEADERS]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, str]]:
        return [
            {"type": "apiKey", "in": "header", "name": header, "description": description}
            for header, description in _SIGNATURE_HEADERS
        ]
