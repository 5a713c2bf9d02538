"""Every error code is defined once (jackpot/core/errors.py) and has its row in the README's
table, the API ones in docs/api.md and the OpenAPI schema, and the schema
is generated without warnings."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from jackpot.api.exceptions import http_status
from jackpot.core.errors import ALL_ERRORS, ContractError, SettlementError
from tests.support.openapi import refs_inlined

ROOT = Path(__file__).resolve().parents[1]
API_ERRORS = [error for error in ALL_ERRORS if not issubclass(error, SettlementError)]


def _subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    subclasses: list[type] = cls.__subclasses__()
    for sub in subclasses:
        found |= {sub, *_subclasses(sub)}
    return found


def test_codes_are_unique_and_every_error_class_is_registered():
    codes = [error.code for error in ALL_ERRORS]

    assert len(codes) == len(set(codes))
    assert codes == sorted(codes)
    assert {sub for sub in _subclasses(ContractError) if hasattr(sub, "code")} == set(ALL_ERRORS)


def _table_rows(page: str) -> dict[int, tuple[str, str, str]]:
    return {
        int(match[1]): (match[2], match[3], match[4])
        for match in re.finditer(
            r"^\| (\d{3}) \| (\d{3}|—) \| (.+?) \| (.+) \|$", (ROOT / page).read_text(), re.M
        )
    }


def _expected_row(error: type[ContractError]) -> tuple[str, str, str]:
    status = "—" if issubclass(error, SettlementError) else str(http_status(error))
    return status, error.template, error.when


@pytest.mark.parametrize(
    ("page", "errors"), [("README.md", ALL_ERRORS), ("docs/api.md", API_ERRORS)]
)
def test_every_code_is_in_the_docs_table_as_the_registry_defines_it(page, errors):
    expected = {error.code: _expected_row(error) for error in errors}

    assert _table_rows(page) == expected


@pytest.fixture
def schema(client):
    response = client.get("/be/schema", {"format": "json"})
    assert response.status_code == 200
    return refs_inlined(json.loads(response.content))


def _codes_in(response: dict[str, Any]) -> set[int]:
    return set(response["content"]["application/json"]["schema"]["properties"]["code"]["enum"])


def test_every_code_is_in_the_openapi_schema(schema):
    place = schema["paths"]["/be/tickets"]["post"]["responses"]
    detail = schema["paths"]["/be/tickets/{identifier}"]["get"]["responses"]
    paid = schema["paths"]["/be/tickets/{identifier}/paid"]["post"]["responses"]

    in_schema = (
        _codes_in(place["400"])
        | _codes_in(place["409"])
        | _codes_in(detail["404"])
        | _codes_in(paid["400"])
        | _codes_in(place["429"])
    )

    assert in_schema == {error.code for error in API_ERRORS}
    placement_400 = {
        error.code for error in API_ERRORS if http_status(error) == 400 and error.code != 117
    }
    assert placement_400 == _codes_in(place["400"])  # 117 is the paid endpoint's
    signed = [
        operation
        for path in schema["paths"].values()
        for operation in path.values()
        if operation.get("security")
    ]
    assert len(signed) == 9
    assert all(_codes_in(operation["responses"]["429"]) == {129} for operation in signed)


def test_schema_documents_403_413_422_and_the_signature_headers(schema):
    place = schema["paths"]["/be/tickets"]["post"]

    assert {"200", "400", "403", "409", "413", "422"} <= set(place["responses"])
    item = place["responses"]["422"]["content"]["application/json"]["schema"]["properties"]
    assert item["detail"]["items"]["required"] == ["loc", "msg", "type"]
    assert place["security"] == [{"timestamp": [], "operator-name": [], "signature": []}]
    assert set(schema["components"]["securitySchemes"]) == {
        "timestamp",
        "operator-name",
        "signature",
    }


def test_schema_response_fields_are_the_contracts(schema, client):
    from tests.tickets.placement.test_place_ticket_sample import CONTRACT_FIELDS

    ok = schema["paths"]["/be/tickets"]["post"]["responses"]["200"]
    properties = ok["content"]["application/json"]["schema"]["properties"]
    assert list(properties) == CONTRACT_FIELDS
    assert schema["paths"]["/be/tickets"]["post"]["requestBody"]["required"] is True
    request = schema["paths"]["/be/tickets"]["post"]["requestBody"]["content"]["application/json"]
    assert request["schema"]["required"] == [
        "operator", "token", "price", "currency", "source", "type", "odds_diff", "events",
        "betcard_code", "prize", "bonus_prizes",
    ]  # fmt: skip


def test_schema_generates_without_warnings(capsys):
    from drf_spectacular.generators import SchemaGenerator

    SchemaGenerator().get_schema(request=None, public=True)

    assert "Warning" not in capsys.readouterr().err


@pytest.mark.django_db
def test_docs_pages_and_their_assets_are_served_locally(client):
    swagger = client.get("/be/docs")
    redoc = client.get("/be/redoc")

    assert swagger.status_code == redoc.status_code == 200
    html = swagger.content.decode()
    assets = re.findall(r'src="(/static/drf_spectacular_sidecar/[^"]+)"', html)
    assert assets
    assert "cdn" not in html.lower()
    for asset in assets:
        response = client.get(asset)
        response.close()
        assert response.status_code == 200, asset
