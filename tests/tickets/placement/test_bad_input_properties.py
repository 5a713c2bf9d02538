"""Bad input never yields a 500 (contract.md § POST /be/tickets: "Never 500"), proven with
hypothesis through the HTTP API: random JSON, random bytes, mutated sample requests, huge
and deep bodies, thousands of events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api import signed_post
from tests.support.sample import sample_request, sample_setup

pytestmark = pytest.mark.django_db

PATH = "/be/tickets"
PROPERTY_SETTINGS = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.decimals(allow_nan=False, allow_infinity=False).map(float)
    | st.text(max_size=300)
    | st.sampled_from(["", "\x00", "ABC123", "acme", "USD", "desktop", "jackpot", "🎰" * 70])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=40,
)
FIELDS = list(sample_request())


@pytest.fixture
def acme():
    return sample_setup().operator


def _never_500(response: Any) -> None:
    # The test client re-raises server exceptions, so reaching here already excludes most
    # 500s; the status check covers any rendered one.
    assert response.status_code in {200, 400, 409, 413, 422}, response.content
    assert response["Content-Type"] == "application/json"
    json.loads(response.content)


@PROPERTY_SETTINGS
@given(body=json_values)
def test_any_json_body_is_answered_without_500(client, acme, body):
    _never_500(signed_post(client, acme, PATH, json.dumps(body).encode()))


@PROPERTY_SETTINGS
@given(raw=st.binary(max_size=400))
def test_any_bytes_are_answered_without_500(client, acme, raw):
    _never_500(signed_post(client, acme, PATH, raw))


@PROPERTY_SETTINGS
@given(field=st.sampled_from(FIELDS), value=json_values, drop=st.booleans())
def test_sample_with_one_field_replaced_or_dropped_is_answered_without_500(
    client, acme, field, value, drop
):
    body = sample_request()
    if drop:
        del body[field]
    else:
        body[field] = value
    _never_500(signed_post(client, acme, PATH, body))


@PROPERTY_SETTINGS
@given(
    index=st.integers(min_value=0, max_value=5),
    key=st.sampled_from(["id", "bet", "odds", "extra"]),
    value=json_values,
)
def test_sample_with_one_event_value_replaced_is_answered_without_500(
    client, acme, index, key, value
):
    body = sample_request()
    body["events"][index][key] = value
    _never_500(signed_post(client, acme, PATH, body))


@PROPERTY_SETTINGS
@given(
    events=st.lists(
        st.fixed_dictionaries(
            {
                "id": st.integers(min_value=-(2**64), max_value=2**64),
                "bet": st.integers(min_value=-(2**64), max_value=2**64),
                "odds": st.floats(allow_nan=False, allow_infinity=False),
            }
        ),
        max_size=120,
    )
)
def test_random_event_lists_are_answered_without_500(client, acme, events):
    _never_500(signed_post(client, acme, PATH, sample_request(events=events)))


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 60_000,
        b"[" * 2_000 + b"]" * 2_000,
        b'{"a":' * 3_000 + b"1" + b"}" * 3_000,
        b'{"price": 1' + b"0" * 5_000 + b"}",
        b'{"price": 1e999999}',
        b'{"odds_diff": -0.0, "price": -0}',
        b'{"token": "\\ud83c\\udfb0\\u0000"}',
        b'{"token": "\\udc00"}',
        b"\xef\xbb\xbf{}",
        b"{}" * 10,
        b'{"operator": "acme", "operator": "acme"}',
    ],
    ids=lambda raw: repr(raw[:24]),
)
def test_pathological_bodies_are_answered_without_500(client, acme, raw):
    _never_500(signed_post(client, acme, PATH, raw))


@pytest.mark.parametrize("count", [101, 1_500])
def test_thousands_of_events_are_422_not_500(client, acme, count):
    events = [{"id": n, "bet": n, "odds": 1.5} for n in range(1, count + 1)]

    response = signed_post(client, acme, PATH, sample_request(events=events))

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "too_long"


def test_events_over_the_body_limit_are_413(client, acme):
    events = [{"id": n, "bet": n, "odds": 1.5} for n in range(1, 5_001)]

    assert signed_post(client, acme, PATH, sample_request(events=events)).status_code == 413


def test_duplicate_event_ids_are_422(client, acme):
    body = sample_request()
    body["events"].append(dict(body["events"][0]))

    response = signed_post(client, acme, PATH, body)

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body", "events", 6, "id"],
            "msg": "Duplicate event id 265825",
            "type": "duplicate",
        }
    ]
