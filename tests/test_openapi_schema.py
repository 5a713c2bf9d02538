"""The operator API's OpenAPI schema (`/be/schema`) is a valid OpenAPI document, checked by a
kept validator (openapi-spec-validator), so a change that breaks it for generators fails
here rather than in an operator's build."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db


def test_the_schema_is_a_valid_openapi_document(client):
    response = client.get("/be/schema", {"format": "json"})
    schema = response.json()

    validate(schema)  # raises, naming the first problem, when it is not

    assert schema["openapi"].startswith("3.")
    assert {"/be/tickets", "/be/tickets/reserve", "/bc/jackpots/{code}/pick"} <= set(
        schema["paths"]
    )


def test_every_signed_operation_declares_the_answers_no_view_decides(client):
    schema = client.get("/be/schema", {"format": "json"}).json()

    operations = [
        (path, method, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]

    for path, method, operation in operations:
        responses = operation["responses"]
        assert {"429", "500", "503"} <= set(responses), (path, method)
        assert "Retry-After" in responses["503"]["headers"], (path, method)
        if method == "post":
            assert {"408", "413"} <= set(responses), (path, method)
        else:  # a body-less request has no body operator to disagree with: never a 115
            codes = responses.get("400", {}).get("content", {})
            enum = codes.get("application/json", {}).get("schema", {}).get("properties", {})
            assert 115 not in enum.get("code", {}).get("enum", []), (path, method)
