"""413 and 422 answers of POST /be/tickets (contract.md § Authentication, § POST)."""

from __future__ import annotations

import io
import time

import pytest

from tests.support.api import compact, signed_headers, signed_post
from tests.support.sample import sample_request, sample_setup
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

PATH = "/be/tickets"
LIMIT = 64 * 1024


@pytest.fixture
def acme():
    return sample_setup().operator


def _errors(response):
    assert response.status_code == 422, response.content
    return response.json()["detail"]


# ----------------------------------------------------------------------------- 413
def test_body_over_64_kib_with_content_length_is_413(client, acme):
    body = sample_request(token="x" * LIMIT)

    response = signed_post(client, acme, PATH, body)

    assert response.status_code == 413
    assert response.json() == {"detail": f"Request body is larger than {LIMIT} bytes."}


def test_oversized_declared_length_is_refused_without_reading_the_body(client, acme):
    # the stream would fail if read: the declared length alone decides
    class Unreadable(io.RawIOBase):
        def read(self, size=-1):
            raise AssertionError("body was read")

    response = client.generic(
        "POST",
        PATH,
        b"",
        content_type="application/json",
        CONTENT_LENGTH=str(10**9),
        **{"wsgi.input": Unreadable()},
    )

    assert response.status_code == 413


def test_chunked_body_over_the_limit_is_413_and_read_no_further(client, acme):
    # given a chunked upload (no Content-Length) of 10 MiB
    stream = io.BytesIO(b"{" + b" " * (10 * 1024 * 1024))
    headers = signed_headers(acme, b"{")

    # when
    response = client.generic(
        "POST",
        PATH,
        b"",
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        HTTP_TIMESTAMP=headers["timestamp"],
        HTTP_OPERATOR_NAME=headers["operator-name"],
        HTTP_SIGNATURE=headers["signature"],
        **{"wsgi.input": stream},
    )

    # then
    assert response.status_code == 413
    assert stream.tell() == LIMIT + 1


def test_chunked_body_within_the_limit_is_placed(client, acme):
    full = compact(sample_request())
    headers = signed_headers(acme, full)

    response = client.generic(
        "POST",
        PATH,
        b"",
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        HTTP_TIMESTAMP=headers["timestamp"],
        HTTP_OPERATOR_NAME=headers["operator-name"],
        HTTP_SIGNATURE=headers["signature"],
        **{"wsgi.input": io.BytesIO(full)},
    )

    assert response.status_code == 200, response.content


def test_body_of_exactly_64_kib_is_not_413(client, acme):
    raw = compact(sample_request())
    padded = raw[:-1] + b" " * (LIMIT - len(raw)) + b"}"
    assert len(padded) == LIMIT

    response = signed_post(client, acme, PATH, padded)

    assert response.status_code == 200


# ----------------------------------------------------------------------------- 422
@pytest.mark.parametrize(
    ("raw", "msg_start"),
    [
        (b"", "Invalid JSON"),
        (b"{not json", "Invalid JSON"),
        (b'{"price": NaN}', "Invalid JSON"),
        (b'{"price": Infinity}', "Invalid JSON"),
        (b'{"odds_diff": -Infinity}', "Invalid JSON"),
        (b'{"token": "\xff"}', "Invalid JSON"),
        (b'{"token": "\\ud800"}', "Invalid JSON"),
        (b"[" * 5000 + b"]" * 5000, "Invalid JSON"),
    ],
)
def test_unparsable_body_is_422_on_body(client, acme, raw, msg_start):
    errors = _errors(signed_post(client, acme, PATH, raw))

    assert len(errors) == 1
    assert errors[0]["loc"] == ["body"]
    assert errors[0]["type"] == "json_invalid"
    assert errors[0]["msg"].startswith(msg_start)


@pytest.mark.parametrize("raw", [b"[]", b"5", b'"text"', b"null", b"true"])
def test_body_that_is_not_an_object_is_422(client, acme, raw):
    assert _errors(signed_post(client, acme, PATH, raw)) == [
        {"loc": ["body"], "msg": "Input should be a JSON object", "type": "object_type"}
    ]


