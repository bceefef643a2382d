"""Compact buffer records: footpath.events rows as JSON arrays in a fixed column order.

A JSONEachRow row names every column (~560 of its ~1,120 bytes are key text) and ClickHouse
matches each key by name while parsing.  A compact record holds the same values as one
JSON array per line, in the order of a numbered layout, and the writer inserts it as
`JSONCompactEachRow` with that layout as the column list: half the bytes in the buffer (its
disk, fsync and CRC work at the edge) and ClickHouse parses it faster (BENCHMARKS.md,
Writer).

A record names its layout in its table header (`#footpath.events!1`, wal.table_record):
buffers outlive code versions (a collector upgraded with undrained segments), so a layout,
once released, never changes; a new column order is a new number, and the old entries stay
so that old segments still drain.  tests/collector/buffer/test_layouts.py holds layout 1
as the format's specification.

The first columns are the ones identity's scan after each insert reads (identity/service.py):
a row without a user id starts `[""` and is skipped without parsing the line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from collector.buffer.wal import DEFAULT_TABLE

EVENTS_TABLE = DEFAULT_TABLE  # the only table with compact layouts

LAYOUTS: dict[str, tuple[str, ...]] = {
    "1": (
        "user_id", "anonymous_id", "previous_id", "site_id", "type", "source", "timestamp",
        "original_timestamp", "sent_at", "received_at", "message_id", "event", "name", "group_id",
        "session_id", "seq", "page_view_id", "url", "path", "title", "referrer", "locale", "library",
        "properties", "traits", "context", "user_agent",
        "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "click_id", "click_id_type",
        "referrer_host", "referrer_class",
        "browser", "browser_version", "os", "os_version", "device_type", "is_bot",
        "country_code", "region", "city", "asn", "as_org", "ip",
        "consent_analytics",
    ),
}
CURRENT = "1"  # what this version writes


def record_key(table: str, layout: str | None) -> str:
    """The table header of a record: the table, and `!layout` for compact rows."""
    return f"{table}!{layout}" if layout else table


def split_key(key: str) -> tuple[str, str | None]:
    table, _, layout = key.partition("!")
    return table, layout or None


def columns(layout: str) -> tuple[str, ...]:
    try:
        return LAYOUTS[layout]
    except KeyError:
        # a buffer written by a newer version: keep it (the writer retries), say why
        raise ValueError(f"buffer record layout {layout!r} is unknown to this version of footpath "
                         f"(known: {', '.join(sorted(LAYOUTS))}); run the version that wrote it "
                         "until its buffer is drained") from None


def row_dicts(key: str, payload: bytes, with_user_only: bool = False) -> Iterator[dict[str, Any]]:
    """The rows of a record (JSONEachRow or a compact layout) as dicts; lines that do not
    parse are skipped.  with_user_only: only rows with a user id, the others skipped on
    their bytes, unparsed (most rows are anonymous; identity's scan)."""
    _, layout = split_key(key)
    cols = columns(layout) if layout else None
    if cols is None:
        skip = (lambda line: b'"user_id":""' in line or b'"user_id"' not in line) if with_user_only else None
    else:
        skip = (lambda line: line.startswith(b'[""')) if with_user_only and cols[0] == "user_id" else None
    for line in payload.split(b"\n"):
        if skip is not None and skip(line):
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if cols is not None and isinstance(row, list) and len(row) == len(cols):
            row = dict(zip(cols, row, strict=True))
        if isinstance(row, dict) and (not with_user_only or row.get("user_id")):
            yield row
