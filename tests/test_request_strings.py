"""Every string an operator sends, checked against its documented rule through the HTTP
API (jackpot/api/strings.py): its length, no NUL, and, when not empty, a character that is
not white space. One table per place a string arrives: the placement body (the reserve
body is the same parser), the ticket list's query, the card calculator's query, the
`Idempotency-Key` header."""

from __future__ import annotations

import pytest

from tests.support.api import signed_get, signed_post
from tests.support.sample import sample_request, sample_setup
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

BLANKS = [" ", "\t", " \t\r\n ", "\u00a0", "\u3000"]
# field: (shortest, longest); `operator` is compared with the header first (115), so its
# own rule is reached only when both agree, which a blank header cannot (HTTP strips it).
BODY_STRINGS = {
    "token": (1, 255),
    "psp": (0, 100),
    "atag": (0, 255),
    "rtag": (0, 255),
    "betcard_code": (1, 32),
}


def _cases(fields: dict[str, tuple[int, int]]) -> list[tuple[str, str, str]]:
    cases = []
    for field, (shortest, longest) in fields.items():
        cases += [(field, blank, "string_blank") for blank in BLANKS]
        cases.append((field, "x" * (longest + 1), "string_too_long"))
        cases.append((field, "a\x00b", "string_pattern_mismatch"))
        if shortest:
            cases.append((field, "", "string_too_short"))
    return cases


@pytest.fixture
def acme():
    return sample_setup().operator


@pytest.mark.parametrize("path", ["/be/tickets", "/be/tickets/reserve"])
@pytest.mark.parametrize(("field", "value", "kind"), _cases(BODY_STRINGS))
def test_a_body_string_that_breaks_its_rule_is_a_422_naming_it(
    client, acme, path, field, value, kind
):
    response = signed_post(client, acme, path, sample_request(**{field: value}))

    assert response.status_code == 422, response.content
    assert [(item["loc"], item["type"]) for item in response.json()["detail"]] == [
        (["body", field], kind)
    ]
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("token", "t"),
        ("token", "x" * 255),
        ("token", " padded "),
        ("psp", ""),
        ("atag", ""),
        ("betcard_code", "ABC123"),
        ("rtag", "r" * 255),
    ],
)
def test_a_body_string_within_its_rule_is_accepted(client, acme, field, value):
    response = signed_post(client, acme, "/be/tickets", sample_request(**{field: value}))

    assert response.status_code == 200, response.content


QUERY_TEXTS = [
    ("/be/tickets", "user_id", 255),
    ("/be/tickets", "skip_types", 20),
    ("/be/tickets", "betcard_code", 32),
    ("/bc/calculator/finance-details?price=500", "betcard_code", 32),
]


@pytest.mark.parametrize(("path", "param", "longest"), QUERY_TEXTS)
@pytest.mark.parametrize(
    ("value", "kind"),
    [("", "string_length"), ("a%00b", "string_pattern_mismatch")]
    + [(blank, "string_blank") for blank in ("%20", "%09", "%20%0D%0A", "%C2%A0")],
)
def test_a_query_string_that_breaks_its_rule_is_a_422_naming_it(
    client, acme, path, param, longest, value, kind
):
    separator = "&" if "?" in path else "?"

    response = signed_get(client, acme, f"{path}{separator}{param}={value}")
    too_long = signed_get(client, acme, f"{path}{separator}{param}={'x' * (longest + 1)}")

    assert response.status_code == 422, response.content
    assert response.json()["detail"] == [
        {"loc": ["query", param], "msg": response.json()["detail"][0]["msg"], "type": kind}
    ]
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["type"] == "string_length"


@pytest.mark.parametrize(
    ("key", "kind"),
    [(" ", "string_blank"), ("\t", "string_blank"), ("k" * 256, "string_length")],
)
def test_an_idempotency_key_that_breaks_its_rule_is_a_422_naming_the_header(
    client, acme, key, kind
):
    response = signed_post(
        client, acme, "/be/tickets", sample_request(), headers={"Idempotency-Key": key}
    )

    assert response.status_code == 422, response.content
    assert [(item["loc"], item["type"]) for item in response.json()["detail"]] == [
        (["header", "Idempotency-Key"], kind)
    ]
    assert not Ticket.objects.exists()
