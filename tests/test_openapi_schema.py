"""The operator API's OpenAPI schema (`/be/schema`) is a valid OpenAPI document, checked by a
kept validator (openapi-spec-validator), so a change that breaks it for generators fails
here rather than in an operator's build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


@pytest.mark.slow
def test_a_client_generated_from_the_schema_type_checks(client, tmp_path):
    # given: the schema as an integrator downloads it
    schema = tmp_path / "schema.json"
    schema.write_text(client.get("/be/schema", {"format": "json"}).content.decode())
    config = tmp_path / "generator.yml"
    config.write_text("post_hooks: []\n")  # no formatter: only what the generator writes
    venv = Path(sys.executable).parent

    # when: openapi-python-client generates a client, refusing any warning
    generated = subprocess.run(
        [str(venv / "openapi-python-client"), "generate", "--path", str(schema),
         "--output-path", str(tmp_path / "client"), "--config", str(config),
         "--meta", "none", "--fail-on-warning"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr

    # then: it type-checks strictly, with one class per component
    checked = subprocess.run(
        [str(venv / "mypy"), "--strict", "--ignore-missing-imports", "--no-incremental",
         "--config-file", "/dev/null", str(tmp_path / "client")],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout[-3000:]
    models = {path.stem for path in (tmp_path / "client" / "models").glob("*.py")}
    assert {"ticket", "ticket_with_events", "card", "pick", "validation_error"} <= models


def test_limits_headers_and_descriptions_are_in_the_schema(client):
    schema = client.get("/be/schema", {"format": "json"}).json()
    paths = schema["paths"]

    def parameter(path: str, method: str, name: str) -> dict[str, object]:
        [found] = [p for p in paths[path][method]["parameters"] if p["name"] == name]
        return dict(found["schema"])

    assert parameter("/be/tickets", "get", "limit") == {
        "type": "integer", "minimum": 1, "maximum": 100, "default": 10,
    }  # fmt: skip
    assert parameter("/be/tickets", "get", "before")["pattern"] == "^[0-9a-f]{24}$"
    assert "pattern" in parameter("/be/tickets", "get", "created_from")
    key = parameter("/be/tickets", "post", "Idempotency-Key")
    assert (key["minLength"], key["maxLength"]) == (1, 255)
    assert parameter("/bc/jackpots/{code}/pick", "get", "seed")["minimum"] == 0
    assert parameter("/bc/calculator/finance-details", "get", "price")["minimum"] == 1
    assert "Link" in paths["/be/tickets"]["get"]["responses"]["200"]["headers"]
    assert "ETag" in paths["/bc/jackpots/{code}"]["get"]["responses"]["200"]["headers"]
    for methods in paths.values():
        for operation in methods.values():
            assert "405" in operation["responses"]
            # written for integrators, not the view classes' docstrings
            assert len(operation["description"]) > 80
            assert "module docstring" not in operation["description"]


def test_the_pam_webhooks_are_documented_as_openapi_31_webhooks(client):
    from tests.support.openapi import refs_inlined
    from tests.tickets.webhooks.helpers import CREATE_FIELDS, DISCARD_FIELDS

    raw = client.get("/be/schema", {"format": "json"}).json()
    schema = refs_inlined(raw)

    assert schema["openapi"] == "3.1.0"
    assert set(schema["webhooks"]) == {
        "ticket_create", "ticket_reserve", "ticket_discard", "ticket_refund", "ticket_win",
        "ticket_lost", "ticket_void", "ticket_rollback", "ticket_closed",
    }  # fmt: skip

    def data(action: str) -> dict[str, object]:
        body = schema["webhooks"][action]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"]["properties"]["action"] == {"const": action}
        return dict(body["schema"]["properties"]["data"])

    assert list(data("ticket_create")["properties"]) == CREATE_FIELDS  # type: ignore[call-overload]
    assert list(data("ticket_discard")["properties"]) == DISCARD_FIELDS  # type: ignore[call-overload]
    assert data("ticket_create")["properties"]["reference"] == {"type": ["string", "null"]}  # type: ignore[index]
    assert "README" not in schema["info"]["description"]
    # a ticket_create and a ticket_reserve carry the same data: one component
    assert {"TicketCreateData", "TicketResultData", "MoneyBackData"} <= set(
        raw["components"]["schemas"]
    )
