"""POST /v1/batch and /v1/{type}: receive -> pipeline -> buffer -> answer.

The hot path of the collector, so it is served straight from ASGI (`IngestASGI`, which
`CollectorApp` in collector/app.py calls before Starlette's middleware and routing): no
routing table walk, no Request/Headers/Response objects, the handful of headers it reads
picked out of the raw list once.  The routing table lists the same `IngestASGI` as the
endpoint of these paths, so an app reached through routing answers them the same way.
On the benchmark this layer is the difference between ~0.3 and ~0.5 of the bare
framework's rate (BENCHMARKS.md, HTTP).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson
from starlette.types import Receive, Scope, Send

from collector import pipeline
from collector.enrich.clientip import client_ip
from collector.ops import metrics
from collector.receive.auth import AuthError, authenticate, request_origin
from collector.receive.body import BodyError, check_headers, decode_body, parse_json, too_large
from collector.receive.ratelimit import RateLimiter
from collector.types import MESSAGE_TYPES

if TYPE_CHECKING:
    from collector.service import Collector

log = logging.getLogger("footpath.http")
RETRY_AFTER = "5"
# path -> message type forced on a single-message endpoint (None: a batch)
INGEST_PATHS: dict[str, str | None] = {"/v1/batch": None, **{f"/v1/{t}": t for t in MESSAGE_TYPES}}
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


def parse_sent_at(v: Any) -> datetime | None:
    if not isinstance(v, str):
        return None
    try:
        ts = datetime.fromisoformat(v)
        return ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # not a time, or before year 1 / after 9999 in UTC
        return None


class Ingest:
    """Everything about one ingestion request but the HTTP framework."""

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

    async def handle(self, kind: str | None, headers: Mapping[str, str], origin: str | None, body: bytes,
                     peer_host: str, query_key: str | None) -> Reply:
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
        else:
            messages = [{**doc, "type": kind} if doc.get("type") in (None, kind) else doc]
        body_key = doc.get("writeKey") if isinstance(doc.get("writeKey"), str) else None
        try:
            principal = authenticate(self.c.keyring, headers.get("authorization"), body_key, query_key,
                                     headers.get("origin"), headers.get("referer"))
        except AuthError as e:
            return refused(e.status, e.reason, cors_headers(origin))
        cors = cors_headers(origin) if principal.source == "browser" else {}
        peer = client_ip(peer_host, headers.get("x-forwarded-for"), self.proxies)
        site = principal.site
        wait = self.limiter.check(site.id, site.rate_limit_events, peer, site.rate_limit_client, len(messages))
        if wait:
            return refused(429, "rate limit exceeded, retry later", {"Retry-After": str(wait), **cors})
        rq = pipeline.RequestContext(
            site=site, source=principal.source, received_at=pipeline.now_utc(), peer_ip=peer,
            header_ua=headers.get("user-agent", ""), gpc=headers.get("sec-gpc", "").strip() == "1",
            batch_sent_at=parse_sent_at(doc.get("sentAt")),
            body_small=len(body) <= self.s.max_message_bytes, strict_strings=strict)
        metrics.count(metrics.RECEIVED, principal.source, len(messages))
        self._requests += 1
        timed = not self._requests % TIME_EVERY
        out = pipeline.run(rq, self.c.services, messages, timed)
        records = pipeline.buffer_records(out)
        if records:
            try:  # capacity was checked on entry (cached size); a failing disk still gets a 503
                await self.c.wal.append(records)
            except OSError as e:
                for mid in out.added_ids:
                    self.c.services.recent.forget(site.id, mid)
                log.error("buffer append failed: %s", e)
                return refused(503, "buffer unavailable, retry later", {"Retry-After": RETRY_AFTER, **cors})
        self._count(site.id, out, doc.get("stats"))
        result: dict[str, Any] = {"accepted": out.accepted, "rejected": out.rejected}
        if out.dropped:
            result["dropped"] = out.dropped
        return (400 if kind is not None and out.rejected else 200), result, cors

    @staticmethod
    def _count(site_id: str, out: pipeline.Outcome, stats: Any) -> None:
        metrics.count(metrics.ACCEPTED, site_id, out.accepted)
        for r in out.rejected:
            metrics.count(metrics.REJECTED, r["field"].split(".")[0] or "(message)", 1)
        for reason, n in out.dropped.items():
            metrics.count(metrics.DROPPED, reason, n)
        metrics.add_step_seconds(out.step_seconds, TIME_EVERY)  # empty unless this request was timed
        if isinstance(stats, dict):
            for k in ("dropped", "retried", "queued"):
                v = stats.get(k)
                if isinstance(v, int) and not isinstance(v, bool) and 0 < v < 1_000_000:
                    metrics.TAG_LOSS.labels(site_id, k).inc(v)


class IngestASGI:
    """Answers POSTs to the ingestion paths straight from ASGI (`CollectorApp` calls it
    before Starlette's middleware stack, so not even ServerErrorMiddleware's send wrapper
    is on the hot path; an unexpected error is logged and answered 500 here instead)."""

    def __init__(self, ingest: Ingest):
        self.ingest = ingest

    @staticmethod
    def wants(scope: Scope) -> bool:
        return scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in INGEST_PATHS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            reply = await self._reply(scope, receive)
        except Exception:  # noqa: BLE001 - a bug must still get an answer the client can retry on
            log.exception("ingestion request failed")
            reply = refused(500, "internal error, retry later", {"Retry-After": RETRY_AFTER})
        if reply is not None:
            await _answer(send, *reply)

    async def _reply(self, scope: Scope, receive: Receive) -> Reply | None:
        """The answer, or None when the client left before sending its body."""
        headers: dict[str, str] = {}
        for k, v in scope["headers"]:
            name = _WANTED.get(k)
            if name is not None and name not in headers:  # the first of repeated headers, as Starlette
                headers[name] = v.decode("latin-1")
        ing = self.ingest
        origin, reply = ing.precheck(headers)
        if reply is None:
            limit = ing.s.max_batch_bytes
            parts: list[bytes] = []
            size = 0
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None  # the client is gone: nothing was buffered, nobody to answer
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    e = too_large(limit)
                    reply = refused(e.status, e.reason, cors_headers(origin))
                    break
                parts.append(chunk)
                more = message.get("more_body", False)
            if reply is None:
                body = parts[0] if len(parts) == 1 else b"".join(parts)
                qs = scope.get("query_string", b"")
                key = parse_qs(qs.decode("latin-1")).get("key", [None])[0] if b"key=" in qs else None
                client = scope.get("client")
                reply = await ing.handle(INGEST_PATHS[scope["path"]], headers, origin, body,
                                         client[0] if client else "", key)
        return reply


async def _answer(send: Send, status: int, doc: Any, extra: dict[str, str]) -> None:
    payload = orjson.dumps(doc)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
