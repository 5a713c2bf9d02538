"""Signed-request authentication of every /be/ call (contract.md § Authentication).

Headers `timestamp`, `operator-name`, `signature`; the signature rule itself lives in
`operators.signing`. The identity checks run in the contract's order, before the body is
validated:

1. a missing header, a `timestamp` that is not an integer, or one more than
   `SIGNATURE_MAX_SKEW_SECONDS` away from now → 403;
2. a body that is a JSON object whose `operator` is a string other than the header → 400/115
   (the body is only peeked at for this; a body that is not JSON goes on to step 3 and gets
   its 422 from the view once the caller is authenticated);
3. no operator of that name → 400/112;
4. wrong signature (compared in constant time), then an inactive operator → 403.

403 details are short and never echo a secret or the expected signature. The signature is
checked before the active flag so that only a caller holding the secret can learn that an
operator is inactive.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import time
from typing import Any

from django.conf import settings
from django.db import connection
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from jackpot.api.requests import json_body_or_none, raw_body
from jackpot.core.change_feed import LocalCache
from jackpot.core.errors import OperatorNotFound, OperatorsNotIdentical
from jackpot.core.sql import queryset_sql
from operators.models import Operator
from operators.signing import signature_matches

_TIMESTAMP = re.compile(r"-?[0-9]{1,15}")


class OperatorSignatureAuthentication(BaseAuthentication):
    """Authenticates the operator; `request.auth` is the Operator, `request.user` None.

    Never returns None: an unsigned request is refused, not treated as anonymous. Without
    `authenticate_header` DRF answers AuthenticationFailed with 403, as the contract wants.
    """

    def authenticate(self, request: Request) -> tuple[Any, Operator]:
        django_request = request._request
        meta = django_request.META  # not request.headers: it would parse every header first
        # A field value has no leading or trailing spaces or tabs (RFC 9110 § 5.5): HTTP
        # servers strip them, and so does the engine under any other server.
        timestamp = meta.get("HTTP_TIMESTAMP", "").strip(" \t")
        name = meta.get("HTTP_OPERATOR_NAME", "").strip(" \t")
        candidate = meta.get("HTTP_SIGNATURE", "").strip(" \t")
        if not (timestamp and name and candidate):
            raise AuthenticationFailed("Missing timestamp, operator-name or signature header.")
        if not _TIMESTAMP.fullmatch(timestamp):
            raise AuthenticationFailed("The timestamp header is not an integer.")
        if abs(time.time() - int(timestamp)) > settings.SIGNATURE_MAX_SKEW_SECONDS:
            raise AuthenticationFailed("The timestamp header is outside the allowed window.")
        body = raw_body(django_request)
        if body:
            peeked = json_body_or_none(django_request)
            if isinstance(peeked, dict):
                body_operator = peeked.get("operator")
                if isinstance(body_operator, str) and body_operator != name:
                    raise OperatorsNotIdentical()
        operator = _operator_by_name(name)
        if operator is None:
            raise OperatorNotFound(operator=name)
        secrets = operator.secrets_at(dt.datetime.now(dt.UTC))
        if not signature_matches(secrets, timestamp, body, candidate, operator.signing):
            raise AuthenticationFailed("Invalid signature.")
        if not operator.is_active:
            raise AuthenticationFailed("The operator is inactive.")
        return None, operator


@functools.cache
def _operator_sql() -> str:
    """`Operator.objects.filter(name=...).first()`, compiled once per process."""
    return queryset_sql(Operator.objects.filter(name="").order_by("pk")[:1], params=("",))


_OPERATORS: LocalCache[str, Operator] = LocalCache("operator")
"""Operators by name, with their secret decrypted: kept in memory until any operator row
changes (jackpot.core.change_feed). Shared by the process's threads: read, never changed."""


def _operator_by_name(name: str) -> Operator | None:
    """The operator with this name: from memory, else 1 query, built as the ORM would."""
    cached = _OPERATORS.get(name)
    if cached is not None:
        return cached
    ticket = _OPERATORS.ticket()
    with connection.cursor() as cursor:
        cursor.execute(_operator_sql(), [name])
        row = cursor.fetchone()
    if row is None:
        return None
    operator = Operator.from_db(connection.alias, _OPERATOR_ATTNAMES, row)
    if ticket is not None:
        _ = operator.secret_key  # decrypted once, kept with it
        _OPERATORS.put(name, operator, ticket=ticket)
    return operator


_OPERATOR_ATTNAMES = [field.attname for field in Operator._meta.concrete_fields]
