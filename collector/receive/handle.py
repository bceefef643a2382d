"""One ingestion request, everything but the awaits: headers -> refusals -> parse -> auth ->
rate limit -> pipeline -> buffer append -> counts -> the answer's document.

Synchronous on purpose, and compiled with the hot path (collector/_compiled.py): a single
message's request spends as much time here as in its pipeline, and compiled coroutines
cost more than CPython's own, so collector/receive/ingest.py keeps the three awaits
(reading the body, the buffer's fsync under `fsync = always`, sending the answer) and
calls in here for the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from collector import pipeline
from collector.enrich.clientip import client_ip
from collector.ops import metrics
from collector.receive.auth import AuthError, authenticate, request_origin
from collector.receive.body import BodyError, check_headers, decode_body, parse_json
from collector.receive.ratelimit import RateLimiter
from collector.validate.schema import DATETIME as _DATETIME
from collector.validate.schema import Message as _Message
from collector.validate.schema import utc as _utc

if TYPE_CHECKING:
    from collector.service import Collector

log = logging.getLogger("footpath.http")
RETRY_AFTER = "5"
# path -> message type forced on a single-message endpoint (None: a batch)
# the only request headers ingestion reads (names as ASGI gives them: lower-case bytes)
_WANTED = {h.encode(): h for h in ("origin", "referer", "authorization", "content-type", "content-length",
                                     "content-encoding", "user-agent", "sec-gpc", "x-forwarded-for")}

Reply = tuple[int, Any, dict[str, str]]  # status, JSON document, extra headers
# One request in TIME_EVERY is timed step by step (footpath_step_seconds, weighted up):
# twelve clock reads and sums per message cost ~3 % of a single-message request.
TIME_EVERY = 8


def cors_headers(origin: str | None) -> dict[str, str]:
    if not origin:
        return {}
    # Expose Retry-After so a tag on another origin can honour it.
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin", "Access-Control-Expose-Headers": "Retry-After"}


def refused(status: int, reason: str, headers: dict[str, str] | None = None) -> Reply:
    metrics.count(metrics.REQUESTS_REFUSED, str(status), 1)
    return status, {"error": reason}, headers or {}


_SENT_AT_WARNING = [{"field": "sentAt", "reason": "not a timestamp (ISO 8601, or Unix seconds or milliseconds): "
                                                  "the messages were taken without correcting for the sender's clock"}]


def parse_sent_at(v: Any) -> datetime | None:
    """A batch's sentAt read as a message's own sentAt is (schema.py: ISO 8601 or a Unix
    time, a zone-less time as UTC); None when it is none of those (the caller warns)."""
    if isinstance(v, str):
        try:
            ts = datetime.fromisoformat(v)
            return ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
        except (ValueError, OverflowError):  # not ISO, or before year 1 / after 9999 in UTC
            pass
    try:
        return _utc(_DATETIME.validate_python(v))
    except ValueError:  # pydantic's ValidationError is one
        return None


def pick_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The headers ingestion reads, from ASGI's raw list (the first of repeated ones, as
    Starlette's Headers.get)."""
    headers: dict[str, str] = {}
    for k, v in raw:
        name = _WANTED.get(k)
        if name is not None and name not in headers:
            headers[name] = v.decode("latin-1")
    return headers


def query_key(qs: bytes) -> str | None:
    """`?key=` (a write or public key in the URL, for senders that cannot set headers)."""
    return parse_qs(qs.decode("latin-1")).get("key", [None])[0] if b"key=" in qs else None


def with_batch_context(messages: list[Any], shared: dict[str, Any]) -> list[Any]:
    """A batch's own `context` (Segment's batch call; its Java and Go libraries send their
    library there) under each message's: a key the message sets wins.  A message whose context is
    not an object is left as it is, for validation to reject by name."""
    out = []
    for m in messages:
        if type(m) is dict:
            c = m.get("context")
            if c is None:
                m = {**m, "context": shared}
            elif type(c) is dict:
                m = {**m, "context": {**shared, **c}}
        out.append(m)
    return out


