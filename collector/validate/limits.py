"""Structural limits checked on the raw JSON before the schema: size, nesting depth, key
count and string length.  Bounded work per message, so hostile input cannot hang a worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int
    max_depth: int
    max_keys: int
    max_string: int


class LimitError(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _walk(value: Any, path: str, depth: int, lim: Limits, budget: list[int]) -> None:
    if isinstance(value, str):
        if len(value) > lim.max_string:
            raise LimitError(path, f"string longer than {lim.max_string} characters")
        return
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return
    if depth > lim.max_depth:
        raise LimitError(path, f"nested deeper than {lim.max_depth} levels")
    for k, v in items:
        budget[0] -= 1
        if budget[0] < 0:
            raise LimitError(path, f"more than {lim.max_keys} keys and items")
        if isinstance(k, str) and len(k) > 256:
            raise LimitError(path, "key longer than 256 characters")
        _walk(v, f"{path}.{k}" if path else k, depth + 1, lim, budget)


def check_message(raw: dict[str, Any], lim: Limits, body_small: bool) -> None:
    """Raise LimitError naming the field over a limit.  ``body_small`` skips the size check
    when the whole body is under the per-message limit (the common case, no re-encode)."""
    if not body_small and len(orjson.dumps(raw)) > lim.max_message_bytes:
        raise LimitError("", f"message larger than {lim.max_message_bytes} bytes")
    for key in ("properties", "traits", "context"):
        v = raw.get(key)
        if v is not None:
            _walk(v, key, 1, lim, [lim.max_keys])
    for key, v in raw.items():
        if key not in ("properties", "traits", "context") and isinstance(v, str) and len(v) > lim.max_string:
            raise LimitError(key, f"string longer than {lim.max_string} characters")
