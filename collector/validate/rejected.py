"""Rejected messages kept for their senders (footpath.rejected_messages, migration 0050).

The response names each rejected message, but server libraries and the tag never read that
part of it: without this, a sender that starts writing a bad field loses those messages
silently.  The pipeline hands every rejection here; a row is kept when the site's budget
allows (a token bucket per site and process: `rejected_keep_per_minute`, bursts up to the
same; beyond it the rejection is only counted, footpath_rejected_not_kept_total), so a
flood of garbage cannot flood storage.

What a row holds depends on consent, read from the damaged message as far as it can be
read: its text and ids only when it would be stored under granted consent; else only the
diagnosis (redacted = 1).  context.ip is never kept, nor writeKey (Segment's HTTP API takes the
secret key in the body too: the rows are readable with the admin token, not the key's secret)."""

from __future__ import annotations

import json
import time
from typing import Any

import orjson

from collector.enrich import consent
from collector.ops import metrics
from collector.types import Row

TABLE = "footpath.rejected_messages"
MAX_MESSAGE_CHARS = 16 * 1024  # the message text is cut here (message_bytes keeps its size)
_STATES = ("granted", "denied", "pending")


class Keeper:
    """Builds the rejected_messages rows of one collector process, within each site's budget."""

    def __init__(self, per_minute: int, clock: Any = time.monotonic):
        self.rate = per_minute / 60.0
        self.burst = float(per_minute)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # site -> (tokens, at)

    def allow(self, site_id: str) -> bool:
        if self.burst <= 0:
            return False
        now = self.clock()
        tokens, at = self._buckets.get(site_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        ok = tokens >= 1.0
        self._buckets[site_id] = (tokens - 1.0 if ok else tokens, now)
        return ok

    def row(self, rq: Any, raw: Any, field: str, reason: str) -> Row | None:
        """The row of a rejection (rq: the pipeline's RequestContext), or None over budget."""
        site = rq.site
        if not self.allow(site.id):
            metrics.count(metrics.REJECTED_NOT_KEPT, site.id, 1)
            return None
        msg = raw if isinstance(raw, dict) else {}
        ctx = _obj(msg.get("context"))
        lib = _obj(ctx.get("library"))
        library = "/".join(s for s in (_text(lib.get("name"), 100), _text(lib.get("version"), 50)) if s)
        keep = _granted(rq, ctx)
        text, size = _message_text(raw)
        row = {
            "site_id": site.id, "received_at": rq.received_at_text, "source": rq.source, "library": library,
            "field": field[:255], "reason": reason[:1000], "type": _text(msg.get("type"), 40),
            "event": _text(msg.get("event"), 255), "message_id": _text(msg.get("messageId"), 255),
            "user_id": _text(msg.get("userId"), 255) if keep else "",
            "anonymous_id": _text(msg.get("anonymousId"), 255) if keep else "",
            "message": text if keep else "", "message_bytes": size, "redacted": 0 if keep else 1,
        }
        if rq.strict_strings:  # the body had lone surrogates (valid JSON escapes, not UTF-8): write them as escapes
            row = {k: _utf8(v) if isinstance(v, str) else v for k, v in row.items()}
        return row


def _obj(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _text(v: Any, limit: int) -> str:
    """A string (or an integer id, as validation would take it) cut to limit; else ''."""
    if isinstance(v, int) and not isinstance(v, bool):
        v = str(v)
    return v[:limit] if isinstance(v, str) else ""


def _utf8(v: str) -> str:
    try:
        v.encode()
        return v
    except UnicodeEncodeError:
        return v.encode("utf-8", "backslashreplace").decode()


def _granted(rq: Any, ctx: dict[str, Any]) -> bool:
    """Whether consent, read from what the message states, grants keeping its content.  A
    consent field too damaged to read counts as no statement: the site's default decides,
    unless the damage is to the consent itself, which withholds it."""
    stated = _obj(ctx.get("consent"))
    analytics = stated.get("analytics")
    prefs = stated.get("categoryPreferences")
    if (analytics is not None and analytics not in _STATES) or (prefs is not None and not (
            isinstance(prefs, dict) and all(isinstance(v, bool) for v in prefs.values()))):
        return False
    state = consent.effective_state(rq.site, rq.source, analytics, rq.gpc, prefs)
    return state == "granted"


def _message_text(raw: Any) -> tuple[str, int]:
    """The message as JSON text without writeKey and context.ip, cut at MAX_MESSAGE_CHARS; and its size."""
    if isinstance(raw, dict) and "writeKey" in raw:
        raw = {k: v for k, v in raw.items() if k != "writeKey"}
    if isinstance(raw, dict) and isinstance(raw.get("context"), dict) and "ip" in raw["context"]:
        raw = {**raw, "context": {k: v for k, v in raw["context"].items() if k != "ip"}}
    try:
        text = orjson.dumps(raw).decode()
    except (TypeError, orjson.JSONEncodeError):  # a lone surrogate, an integer beyond 64 bits, deep nesting
        # orjson writes at most 254 levels, json.dumps ~1,000: deeper values are kept as a
        # placeholder (found in QA: a message ~1,000 levels deep made its whole batch a 500)
        text = json.dumps(_clipped(raw), ensure_ascii=False, default=str, separators=(",", ":")).encode(
            "utf-8", "backslashreplace").decode()
    return text[:MAX_MESSAGE_CHARS], len(text.encode())


CLIP_DEPTH = 64  # deeper than any message's max_depth needs showing


def _clipped(value: Any, depth: int = 0) -> Any:
    """value with everything nested deeper than CLIP_DEPTH replaced by a placeholder string."""
    if isinstance(value, dict):
        return {k: _clipped(v, depth + 1) for k, v in value.items()} if depth < CLIP_DEPTH else "(nested too deep)"
    if isinstance(value, list):
        return [_clipped(v, depth + 1) for v in value] if depth < CLIP_DEPTH else "(nested too deep)"
    return value
