"""OpenAPI (drf-spectacular) pieces shared by the /be/ views, generated from the code.

Error responses are built from the error classes themselves (code + message template), so
the schema cannot drift from what the API answers; the 422, 403, 409, 413 and 429 shapes are
the ones `jackpot.api.exceptions` renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse

from jackpot.core.errors import ContractError, RateLimited

API_ERROR_SCHEMA: dict[str, Any] = {
    "x-component": "ApiError",
    "type": "object",
    "description": "A documented refusal: its code and the platform's message; some carry more "
    "keys after them (109 and 110: `event_id`, 110: `current_odds`).",
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "event_id": {"type": "integer", "format": "int64"},
        "current_odds": {"type": "number"},
    },
    "required": ["code", "message"],
}


def error_code_response(
    errors: Sequence[type[ContractError]], *, status_code: int, description: str
) -> OpenApiResponse:
    """`{"code": N, "message": "..."}` (the shared ApiError component), its code restricted
    to `errors` here, one example per code."""
    table = "\n".join(f"| {error.code} | {error.template} |" for error in errors)
    return OpenApiResponse(
        response={
            "allOf": [API_ERROR_SCHEMA],
            "properties": {
                "code": {"type": "integer", "enum": [error.code for error in errors]},
            },
        },
        description=f"{description}\n\n| code | message |\n|---|---|\n{table}",
        examples=[
            OpenApiExample(
                f"{error.code} {error.__name__}",
                value={"code": error.code, "message": error.template},
                response_only=True,
                status_codes=[str(status_code)],
            )
            for error in errors
        ],
    )


DETAIL_SCHEMA: dict[str, Any] = {
    "x-component": "Detail",
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
"""`{"detail": "..."}`: what the engine answers where no error code applies (403, 404 of an
unknown path, 408, 413, 500, 503)."""


def detail_response(description: str, example: str) -> OpenApiResponse:
    """`{"detail": "..."}` (403 authentication failures, 413)."""
    return OpenApiResponse(
        response=DETAIL_SCHEMA,
        description=description,
        examples=[OpenApiExample("detail", value={"detail": example}, response_only=True)],
    )


VALIDATION_ERROR_RESPONSE = OpenApiResponse(
    response={
        "x-component": "ValidationError",
        "type": "object",
        "properties": {
            "detail": {
                "type": "array",
                "items": {
                    "x-component": "FieldError",
                    "type": "object",
                    "properties": {
                        "loc": {
                            "type": "array",
                            "items": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                            "description": "Path to the bad value, e.g. body.events.2.odds",
                        },
                        "msg": {"type": "string"},
                        "type": {"type": "string", "description": "Machine-readable error type"},
                    },
                    "required": ["loc", "msg", "type"],
                },
            }
        },
        "required": ["detail"],
    },
    description="The body is not JSON, not an object, or has missing, mistyped or "
    "out-of-range fields: every bad field is listed.",
    examples=[
        OpenApiExample(
            "422",
            value={
                "detail": [
                    {
                        "loc": ["body", "events", 2, "odds"],
                        "msg": "Input should be a valid number",
                        "type": "number_type",
                    }
                ]
            },
            response_only=True,
        )
    ],
)

FORBIDDEN_RESPONSE = detail_response(
    "Missing signature headers, timestamp outside the window, wrong signature or inactive "
    "operator.",
    "Invalid signature.",
)
PAYLOAD_TOO_LARGE_RESPONSE = detail_response(
    "The body is larger than MAX_REQUEST_BODY_BYTES (64 KiB), refused before parsing.",
    "Request body is larger than 65536 bytes.",
)


def request_bodies_required(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: every documented request body is required (the
    write endpoints have no optional body), which the generator leaves unsaid for bodies
    given as a raw JSON schema."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation["requestBody"]["required"] = True
    return result


def rate_limited_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: every signed operation may answer 429 (code 129,
    contract § Limits), so it is added once here rather than on each view."""
    response = {
        "description": f"More than the operator's `rate_limit` requests this second on /be/ "
        f"and /bc/ together; retry after `Retry-After` seconds.\n\n| code | message |\n"
        f"|---|---|\n| {RateLimited.code} | {RateLimited.template} |",
        "headers": {
            "Retry-After": {
                "schema": {"type": "integer", "minimum": 1},
                "description": "Whole seconds to wait before the next request.",
            }
        },
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "integer", "enum": [RateLimited.code]},
                        "message": {"type": "string"},
                    },
                    "required": ["code", "message"],
                },
                "examples": {
                    "129RateLimited": {
                        "value": {
                            "code": RateLimited.code,
                            "message": RateLimited.template.format(limit=100),
                        }
                    }
                },
            }
        },
    }
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and operation.get("security"):
                operation["responses"]["429"] = response
    return result


