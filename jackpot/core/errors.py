"""The base of every documented business error (contract.md § error list).

Each documented code is a subclass with a `code` and a message `template` whose
placeholders are filled from keyword arguments, so tests can assert the exact text.
The API layer renders any ContractError as HTTP 400 `{"code": N, "message": "..."}`.
"""

from __future__ import annotations

from typing import ClassVar


class ContractError(Exception):
    code: ClassVar[int]
    template: ClassVar[str]
    http_status: ClassVar[int] = 400

    def __init__(self, **params: object) -> None:
        self.params = params
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return self.template.format(**self.params)
