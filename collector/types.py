"""Type aliases shared across the collector's steps."""

from __future__ import annotations

from typing import Any, Literal

JSON = dict[str, Any]
Row = dict[str, Any]  # one footpath.events row, column name -> value
Source = Literal["browser", "server"]
ConsentState = Literal["granted", "denied", "pending"]
MESSAGE_TYPES = ("track", "page", "screen", "identify", "group", "alias")

# Ingestion endpoints -> the message type they imply (None: a batch). analytics.js, Segment's
# browser library, posts to the type's first letter (/v1/t, /v1/p, ...) and to /v1/b when it
# batches; those names are the same endpoints, so it works with only its host changed.
# Segment's Java library posts its batches to /v1/import/, its Ruby and .NET libraries to /v1/import.
INGEST_PATHS: dict[str, str | None] = {
    "/v1/batch": None, "/v1/b": None, "/v1/import": None, "/v1/import/": None,
    **{f"/v1/{t}": t for t in MESSAGE_TYPES}, **{f"/v1/{t[0]}": t for t in MESSAGE_TYPES},
}

# Closed set of reasons a valid message is not stored (Plausible-style drop reasons).
DropReason = Literal["duplicate", "consent_denied", "consent_pending", "bot"]
