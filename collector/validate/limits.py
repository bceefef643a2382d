"""Structural limits checked on the raw JSON before the schema: size, nesting depth, key
count and string length.  Bounded work per message, so hostile input cannot hang a worker."""

from __future__ import annotations

import re
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


def _walk(value: Any, depth: int, lim: Limits, budget: list[int]) -> str | None:
    """The first problem found, or None.  No path strings on the happy path: the caller
    re-walks with _locate only when something is wrong."""
    if isinstance(value, str):
        return "long" if len(value) > lim.max_string else None
    if isinstance(value, dict):
        children = value.values()
        if any(len(k) > 256 for k in value):
            return "key"
    elif isinstance(value, list):
        children = value
    else:
        return None
    if depth > lim.max_depth:
        return "deep"
    budget[0] -= len(value)
    if budget[0] < 0:
        return "keys"
    for v in children:
        if isinstance(v, (str, dict, list)):
            problem = _walk(v, depth + 1, lim, budget)
            if problem:
                return problem
    return None


def _locate(value: Any, path: str, depth: int, lim: Limits, budget: list[int]) -> None:
    """Slow path: raise LimitError naming the field (same rules as _walk)."""
    if isinstance(value, str):
        if len(value) > lim.max_string:
            raise LimitError(path, f"string longer than {lim.max_string} characters")
        return
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = [(str(i), v) for i, v in enumerate(value)]
    else:
        return
    if depth > lim.max_depth:
        raise LimitError(path, f"nested deeper than {lim.max_depth} levels")
    budget[0] -= len(items)
    if budget[0] < 0:  # the limit is on the whole object: name it, and where the count passed it
        top = path.split(".", 1)[0]
        where = f" (the count passed it at {path})" if path != top else ""
        raise LimitError(top, f"more than {lim.max_keys} keys and items in all of {top}{where}")
    for k, v in items:
        if isinstance(value, dict) and len(k) > 256:
            raise LimitError(path, "key longer than 256 characters")
        _locate(v, f"{path}.{k}" if path else k, depth + 1, lim, budget)


# A quote, then 257 bytes without one.  Without escaped quotes the text alternates between
# outside and inside strings at each quote, so every string's text (every key's) is a piece
# that follows a quote; the piece before the first quote holds no key.  A literal first
# character lets the regex engine jump from quote to quote: linear in the text, ~5x faster
# than splitting it into pieces.
_LONG_PIECE = re.compile(rb'"[^"]{257}')


def _no_long_key(dumped: bytes) -> bool:
    """No key longer than 256 characters: without escaped quotes, the pieces that follow a
    quote include every string's text, and a key's characters take at least as many bytes."""
    return b'\\"' not in dumped and _LONG_PIECE.search(dumped) is None


def within_limits(dumped: bytes, lim: Limits) -> bool:
    """True when the compact JSON text of a value proves it within every limit _walk
    checks, without walking it (False: undecided, walk it).  Why each bound holds:
      * no string can be longer than the text (a character is >= 1 byte of UTF-8),
      * nesting is at most the number of '{' and '[' (those inside strings only add),
      * n keys and items need >= 2n + 1 bytes ("[0,0]" is 5 for 2),
      * long keys: _no_long_key."""
    n = len(dumped)
    return (n <= lim.max_string and n <= 2 * lim.max_keys + 1
            and dumped.count(b"{") + dumped.count(b"[") <= lim.max_depth
            and (n <= 258 or _no_long_key(dumped)))


def check_message(raw: dict[str, Any], lim: Limits, body_small: bool,
                  dumped: dict[str, bytes] | None = None) -> None:
    """Raise LimitError naming the field over a limit.  ``body_small`` skips the size check
    when the whole body is under the per-message limit (the common case, no re-encode).
    ``dumped`` receives the compact JSON of properties/traits/context as a by-product
    (the pipeline stores the first two as they are)."""
    if not body_small and len(orjson.dumps(raw)) > lim.max_message_bytes:
        raise LimitError("", f"message larger than {lim.max_message_bytes} bytes")
    for key in ("properties", "traits", "context"):
        v = raw.get(key)
        if v is None:
            continue
        if isinstance(v, (dict, list)):
            try:
                d = orjson.dumps(v)
            except orjson.JSONEncodeError:  # too deep for orjson, or not valid Unicode: walk
                d = b""
            if d and dumped is not None:
                dumped[key] = d
            if d and within_limits(d, lim):
                continue
        if _walk(v, 1, lim, [lim.max_keys]):
            _locate(v, key, 1, lim, [lim.max_keys])
    longest = lim.max_string
    for key, v in raw.items():  # (the three above, when strings, were checked by _walk)
        if type(v) is str and len(v) > longest:
            raise LimitError(key, f"string longer than {longest} characters")
