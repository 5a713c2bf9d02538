"""Registering operators and rotating their secret keys (operations.md § create_operator).

Used by the `create_operator` command and the admin. The plain secret key is returned once,
to be handed to the operator; the database only keeps it encrypted (operators/secrets.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction

from jackpot.core import clock
from jackpot.core.errors import OperatorExists, OperatorInvalid
from jackpot.core.money import to_decimal
from operators.addresses import internal_address
from operators.models import ExciseType, Operator, SecretRotation, Signing
from operators.secrets import encrypt_secret, generate_secret_key

# Sent in the `operator-name` header: visible ASCII, single inner spaces, nothing at the ends.
_NAME_PATTERN = re.compile(r"[!-~]+(?: [!-~]+)*")
_NAME_MAX_LENGTH = Operator._meta.get_field("name").max_length or 100
_CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")
_HUNDRED = Decimal(100)
_PERCENT_PLACES = Decimal("0.01")


def operator_create(
    *,
    name: str,
    webhook_url: str = "",
    timezone: str = "UTC",
    ext_percent: Decimal | int | str,
    ext_type: str,
    wht_percent: Decimal | int | str,
    currencies: Iterable[str],
    aff_comm_percent: Decimal | int | str | None,
    reservation_minutes: int | str = 30,
    rate_limit: int | str = 100,
    max_tickets_per_player: int | str | None = None,
    max_daily_spend: int | str | None = None,
    signing: str = "betstack",
) -> tuple[Operator, str]:
    """Register an operator; returns it with its plain secret key (shown only this once).

    Raises OperatorInvalid naming the bad setting, or OperatorExists when the name is taken
    (the unique index decides, so two concurrent creations cannot both succeed).
    """
    operator = Operator(
        name=_valid_name(name),
        **_valid_settings(
            webhook_url=webhook_url,
            timezone=timezone,
            ext_percent=ext_percent,
            ext_type=ext_type,
            wht_percent=wht_percent,
            currencies=currencies,
            aff_comm_percent=aff_comm_percent,
            reservation_minutes=reservation_minutes,
            rate_limit=rate_limit,
            max_tickets_per_player=max_tickets_per_player,
            max_daily_spend=max_daily_spend,
            signing=signing,
        ),
    )
    secret = generate_secret_key()
    operator.set_secret_key(secret)
    try:
        with transaction.atomic():
            operator.save()
    except IntegrityError as exc:
        if Operator.objects.filter(name=operator.name).exists():
            raise OperatorExists(operator.name) from exc
        raise
    return operator, secret


@functools.cache
def _validators() -> dict[str, Callable[[Any], Any]]:
    """Each setting's validation, one home for creation, `--update` and the admin's form."""
    return {
        "webhook_url": webhook_url_valid,
        "timezone": _valid_timezone,
        "ext_percent": functools.partial(_valid_percent, "ext"),
        "ext_type": _valid_ext_type,
        "wht_percent": functools.partial(_valid_percent, "wht"),
        "currencies": _valid_currencies,
        "aff_comm_percent": _valid_aff_comm,
        "reservation_minutes": functools.partial(_valid_count, "reservation_minutes", minimum=1),
        "rate_limit": functools.partial(_valid_count, "rate_limit"),
        "max_tickets_per_player": functools.partial(
            _optional_count, "max_tickets_per_player", minimum=1
        ),
        "max_daily_spend": functools.partial(_optional_count, "max_daily_spend", minimum=1),
        "signing": _valid_signing,
    }


def setting_valid(name: str, value: Any) -> Any:
    """One setting as stored, or OperatorInvalid naming it (the rule `operator_create` and
    `operator_update` apply)."""
    return _validators()[name](value)


def _valid_settings(**settings: Any) -> dict[str, Any]:
    """The settings as stored, in the order given; OperatorInvalid names the first bad one."""
    unknown = set(settings) - set(_validators())
    if unknown:
        raise OperatorInvalid(f"not an operator setting: {', '.join(sorted(unknown))}")
    return {name: setting_valid(name, value) for name, value in settings.items()}


def operator_update(*, operator: Operator, **changes: Any) -> list[str]:
    """Change only the settings given (validated as at creation); returns their names.
    Raises OperatorInvalid naming the first bad one, with nothing changed."""
    valid = _valid_settings(**changes)
    for name, value in valid.items():
        setattr(operator, name, value)
    operator.save(update_fields=[*valid, "updated_at"])
    return list(valid)


DEFAULT_GRACE = dt.timedelta(hours=24)


def operator_rotate_secret(
    *, operator: Operator, rotated_by: str, grace: dt.timedelta = DEFAULT_GRACE
) -> str:
    """Give the operator a new secret key and return it in plain (shown this once). The old
    key keeps verifying requests, and webhooks carry a signature with each, for `grace`
    (0: it stops at once); the rotation is recorded (`SecretRotation`)."""
    if grace < dt.timedelta(0):
        raise OperatorInvalid(f"the grace period must not be negative, got {grace}")
    now = clock.now()
    with transaction.atomic():
        locked = Operator.objects.select_for_update().get(pk=operator.pk)
        old = locked.secret_key
        secret = generate_secret_key()
        operator.set_secret_key(secret)
        operator.previous_secret_key_encrypted = encrypt_secret(old) if grace else ""
        operator.previous_secret_valid_until = now + grace if grace else None
        operator.__dict__.pop("previous_secret_key", None)
        operator.save(
            update_fields=[
                "secret_key_encrypted",
                "previous_secret_key_encrypted",
                "previous_secret_valid_until",
                "updated_at",
            ]
        )
        SecretRotation.objects.create(
            operator=operator, rotated_at=now, rotated_by=rotated_by, grace_until=now + grace
        )
    return secret


def _valid_name(name: str) -> str:
    if len(name) > _NAME_MAX_LENGTH or not _NAME_PATTERN.fullmatch(name):
        raise OperatorInvalid(
            f"name {name!r} must be 1-{_NAME_MAX_LENGTH} visible ASCII characters "
            "(single spaces allowed inside); it is sent in the operator-name header"
        )
    return name


def webhook_url_valid(url: str) -> str:
    """The URL as stored ("" for none), or OperatorInvalid: not http(s), too long, or (in
    production) pointing at an internal address (`operators.addresses`)."""
    if not url:
        return ""
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise OperatorInvalid(f"webhook URL {url!r} is not an http(s) URL") from None
    if len(url) > 500:
        raise OperatorInvalid("webhook URL is longer than 500 characters")
    if not settings.PAM_ALLOW_PRIVATE_URLS:
        address = internal_address(url)
        if address is not None:
            raise OperatorInvalid(
                f"webhook URL {url!r} points at the internal address {address}; a PAM must "
                "be reachable on a public address (PAM_ALLOW_PRIVATE_URLS allows internal ones)"
            )
    return url


def _valid_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise OperatorInvalid(
            f"time zone {name!r} is not an IANA time zone (e.g. UTC, Africa/Nairobi)"
        ) from None
    return name


def _valid_percent(field: str, value: Decimal | int | str) -> Decimal:
    problem = f"{field} percent {value!r} must be a number from 0 to 100 with at most 2 decimals"
    if isinstance(value, bool):
        raise OperatorInvalid(problem)
    try:
        percent = to_decimal(value)
    except InvalidOperation:
        raise OperatorInvalid(problem) from None
    if (
        not percent.is_finite()
        or not 0 <= percent <= _HUNDRED
        or percent != percent.quantize(_PERCENT_PLACES)
    ):
        raise OperatorInvalid(problem)
    return percent


def _valid_aff_comm(value: Decimal | int | str | None) -> Decimal | None:
    return None if value is None else _valid_percent("aff_comm", value)


def _valid_signing(value: str) -> str:
    if value not in Signing.values:
        raise OperatorInvalid(f"signing {value!r} must be one of: {', '.join(Signing.values)}")
    return value


def _valid_ext_type(value: str) -> str:
    if value not in ExciseType.values:
        raise OperatorInvalid(f"ext type {value!r} must be one of: {', '.join(ExciseType.values)}")
    return value


def _valid_currencies(codes: Iterable[str]) -> list[str]:
    valid: list[str] = []
    for code in codes:
        if not _CURRENCY_PATTERN.fullmatch(code):
            raise OperatorInvalid(f"currency {code!r} is not an ISO 4217 code like KES or USD")
        if code not in valid:
            valid.append(code)
    return valid


def _valid_count(name: str, value: int | str, *, minimum: int = 0) -> int:
    """A whole number of at least `minimum` (a command-line string or an int)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise OperatorInvalid(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum or number > 2**31 - 1:
        raise OperatorInvalid(f"{name} must be between {minimum} and {2**31 - 1}, got {number}")
    return number


def _optional_count(name: str, value: int | str | None, *, minimum: int = 0) -> int | None:
    """A whole number, or None for "no limit" (None, "" or "none")."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    return _valid_count(name, value, minimum=minimum)
