"""Type aliases shared across the collector's steps."""

from __future__ import annotations

from typing import Any, Literal

JSON = dict[str, Any]
Row = dict[str, Any]  # one footpath.events row, column name -> value
Source = Literal["browser", "server"]
ConsentState = Literal["granted", "denied", "pending"]
MESSAGE_TYPES = ("track", "page", "screen", "identify", "group", "alias")

# Closed set of reasons a valid message is not stored (Plausible-style drop reasons).
DropReason = Literal["duplicate", "consent_denied", "consent_pending", "bot"]