class Pending:
    """A request whose records are appended, waiting for the buffer's fsync before its
    answer (`fsync = always`): `Ingest.finish` or `Ingest.failed` then makes the answer."""

    __slots__ = ("seq", "site_id", "out", "stats", "single", "cors", "warnings")

    def __init__(self, seq: int, site_id: str, out: pipeline.Outcome, stats: Any, single: bool,
                 cors: dict[str, str], warnings: list[dict[str, str]] | None = None):
        self.warnings = warnings
        self.seq = seq
        self.site_id = site_id
        self.out = out
        self.stats = stats
        self.single = single
        self.cors = cors


class Ingest:
    """Everything about one ingestion request but the HTTP framework and the awaits."""

    def __init__(self, c: Collector):
        self.c = c
        self.s = c.settings
        self.proxies = c.settings.proxy_networks
        self.limiter = RateLimiter()
        self._requests = 0

    def precheck(self, headers: Mapping[str, str]) -> tuple[str | None, Reply | None]:
        """(CORS origin to answer, or None; a refusal before the body is read, or None)."""
        origin = request_origin(headers.get("origin"), None)
        if origin not in self.c.keyring.any_origins:
            origin = None  # never reflect an origin no site lists
        if self.c.wal.disk_bytes() >= self.c.wal.max_bytes:
            return origin, refused(503, "buffer full, retry later", {"Retry-After": RETRY_AFTER,
                                                                     **cors_headers(origin)})
        try:
            check_headers(headers, self.s.max_batch_bytes)
        except BodyError as e:
            return origin, refused(e.status, e.reason, cors_headers(origin))
        return origin, None

    def handle(self, kind: str | None, headers: Mapping[str, str], origin: str | None, body: bytes,
               peer_host: str, key_in_query: str | None) -> Reply | Pending:
        """The answer, or a Pending whose records wait for the buffer's fsync."""
        try:
            body = decode_body(headers, body, self.s.max_batch_bytes)
            doc, strict = parse_json(body)
        except BodyError as e:
            return refused(e.status, e.reason, cors_headers(origin))
        if not isinstance(doc, dict):
            return refused(400, "body must be a JSON object", cors_headers(origin))
        if kind is None:
            messages = doc.get("batch")
            if not isinstance(messages, list):
                return refused(400, "body must be {\"batch\": [...]}: field 'batch' missing or not an array",
                               cors_headers(origin))
            shared = doc.get("context")
            if shared is not None:
                if not isinstance(shared, dict):
                    return refused(400, "field 'context' of the batch must be a JSON object (it is every "
                                        "message's context)", cors_headers(origin))
                if shared:
                    messages = with_batch_context(messages, shared)
        elif doc.get("type") in (None, kind):
            messages = [{**doc, "type": kind}]
        else:  # Segment's endpoint names the call: a body that says otherwise is a sender's mix-up
            return refused(400, f"field 'type' is {str(doc.get('type'))[:40]!r}, but this endpoint takes {kind} "
                                f"messages: leave type out, or post to /v1/batch", cors_headers(origin))
        body_key = doc.get("writeKey")
        try:
            principal = authenticate(self.c.keyring, headers.get("authorization"),
                                     body_key if isinstance(body_key, str) else None, key_in_query,
                                     headers.get("origin"), headers.get("referer"))
        except AuthError as e:
            return refused(e.status, e.reason, cors_headers(origin))
        cors = cors_headers(origin) if principal.source == "browser" else {}
        peer = client_ip(peer_host, headers.get("x-forwarded-for"), self.proxies)
        site = principal.site
        wait = self.limiter.check(site.id, site.rate_limit_events, peer, site.rate_limit_client, len(messages))
        if wait:
            return refused(429, "rate limit exceeded, retry later", {"Retry-After": str(wait), **cors})
        received_at, received_text = pipeline.received_now()
        sent_raw = doc.get("sentAt")
        sent_at = parse_sent_at(sent_raw) if sent_raw is not None else None
        warnings = _SENT_AT_WARNING if sent_raw is not None and sent_at is None else None
        rq = pipeline.RequestContext(
            site, principal.source, received_at, peer, headers.get("user-agent", ""),
            headers.get("sec-gpc", "").strip() == "1", sent_at,
            len(body) <= self.s.max_message_bytes, strict, received_text)
        metrics.count(metrics.RECEIVED, principal.source, len(messages))
        self._requests += 1
        try:
            out = pipeline.run(rq, self.c.services, messages, not self._requests % TIME_EVERY)
        except BaseException:
            # the request is answered 500 and will be sent again: the ids it registered must not
            # turn that retry into "duplicate" (found in QA: the good messages were lost)
            for mid in rq.added_ids:
                self.c.services.recent.forget(site.id, mid)
            raise
        records = pipeline.buffer_records(out)
        wal = self.c.wal
        if records:
            try:  # capacity was checked on entry (cached size); a failing disk still gets a 503
                seq = wal.append_nowait(records)
            except OSError as e:
                return self.failed(site.id, out, cors, e)
            if wal.policy == "always":
                return Pending(seq, site.id, out, doc.get("stats"), kind is not None, cors, warnings)
        return self._answer(site.id, out, doc.get("stats"), kind is not None, cors, warnings)

    def finish(self, p: Pending) -> Reply:
        """The answer of a Pending request once its records are on disk."""
        return self._answer(p.site_id, p.out, p.stats, p.single, p.cors, p.warnings)

    def failed(self, site_id: str, out: pipeline.Outcome, cors: dict[str, str], e: OSError) -> Reply:
        """The buffer could not take (or sync) the records: nothing was accepted."""
        for mid in out.added_ids:
            self.c.services.recent.forget(site_id, mid)
        log.error("buffer append failed: %s", e)
        return refused(503, "buffer unavailable, retry later", {"Retry-After": RETRY_AFTER, **cors})

    @staticmethod
    def _answer(site_id: str, out: pipeline.Outcome, stats: Any, single: bool, cors: dict[str, str],
                warnings: list[dict[str, str]] | None = None) -> Reply:
        metrics.count(metrics.ACCEPTED, site_id, out.accepted)
        for r in out.rejected:
            metrics.count(metrics.REJECTED, _field_label(r["field"]), 1)
        for reason, n in out.dropped.items():
            metrics.count(metrics.DROPPED, reason, n)
        if out.step_seconds:  # this request was timed
            metrics.add_step_seconds(out.step_seconds, TIME_EVERY)
        if isinstance(stats, dict):
            for k in ("dropped", "retried", "queued"):
                v = stats.get(k)
                if isinstance(v, int) and not isinstance(v, bool) and 0 < v < 1_000_000:
                    metrics.TAG_LOSS.labels(site_id, k).inc(v)
        result: dict[str, Any] = {"accepted": out.accepted, "rejected": out.rejected}
        if out.dropped:
            result["dropped"] = out.dropped
        if warnings:  # what was wrong but cost no message
            result["warnings"] = warnings
        return (400 if single and out.rejected else 200), result, cors


# The rejected-messages counter's label: a message's own top-level field, from a closed set.
# A rejection may name any key the sender chose (an unknown top-level key with a lone
# surrogate, say): as labels those made a new time series each, and a public key could add
# 200,000 in two seconds, blowing up /metrics and the process (found in QA).
_FIELD_LABELS = frozenset(_Message.model_fields)


def _field_label(field: str) -> str:
    top = field.split(".")[0].split("[")[0]
    return top if top in _FIELD_LABELS else ("(message)" if not top else "(other)")