def test_every_missing_field_is_listed(client, acme):
    errors = _errors(signed_post(client, acme, PATH, {"operator": "acme"}))

    assert [error["loc"] for error in errors] == [
        ["body", name]
        for name in (
            "token", "price", "currency", "source", "type", "odds_diff", "events",
            "betcard_code", "prize", "bonus_prizes",
        )
    ]  # fmt: skip
    assert {error["type"] for error in errors} == {"missing"}
    assert {error["msg"] for error in errors} == {"Field required"}


def test_every_bad_field_is_listed_with_its_location(client, acme):
    # given
    body = sample_request(
        token="",
        psp=5,
        price=True,
        currency="usd",
        source="fax",
        type="superbet",
        odds_diff=-1,
        prize="10000",
        bonus_prizes=[2000, -1, 1.5],
    )
    body["events"][2]["odds"] = "2.0"
    body["events"][3]["id"] = body["events"][0]["id"]
    body["events"][4] = [1, 2]
    del body["events"][5]["bet"]

    # when
    errors = _errors(signed_post(client, acme, PATH, body))

    # then
    assert [(tuple(error["loc"]), error["type"]) for error in errors] == [
        (("body", "token"), "string_too_short"),
        (("body", "psp"), "string_type"),
        (("body", "price"), "int_type"),
        (("body", "currency"), "string_pattern_mismatch"),
        (("body", "source"), "enum"),
        (("body", "type"), "enum"),
        (("body", "odds_diff"), "greater_than_equal"),
        (("body", "events", 2, "odds"), "number_type"),
        (("body", "events", 3, "id"), "duplicate"),
        (("body", "events", 4), "object_type"),
        (("body", "events", 5, "bet"), "missing"),
        (("body", "prize"), "int_type"),
        (("body", "bonus_prizes", 1), "greater_than_equal"),
        (("body", "bonus_prizes", 2), "int_type"),
    ]
    assert errors[8]["msg"] == "Duplicate event id 265825"
    assert errors[2]["msg"] == "Input should be a valid integer"
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize(
    ("changes", "loc", "kind"),
    [
        ({"price": 0}, ["body", "price"], "greater_than_equal"),
        ({"price": -500}, ["body", "price"], "greater_than_equal"),
        ({"price": 10**16}, ["body", "price"], "less_than_equal"),
        ({"price": 10**30}, ["body", "price"], "less_than_equal"),  # read exactly, not as a float
        ({"price": 500.0}, ["body", "price"], "int_type"),
        ({"token": "t" * 256}, ["body", "token"], "string_too_long"),
        ({"token": "nul\u0000byte"}, ["body", "token"], "string_pattern_mismatch"),
        ({"token": None}, ["body", "token"], "string_type"),
        ({"events": {"id": 1}}, ["body", "events"], "list_type"),
        ({"events": [{"id": n, "bet": n, "odds": 2} for n in range(1, 102)]},
         ["body", "events"], "too_long"),
        ({"events": [{"id": 2**63, "bet": 1, "odds": 2}]}, ["body", "events", 0, "id"],
         "less_than_equal"),
        ({"events": [{"id": 1, "bet": 1, "odds": 0}]}, ["body", "events", 0, "odds"],
         "greater_than"),
        ({"events": [{"id": 1, "bet": 1, "odds": 1.2345}]}, ["body", "events", 0, "odds"],
         "decimal_max_places"),
        ({"events": [{"id": 1, "bet": 1, "odds": 1e300}]}, ["body", "events", 0, "odds"],
         "less_than_equal"),
        ({"odds_diff": False}, ["body", "odds_diff"], "number_type"),
        ({"bonus_prizes": None}, ["body", "bonus_prizes"], "list_type"),
    ],
)  # fmt: skip
def test_out_of_range_values_are_422(client, acme, changes, loc, kind):
    errors = _errors(signed_post(client, acme, PATH, sample_request(**changes)))

    assert [(error["loc"], error["type"]) for error in errors] == [(loc, kind)]


