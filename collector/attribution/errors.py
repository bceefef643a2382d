"""The one error a report request can raise: a 400 that names the field at fault."""

from __future__ import annotations


class RequestError(ValueError):
    def __init__(self, field: str, reason: str, status: int = 400):
        super().__init__(f"field {field!r}: {reason}")
        self.field = field
        self.reason = reason
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": str(self), "field": self.field}
