"""Every kind of JSON number, in any field of any signed endpoint, gets a JSON answer that
is not a 5xx (issue 30: `{"a": 9e9999999}` answered 500 while the fingerprint normalised
it). The numbers are written as JSON text, so hypothesis reaches forms no float has: huge
and tiny exponents, mantissas longer than Decimal's default precision, `-0`."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import TicketFactory
from tests.support.api import signed_headers, signed_post
from tests.support.sample import sample_request, sample_setup

pytestmark = pytest.mark.django_db

SIGNED_POSTS = ("/be/tickets", "/be/tickets/reserve", "/be/tickets/{code}/paid")
SIGNED_GETS = (
    "/be/tickets",
    "/be/tickets/{code}",
    "/bc/jackpots",
    "/bc/jackpots/ABC123",
    "/bc/jackpots/ABC123/pick",
    "/bc/calculator/finance-details?price=500",
)
digits = st.text("0123456789", min_size=1, max_size=60)
json_numbers = st.one_of(
    st.sampled_from(
        [
            "9e9999999",
            "-9E+9999999",
            "1e-9999999",
            "1e999999999999999999999",
            "-0",
            "-0.0",
            "0e0",
            "1E400",
            "2.5500",
            "1" * 80,
            "0." + "0" * 70 + "1",
        ]
    ),
    st.builds(
        lambda sign, whole, fraction, exponent: f"{sign}{whole}{fraction}{exponent}",
        st.sampled_from(["", "-"]),
        digits.map(lambda text: text.lstrip("0") or "0"),
        st.one_of(st.just(""), digits.map(lambda text: f".{text}")),
        st.one_of(st.just(""), st.integers(-(10**22), 10**22).map(lambda e: f"e{e}")),
    ),
)
FIELDS = [*sample_request(), "ignored"]


def _answer_is_json_and_not_5xx(response) -> None:
    assert response.status_code < 500, response.content
    assert response["Content-Type"] == "application/json", response.content
    json.loads(response.content)


@pytest.fixture
def acme():
    return sample_setup().operator


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(number=json_numbers, field=st.sampled_from(FIELDS), path=st.sampled_from(SIGNED_POSTS))
def test_any_json_number_in_any_field_of_a_post_is_never_a_5xx(client, acme, number, field, path):
    # given: the sample request with one field (or an extra one) set to the number's text
    body = sample_request()
    body[field] = "__number__"
    raw = json.dumps(body, separators=(",", ":")).replace('"__number__"', number).encode()
    # an odds value too: the one place where a fraction is read
    raw_in_odds = raw.replace(b'"odds":2.55', f'"odds":{number}'.encode(), 1)
    code = TicketFactory(operator=acme).code if "{code}" in path else ""

    for sent in (raw, raw_in_odds):
        _answer_is_json_and_not_5xx(signed_post(client, acme, path.format(code=code), sent))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(number=json_numbers, path=st.sampled_from(SIGNED_GETS))
def test_a_json_number_sent_as_the_body_of_a_get_is_never_a_5xx(client, acme, number, path):
    raw = f'{{"operator":"acme","a":{number}}}'.encode()
    code = TicketFactory(operator=acme).code

    headers = {
        f"HTTP_{name.upper().replace('-', '_')}": value
        for name, value in signed_headers(acme, raw).items()
    }

    response = client.generic(
        "GET", path.format(code=code), raw, content_type="application/json", **headers
    )

    _answer_is_json_and_not_5xx(response)
