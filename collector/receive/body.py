"""Reading and parsing request bodies under hard limits: size (413), encoding (gzip with
a decompressed cap against zip bombs), content type (415) and JSON (400).  Browsers post
text/plain (sendBeacon, no CORS preflight)."""

from __future__ import annotations

import json
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


def parse_json(body: bytes) -> tuple[Any, bool]:
    """(document, strict_strings).  orjson first; if it refuses only because of lone
    surrogates (valid JSON escapes, invalid Unicode), the stdlib parser takes the body so
    the other messages survive, and strict_strings tells the pipeline to check strings."""
    try:
        return orjson.loads(body), False
    except orjson.JSONDecodeError as e:
        first_error = str(e)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BodyError(400, f"body is not valid UTF-8 (byte {e.start})") from None
    try:
        return json.loads(text, parse_constant=_no_constants), True
    except (ValueError, RecursionError):
        raise BodyError(400, f"body is not valid JSON: {first_error}") from None
