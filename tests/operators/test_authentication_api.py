"""Signed-request authentication through HTTP (contract.md § Authentication)."""

from __future__ import annotations

import json
import time

import pytest

from operators.models import Operator
from operators.signing import signature
from tests.factories import DEFAULT_SECRET, OperatorFactory
from tests.support.api import compact, signed_get, signed_post
from tests.support.sample import sample_request, sample_setup
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

PATH = "/be/tickets"


@pytest.fixture
def acme() -> Operator:
    return sample_setup().operator


@pytest.mark.parametrize("missing", ["timestamp", "operator-name", "signature"])
def test_missing_header_is_403(client, acme, missing):
    response = signed_post(client, acme, PATH, sample_request(), headers={missing: None})

    assert response.status_code == 403
    assert response.json() == {"detail": "Missing timestamp, operator-name or signature header."}


@pytest.mark.parametrize("timestamp", ["12.5", "abc", "1e9", "17060 90303", "0x10"])
def test_timestamp_that_is_not_an_integer_is_403(client, acme, timestamp):
    response = signed_post(client, acme, PATH, sample_request(), timestamp=timestamp)

    assert response.status_code == 403
    assert response.json() == {"detail": "The timestamp header is not an integer."}


@pytest.mark.parametrize("offset", [-400, 400, -(10**9)])
def test_timestamp_outside_the_skew_window_is_403(client, acme, offset):
    response = signed_post(
        client, acme, PATH, sample_request(), timestamp=int(time.time()) + offset
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "The timestamp header is outside the allowed window."}


def test_timestamp_inside_the_window_is_accepted(client, acme):
    response = signed_post(client, acme, PATH, sample_request(), timestamp=int(time.time()) - 240)

    assert response.status_code == 200


def test_skew_window_is_configurable(client, acme, settings):
    settings.SIGNATURE_MAX_SKEW_SECONDS = 10

    response = signed_post(client, acme, PATH, sample_request(), timestamp=int(time.time()) - 60)

    assert response.status_code == 403


def test_wrong_signature_is_403_without_revealing_the_secret(client, acme):
    response = signed_post(client, acme, PATH, sample_request(), secret="not-the-secret")

    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid signature."}
    assert DEFAULT_SECRET.encode() not in response.content


def test_signature_of_a_different_body_is_403(client, acme):
    stamp = str(int(time.time()))
    forged = signature(acme.secret_key, stamp, compact(sample_request(price=1)))

    response = signed_post(client, acme, PATH, sample_request(), timestamp=stamp, signature=forged)

    assert response.status_code == 403


def test_upper_case_signature_is_403(client, acme):
    # the contract's signature is lower-case hex: exactly that verifies
    stamp = str(int(time.time()))
    upper = signature(acme.secret_key, stamp, compact(sample_request())).upper()

    response = signed_post(client, acme, PATH, sample_request(), timestamp=stamp, signature=upper)

    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid signature."}


def test_spaces_around_a_header_value_are_not_part_of_it(client, acme):
    # HTTP servers strip them (RFC 9110 § 5.5); the engine does too under any other server
    stamp = str(int(time.time()))
    padded = f" \t{signature(acme.secret_key, stamp, compact(sample_request()))} "

    response = signed_post(
        client, acme, PATH, sample_request(), timestamp=f" {stamp}\t", signature=padded
    )

    assert response.status_code == 200, response.content


def test_a_space_inside_the_signature_is_403(client, acme):
    stamp = str(int(time.time()))
    digest = signature(acme.secret_key, stamp, compact(sample_request()))

    response = signed_post(
        client,
        acme,
        PATH,
        sample_request(),
        timestamp=stamp,
        signature=f"{digest[:8]} {digest[8:]}",
    )

    assert response.status_code == 403


def test_inactive_operator_is_403(client, acme):
    Operator.objects.filter(pk=acme.pk).update(is_active=False)

    response = signed_post(client, acme, PATH, sample_request())

    assert response.status_code == 403
    assert response.json() == {"detail": "The operator is inactive."}


def test_inactive_operator_with_wrong_signature_only_learns_signature_is_wrong(client, acme):
    Operator.objects.filter(pk=acme.pk).update(is_active=False)

    response = signed_post(client, acme, PATH, sample_request(), secret="guess")

    assert response.json() == {"detail": "Invalid signature."}


def test_body_operator_differing_from_header_is_400_115_even_when_unsigned(client, acme):
    response = signed_post(client, acme, PATH, sample_request(operator="other"), secret="guess")

    assert response.status_code == 400
    assert response.json() == {
        "code": 115,
        "message": "Operators in request body and in request header are not identical",
    }


def test_operator_mismatch_is_checked_before_unknown_operator(client):
    response = signed_post(client, "ghost", PATH, sample_request(operator="acme"))

    assert response.json()["code"] == 115


def test_unknown_operator_is_400_112_whatever_the_signature(client):
    response = signed_post(client, "ghost", PATH, sample_request(operator="ghost"), secret="x")

    assert response.status_code == 400
    assert response.json() == {"code": 112, "message": "Operator with `ghost` name is not found"}


def test_header_checks_come_before_the_operator_checks(client):
    response = signed_post(
        client, "ghost", PATH, sample_request(operator="acme"), headers={"signature": None}
    )

    assert response.status_code == 403


def test_compact_signature_verifies_a_pretty_printed_body(client, acme):
    # given a signature over the compact form
    body = sample_request()
    stamp = str(int(time.time()))
    compact_signature = signature(acme.secret_key, stamp, compact(body))
    pretty = json.dumps(body, indent=4).replace("    ", "\t  ").replace("\n", "\r\n").encode()

    # when the body is sent pretty-printed
    response = signed_post(client, acme, PATH, pretty, timestamp=stamp, signature=compact_signature)

    # then
    assert response.status_code == 200
    assert Ticket.objects.count() == 1


def test_body_less_get_signs_the_timestamp_alone(client, acme):
    response = signed_get(client, acme, "/be/tickets/ABCDEF")

    assert response.status_code == 404


def test_get_with_wrong_signature_is_403(client, acme):
    response = signed_get(client, acme, "/be/tickets/ABCDEF", secret="guess")

    assert response.status_code == 403


def test_get_for_unknown_operator_is_400_112(client):
    response = signed_get(client, "ghost", "/be/tickets/ABCDEF")

    assert response.json() == {"code": 112, "message": "Operator with `ghost` name is not found"}


def test_operators_do_not_share_secrets(client, acme):
    other = OperatorFactory(name="other", secret="other-secret")

    response = signed_post(
        client, other, PATH, sample_request(operator="other"), secret=acme.secret_key
    )

    assert response.status_code == 403
