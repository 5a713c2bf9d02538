"""Every /bc endpoint is signed and identified exactly like /be (contract.md § Bet Card API,
§ Authentication): the same headers, the same order of checks, the same 403/112 answers."""

from __future__ import annotations

import pytest

from tests.factories import OperatorFactory
from tests.support.api import signed_get
from tests.support.sample import sample_setup

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "/bc/jackpots",
    "/bc/jackpots/ABC123",
    "/bc/jackpots/ABC123/pick?strategy=favourites",
    "/bc/calculator/finance-details?price=500",
]


@pytest.fixture
def acme():
    return sample_setup().operator


@pytest.mark.parametrize("path", ENDPOINTS)
def test_signed_request_is_answered(client, acme, path):
    assert signed_get(client, acme, path).status_code == 200


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("missing", ["timestamp", "operator-name", "signature"])
def test_missing_header_is_403(client, acme, path, missing):
    response = signed_get(client, acme, path, headers={missing: None})

    assert response.status_code == 403
    assert response.json() == {"detail": "Missing timestamp, operator-name or signature header."}


@pytest.mark.parametrize("path", ENDPOINTS)
def test_wrong_signature_is_403(client, acme, path):
    response = signed_get(client, acme, path, secret="not-the-secret")

    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid signature."}


@pytest.mark.parametrize("path", ENDPOINTS)
def test_stale_timestamp_is_403(client, acme, path):
    response = signed_get(client, acme, path, timestamp=1_000_000)

    assert response.status_code == 403
    assert response.json() == {"detail": "The timestamp header is outside the allowed window."}


@pytest.mark.parametrize("path", ENDPOINTS)
def test_unknown_operator_is_400_112(client, acme, path):
    response = signed_get(client, "nobody", path)

    assert response.status_code == 400
    assert response.json() == {"code": 112, "message": "Operator with `nobody` name is not found"}


@pytest.mark.parametrize("path", ENDPOINTS)
def test_inactive_operator_is_403(client, acme, path):
    acme.is_active = False
    acme.save()

    assert signed_get(client, acme, path).status_code == 403


def test_header_checks_come_before_bad_parameters(client, acme):
    response = signed_get(
        client, acme, "/bc/calculator/finance-details?price=x", headers={"signature": None}
    )

    assert response.status_code == 403


def test_identity_comes_before_bad_parameters(client):
    OperatorFactory()

    response = signed_get(client, "nobody", "/bc/jackpots?status=bogus")

    assert response.status_code == 400
    assert response.json()["code"] == 112
