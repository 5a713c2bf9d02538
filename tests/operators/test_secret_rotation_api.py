"""Secret rotation and strict signing (contract.md § Secret rotation and strict signing),
through the HTTP API: two keys verify during a grace period that ends exactly, webhooks
carry both signatures, and a `strict` operator's signature covers the exact bytes sent."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from operators.models import Operator, SecretRotation
from operators.pam import _request_for
from operators.signing import BETSTACK, STRICT, signature, webhook_signature_ok
from tests.support.api import compact, signed_post
from tests.support.sample import sample_request, sample_setup

pytestmark = pytest.mark.django_db

PATH = "/be/tickets"


def rotate(name: str, *args: str) -> dict[str, object]:
    out = StringIO()
    call_command("rotate_operator_secret", name, *args, stdout=out)
    printed: dict[str, object] = json.loads(out.getvalue())
    return printed


def placed_with(client, operator: Operator, secret: str, token: str) -> int:
    response = signed_post(client, operator, PATH, sample_request(token=token), secret=secret)
    return int(response.status_code)


def test_during_the_grace_period_either_key_verifies_then_only_the_new_one(client):
    acme = sample_setup().operator
    old = acme.secret_key

    printed = rotate("acme", "--grace", "2")

    new = str(printed["secret_key"])
    assert new != old
    assert printed["previous_key_valid_until"] is not None
    assert placed_with(client, acme, old, "with-old") == 200
    assert placed_with(client, acme, new, "with-new") == 200

    # one second after the grace period ends, the old key is a 403
    Operator.objects.filter(pk=acme.pk).update(
        previous_secret_valid_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert placed_with(client, acme, old, "old-after") == 403
    assert placed_with(client, acme, new, "new-after") == 200


def test_the_grace_period_ends_exactly_at_its_end():
    operator = sample_setup().operator
    old = operator.secret_key
    rotate("acme", "--grace", "1")
    rotated = Operator.objects.get(pk=operator.pk)
    end = rotated.previous_secret_valid_until
    assert end is not None

    assert rotated.secrets_at(end - dt.timedelta(microseconds=1)) == [rotated.secret_key, old]
    assert rotated.secrets_at(end) == [rotated.secret_key]


def test_a_grace_of_zero_ends_the_old_key_at_once(client):
    acme = sample_setup().operator
    old = acme.secret_key

    printed = rotate("acme", "--grace", "0")

    assert printed["previous_key_valid_until"] is None
    assert placed_with(client, acme, old, "old") == 403
    assert placed_with(client, acme, str(printed["secret_key"]), "new") == 200


def test_every_rotation_is_recorded_and_no_key_is_stored_in_the_record():
    sample_setup()
    rotate("acme", "--grace", "24")
    rotate("acme", "--grace", "0")

    records = list(SecretRotation.objects.order_by("rotated_at"))

    assert [record.rotated_by for record in records] == ["command:rotate_operator_secret"] * 2
    assert records[0].grace_until - records[0].rotated_at == dt.timedelta(hours=24)
    assert records[1].grace_until == records[1].rotated_at
    assert {field.name for field in SecretRotation._meta.fields} == {
        "id", "operator", "rotated_at", "rotated_by", "grace_until"
    }  # fmt: skip


@pytest.mark.parametrize(("args", "message"), [
    (["nobody"], "operator 'nobody' does not exist"),
    (["acme", "--grace", "-1"], "must not be negative"),
])  # fmt: skip
def test_bad_rotations_are_refused_and_change_nothing(args, message):
    acme = sample_setup().operator

    with pytest.raises(CommandError, match=message):
        call_command("rotate_operator_secret", *args, stdout=StringIO())

    assert Operator.objects.get(pk=acme.pk).secret_key == acme.secret_key
    assert not SecretRotation.objects.exists()


def test_webhooks_carry_both_signatures_newest_first_during_the_grace_period():
    acme = sample_setup().operator
    old = acme.secret_key
    new = str(rotate("acme", "--grace", "1")["secret_key"])
    body = b'{"action":"ticket_create","data":{"operator":"acme"}}'

    request = _request_for(Operator.objects.get(pk=acme.pk), body)

    stamp = request.headers["timestamp"]
    header = request.headers["signature"]
    assert header == f"{signature(new, stamp, body)},{signature(old, stamp, body)}"
    assert webhook_signature_ok(old, stamp, body, header)  # a PAM with either key accepts it
    assert webhook_signature_ok(new, stamp, body, header)
    assert not webhook_signature_ok("another", stamp, body, header)


# ----------------------------------------------------------------------------- strict
def test_removing_a_space_inside_the_token_passes_betstack_signing_but_not_strict(client):
    # the captured request names one player; the edit names another, same signature
    sample = sample_setup()
    for signing, expected in ((BETSTACK, 200), (STRICT, 403)):
        Operator.objects.filter(pk=sample.operator.pk).update(signing=signing)
        token = f"player {signing}"
        original = compact(sample_request(token=token))
        stamp = str(int(timezone.now().timestamp()))
        captured = signature(sample.operator.secret_key, stamp, original, signing)
        edited = original.replace(token.encode(), token.replace(" ", "").encode())

        response = signed_post(
            client, sample.operator, PATH, edited, timestamp=stamp, signature=captured
        )

        assert response.status_code == expected, (signing, response.content)


def test_a_strict_operator_signs_the_exact_bytes_sent(client):
    sample = sample_setup(signing=STRICT)
    pretty = json.dumps(sample_request(token="t1"), indent=2).encode()
    stamp = str(int(timezone.now().timestamp()))

    exact = signed_post(
        client,
        sample.operator,
        PATH,
        pretty,
        timestamp=stamp,
        signature=signature(sample.operator.secret_key, stamp, pretty, STRICT),
    )
    compact_signed = signed_post(
        client, sample.operator, PATH, pretty, timestamp=stamp,
        signature=signature(sample.operator.secret_key, stamp, pretty, BETSTACK),
    )  # fmt: skip

    assert exact.status_code == 200, exact.content
    assert compact_signed.status_code == 403


def test_a_strict_operators_webhooks_are_signed_over_the_exact_bytes():
    operator = sample_setup(signing=STRICT).operator
    body = b'{"action":"ticket_create","data":{"operator":"acme","player_id":"a b"}}'

    request = _request_for(operator, body)

    stamp = request.headers["timestamp"]
    assert request.headers["signature"] == signature(operator.secret_key, stamp, body, STRICT)


def test_create_operator_takes_signing_and_update_changes_it():
    call_command("create_operator", "site", "--signing", "strict", stdout=StringIO())
    assert Operator.objects.get(name="site").signing == STRICT

    call_command("create_operator", "site", "--update", "--signing", "betstack", stdout=StringIO())
    assert Operator.objects.get(name="site").signing == BETSTACK

    with pytest.raises(CommandError):
        call_command("create_operator", "site", "--update", "--signing", "loose", stdout=StringIO())
