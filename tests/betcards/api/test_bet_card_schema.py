"""The OpenAPI schema covers every /bc endpoint, and real answers match it."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from tests.support.api import signed_get
from tests.support.openapi import refs_inlined
from tests.support.sample import sample_setup

pytestmark = pytest.mark.django_db

SERVICE_STATUSES = {"405", "429", "500", "503"}
"""What every signed operation may answer, whatever the view (jackpot.api.schema hooks)."""
BC_PATHS = {
    "/bc/jackpots": {"200", "304", "400", "403", "422"},
    "/bc/jackpots/{code}": {"200", "304", "400", "403", "404", "422"},
    "/bc/jackpots/{code}/pick": {"200", "400", "403", "404", "422"},
    "/bc/calculator/finance-details": {"200", "400", "403", "404", "422"},
}


@pytest.fixture
def schema(client) -> dict[str, Any]:
    response = client.get("/be/schema", {"format": "json"})
    assert response.status_code == 200
    schema: dict[str, Any] = json.loads(response.content)
    return refs_inlined(schema)


def test_every_bc_endpoint_is_documented_with_its_answers(schema):
    for path, statuses in BC_PATHS.items():
        operation = schema["paths"][path]["get"]
        assert set(operation["responses"]) == statuses | SERVICE_STATUSES, path
        assert operation["security"] == [{"timestamp": [], "operator-name": [], "signature": []}]
        assert "examples" in operation["responses"]["200"]["content"]["application/json"], path


def test_error_codes_of_each_bc_endpoint(schema):
    def codes(path: str, status: str) -> set[int]:
        answer = schema["paths"][path]["get"]["responses"][status]
        return set(answer["content"]["application/json"]["schema"]["properties"]["code"]["enum"])

    assert codes("/bc/jackpots/{code}", "404") == {119}
    assert codes("/bc/jackpots/{code}/pick", "400") == {112, 118, 121, 122}
    assert codes("/bc/calculator/finance-details", "404") == {119}


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("/bc/jackpots", "/bc/jackpots"),
        ("/bc/jackpots/{code}", "/bc/jackpots/ABC123"),
        ("/bc/jackpots/{code}/pick", "/bc/jackpots/ABC123/pick?strategy=favourites"),
        ("/bc/calculator/finance-details", "/bc/calculator/finance-details?price=500"),
        (
            "/bc/calculator/finance-details",
            "/bc/calculator/finance-details?price=500&betcard_code=ABC123",
        ),
    ],
)
def test_answers_match_the_schema(client, schema, path, url):
    # given
    sample = sample_setup()
    answer = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]

    # when
    body = signed_get(client, sample.operator, url).json()

    # then: the answer and the documented example both fit the schema
    validator = jsonschema.Draft202012Validator(json_schema(answer["schema"]))
    validator.validate(body)
    for example in answer["examples"].values():
        validator.validate(example["value"])


def json_schema(openapi: Any) -> Any:
    """OpenAPI 3.0's `nullable` as JSON Schema's null type, no extra properties allowed."""
    if isinstance(openapi, list):
        return [json_schema(item) for item in openapi]
    if not isinstance(openapi, dict):
        return openapi
    converted = {key: json_schema(value) for key, value in openapi.items() if key != "nullable"}
    if openapi.get("nullable"):
        converted["type"] = [openapi["type"], "null"]
    if "properties" in openapi:
        converted["additionalProperties"] = False
    converted.pop("example", None)
    return converted
