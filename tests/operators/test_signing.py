from __future__ import annotations

from operators.signing import signature, signature_matches

VECTOR_BODY = (
    b'{"operator":"site","token":"UnIqUe-ToKeN","price":5000,"currency":"KES",'
    b'"atag":"affiliate-1","source":"mobile","type":"superbet","event":100001,'
    b'"bets":[101,102,103,104,105,106]}'
)
VECTOR_SIGNATURE = "f99aee9f77eef1ee8b64c78e7f8612e3234f03cce5fecdebd7ea27f2b9081423"


def test_matches_the_published_test_vector() -> None:
    assert signature("12345ABCDE", "1706090303", VECTOR_BODY) == VECTOR_SIGNATURE


def test_pretty_printed_body_verifies_against_compact_signature() -> None:
    pretty = VECTOR_BODY.replace(b",", b",\n\t  ").replace(b":", b": \r\n")

    assert signature_matches(["12345ABCDE"], "1706090303", pretty, VECTOR_SIGNATURE)


def test_body_less_request_signs_the_timestamp_alone() -> None:
    assert signature("k", "1706090303", b"") == signature("k", "1706090303", b" \n")


def test_wrong_secret_or_timestamp_does_not_verify() -> None:
    assert not signature_matches(["other"], "1706090303", VECTOR_BODY, VECTOR_SIGNATURE)
    assert not signature_matches(["12345ABCDE"], "1706090304", VECTOR_BODY, VECTOR_SIGNATURE)
