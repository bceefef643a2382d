"""Reading and parsing request bodies under hard limits: size (413), encoding (gzip with
a decompressed cap against zip bombs), content type (415) and JSON (400).  Browsers post
text/plain (sendBeacon, no CORS preflight)."""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
from starlette.requests import Request

ALLOWED_TYPES = ("application/json", "text/plain", "")


class BodyError(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_headers(headers: Mapping[str, str], max_bytes: int, check_type: bool = True) -> None:
    """What can be refused before reading a byte: content type, declared length."""
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if check_type and ctype not in ALLOWED_TYPES:
        raise BodyError(415, f"content type {ctype!r} not accepted; send application/json or text/plain")
    declared = headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BodyError(400, "Content-Length is not a number")
        if int(declared) > max_bytes:
            raise BodyError(413, f"body larger than {max_bytes} bytes")


def too_large(max_bytes: int) -> BodyError:
    return BodyError(413, f"body larger than {max_bytes} bytes")


def decode_body(headers: Mapping[str, str], body: bytes, max_bytes: int) -> bytes:
    """The body after Content-Encoding (gzip/deflate, capped against zip bombs)."""
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "deflate"):
        d = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
        try:
            body = d.decompress(body, max_bytes + 1)
        except zlib.error:
            raise BodyError(400, f"body is not valid {encoding}") from None
        if len(body) > max_bytes or d.unconsumed_tail:
            raise BodyError(413, f"decompressed body larger than {max_bytes} bytes")
    elif encoding not in ("", "identity"):
        raise BodyError(415, f"content encoding {encoding!r} not accepted")
    if not body.strip():
        raise BodyError(400, "empty body")
    return body


async def read_capped(chunks: AsyncIterator[bytes], max_bytes: int) -> bytes:
    """The raw body, refused (413) as soon as it passes max_bytes."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise too_large(max_bytes)
        parts.append(chunk)
    return b"".join(parts)


async def read_body(request: Request, max_bytes: int, check_type: bool = True) -> bytes:
    check_headers(request.headers, max_bytes, check_type)
    return decode_body(request.headers, await read_capped(request.stream(), max_bytes), max_bytes)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_INT_MIN, _INT_MAX = -(1 << 63), (1 << 64) - 1  # what orjson reads as an integer


def _int(text: str) -> int | float:
    """An integer as orjson reads it: beyond 64 bits, a float."""
    n = int(text)
    return n if _INT_MIN <= n <= _INT_MAX else float(n)


def parse_json(body: bytes) -> tuple[Any, bool]:
    """(document, strict).  orjson first; if it refuses the body for something one message
    can hold (a lone surrogate: a valid JSON escape, invalid Unicode; a number beyond a
    64-bit float, which orjson refuses), the stdlib parser takes the body so the other
    messages survive, reading numbers as orjson would, and strict tells the pipeline to
    check each message for those (strict_problem)."""
    try:
        return orjson.loads(body), False
    except orjson.JSONDecodeError as e:
        first_error = str(e)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BodyError(400, f"body is not valid UTF-8 (byte {e.start})") from None
    if "depth" in first_error or "recursion" in first_error.lower():
        text = _shallow(text)
    try:
        return json.loads(text, parse_constant=_no_constants, parse_int=_int), True
    except (ValueError, RecursionError):
        raise BodyError(400, f"body is not valid JSON: {first_error}") from None


TOO_DEEP = "(nested too deep to read)"
_MAX_READ_DEPTH = 256  # far below both parsers' limits (~1,000), far above any message's max_depth
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


def _shallow(text: str) -> str:
    """The JSON text with every value nested deeper than _MAX_READ_DEPTH replaced by the
    string TOO_DEEP: orjson and the stdlib parser both refuse a whole body past ~1,000
    levels, which cost every good message of a batch for one bad one (found in QA).  The
    message that held it is still deeper than max_depth there, so the limits step rejects
    it alone, naming its field.  Text that is not valid JSON stays invalid."""
    out, depth, cut, at = [], 0, -1, 0
    for m in _TOKENS.finditer(text):
        tok = m.group()
        if tok in "[{":
            depth += 1
            if depth == _MAX_READ_DEPTH + 1:
                cut = m.start()
        elif tok in "]}":
            depth -= 1
            if depth == _MAX_READ_DEPTH and cut >= 0:
                out += [text[at:cut], json.dumps(TOO_DEEP)]
                at, cut = m.end(), -1
    return "".join(out) + text[at:]


def strict_problem(value: Any, path: str = "") -> tuple[str, str] | None:
    """(field, reason) of the first value in a message from the stdlib parser that storage
    cannot hold, or None: a lone surrogate in a string or key, a number beyond a 64-bit
    float (which that parser reads as infinity and JSON encoders would write as null), or
    an integer beyond 64 bits (which parse_json never gives, but a caller's object may hold)."""
    if isinstance(value, str):
        return None if _unicode(value) else (path, "a string that is not valid Unicode (a lone surrogate escape)")
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, "a number beyond the range of a 64-bit float")
    if isinstance(value, int) and not _INT_MIN <= value <= _INT_MAX:  # not from parse_json: a caller's
        return path, "an integer beyond 64 bits"
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return None
    for k, v in items:
        ok = _unicode(k)
        name = k if ok else k.encode("utf-8", "backslashreplace").decode()  # the answer is UTF-8 JSON
        at = f"{path}.{name}" if path else name
        if not ok:
            return at, "a key that is not valid Unicode (a lone surrogate escape)"
        if (found := strict_problem(v, at)):
            return found
    return None


def _unicode(s: str) -> bool:
    try:
        s.encode()
        return True
    except UnicodeEncodeError:
        return False