def _detail(description: str, example: str, *, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Detail"},
                "examples": {"detail": {"value": {"detail": example}}},
            }
        },
    }
    if retry_after:
        response["headers"] = {
            "Retry-After": {
                "schema": {"type": "integer", "minimum": 1},
                "description": "Whole seconds to wait before retrying the same request.",
            }
        }
    return response


def service_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: the answers any signed operation may give that
    no view decides (`jackpot.api.exceptions`, `jackpot.rsgi`): 503 when PostgreSQL or Redis
    cannot answer in time, 500, and for a request with a body 408 and 413."""
    unavailable = _detail(
        "PostgreSQL or Redis could not answer in time (each database call waits at most about "
        "a second and a half): retry the same request after `Retry-After` seconds; a write "
        "either committed or did not happen.",
        "The service is briefly unavailable (database or broker); retry shortly.",
        retry_after=True,
    )
    internal = _detail(
        "An unexpected failure; nothing was written twice. Retry, or report it.",
        "Internal error; nothing was written twice. Retry, or contact the engine's staff.",
    )
    not_allowed = _detail(
        "Another method than the documented ones (with an Allow header naming them).",
        'Method "DELETE" not allowed.',
    )
    timeout = _detail(
        "The body did not arrive within REQUEST_BODY_SECONDS (10 s).",
        "The request body did not arrive in time.",
    )
    too_large = _detail(
        "The body is larger than 64 KiB, refused before it is read.",
        "Request body is larger than 65536 bytes.",
    )
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if not (isinstance(operation, dict) and operation.get("security")):
                continue
            responses = operation["responses"]
            responses.setdefault("503", unavailable)
            responses.setdefault("500", internal)
            responses.setdefault("405", not_allowed)
            if method == "post":
                responses.setdefault("408", timeout)
                responses.setdefault("413", too_large)
    return result


COMPONENT = "x-component"
"""Marks an inline schema (`{"x-component": "Ticket", ...}`) as a reusable component."""


def hoisted_components(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook (the last): every schema marked `x-component`
    moves to `components/schemas` under its name and is referred to by `$ref` wherever it
    was, so generated clients get one `Ticket` or `Card` class, not one per operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    # the shared {"detail": ...} schema that service_responses refers to
    schemas.setdefault("Detail", {k: v for k, v in DETAIL_SCHEMA.items() if k != COMPONENT})

    def hoist(node: Any) -> Any:
        if isinstance(node, list):
            return [hoist(item) for item in node]
        if not isinstance(node, dict):
            return node
        children = {key: hoist(value) for key, value in node.items() if key != COMPONENT}
        name = node.get(COMPONENT)
        if name is None:
            return children
        known = schemas.setdefault(name, children)
        if known != children:
            raise ValueError(f"two different schemas are named {name!r}")
        return {"$ref": f"#/components/schemas/{name}"}

    result["paths"] = hoist(result.get("paths", {}))
    if "webhooks" in result:
        result["webhooks"] = hoist(result["webhooks"])
    return result


def nullable_as_31(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook for OpenAPI 3.1: the schemas written by hand say
    `"nullable": true` (3.0); in 3.1 a schema is JSON Schema, where null is a type."""

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        converted = {key: convert(value) for key, value in node.items() if key != "nullable"}
        if node.get("nullable") is True:
            kind = node.get("type")
            if isinstance(kind, str):
                converted["type"] = [kind, "null"]
            elif "$ref" not in node and "type" not in node:
                converted = {"oneOf": [converted, {"type": "null"}]}
        return converted

    return convert(result)  # type: ignore[no-any-return]
