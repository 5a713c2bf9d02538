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
