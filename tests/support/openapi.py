"""The operator API's schema for tests that read into it: with every `$ref` to a component
replaced by the component itself (the schema keeps tickets, cards and errors as components,
`jackpot.api.schema.hoisted_components`)."""

from __future__ import annotations

from typing import Any


def refs_inlined(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.get("components", {}).get("schemas", {})

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(item) for item in node]
        if not isinstance(node, dict):
            return node
        reference = node.get("$ref", "")
        if reference.startswith("#/components/schemas/"):
            return inline(components[reference.rsplit("/", 1)[-1]])
        return {key: inline(value) for key, value in node.items()}

    inlined = {**schema, "paths": inline(schema["paths"])}
    if "webhooks" in schema:
        inlined["webhooks"] = inline(schema["webhooks"])
    return inlined