def _with_first_odds(odds: str) -> bytes:
    raw = compact(sample_request())
    first = raw.index(b'"odds":') + len(b'"odds":')
    return raw[:first] + odds.encode() + raw[raw.index(b"}", first) :]


@pytest.mark.parametrize(
    "odds", ["2.5500", "2.550", "2.55000000000000000000000000000000", "255e-2"]
)
def test_odds_are_read_by_value_trailing_zeros_included(client, acme, odds):
    # serializers that keep trailing zeros (Java's BigDecimal) send 2.5500 for 2.55
    response = signed_post(client, acme, PATH, _with_first_odds(odds))

    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "odds", ["2.5500000000000001", "2.5501", "2.55000000000000000000000000000001"]
)
def test_odds_with_more_than_three_decimals_are_422_whatever_their_float(client, acme, odds):
    # given: the first event's odds written with more decimals than allowed, although the
    # float of "2.5500000000000001" is 2.55 exactly
    raw = compact(sample_request())
    first = raw.index(b'"odds":') + len(b'"odds":')
    end = raw.index(b"}", first)
    body = raw[:first] + odds.encode() + raw[end:]

    # when
    errors = _errors(signed_post(client, acme, PATH, body))

    # then
    assert [(error["loc"], error["type"]) for error in errors] == [
        (["body", "events", 0, "odds"], "decimal_max_places")
    ]


def test_odds_with_three_decimals_and_an_exponent_are_read_exactly(client, acme):
    raw = compact(sample_request())
    first = raw.index(b'"odds":') + len(b'"odds":')
    end = raw.index(b"}", first)
    submitted = raw[first:end].decode()  # e.g. 2.55, sent as 255e-2
    body = (
        raw[:first]
        + f"{submitted.replace('.', '')}e-{len(submitted.split('.')[1])}".encode()
        + raw[end:]
    )

    response = signed_post(client, acme, PATH, body)

    assert response.status_code == 200, response.content


def test_unicode_strings_are_accepted_and_returned(client, acme):
    body = sample_request(token="игрок-🎰-選手", rtag="ré\u00e9f")

    response = signed_post(client, acme, PATH, body)

    assert response.status_code == 200
    assert response.json()["user_id"] == "игрок-🎰-選手"
    assert response.json()["rtag"] == "rééf"


def test_optional_fields_may_be_absent(client, acme):
    body = sample_request()
    for name in ("psp", "atag", "rtag"):
        del body[name]

    response = signed_post(client, acme, PATH, body)

    assert response.status_code == 200
    assert (response.json()["psp"], response.json()["atag"]) == (None, None)


def test_unknown_fields_are_ignored(client, acme):
    response = signed_post(client, acme, PATH, sample_request(extra={"deep": [1, 2]}))

    assert response.status_code == 200


def test_configured_sources_are_accepted(client, acme, settings):
    settings.TICKET_SOURCES = ["kiosk"]

    assert signed_post(client, acme, PATH, sample_request(source="kiosk")).status_code == 200
    assert signed_post(client, acme, PATH, sample_request()).status_code == 422


def test_too_long_idempotency_key_is_422(client, acme):
    errors = _errors(
        signed_post(client, acme, PATH, sample_request(), headers={"Idempotency-Key": "k" * 256})
    )

    assert errors[0]["loc"] == ["header", "Idempotency-Key"]


def test_wrong_method_is_405_after_authentication(client, acme):
    headers = signed_headers(acme, b"", timestamp=int(time.time()))
    response = client.put(
        PATH,
        HTTP_TIMESTAMP=headers["timestamp"],
        HTTP_OPERATOR_NAME=headers["operator-name"],
        HTTP_SIGNATURE=headers["signature"],
    )

    assert response.status_code == 405


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "*/*", "garbage;;q=x"])
def test_any_accept_header_gets_json(client, acme, accept):
    response = signed_post(client, acme, PATH, sample_request(), HTTP_ACCEPT=accept)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_errors_are_json_whatever_the_accept_header(client, acme):
    response = signed_post(
        client, acme, PATH, sample_request(currency="EUR"), HTTP_ACCEPT="text/html"
    )

    assert response.status_code == 400
    assert response.json()["code"] == 124
