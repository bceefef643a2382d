"""POST /v1/batch and /v1/{type}: receive -> pipeline -> buffer -> answer.

The hot path of the collector, so it is served straight from ASGI (`IngestASGI`, which
`CollectorApp` in collector/app.py calls before Starlette's middleware and routing): no
routing table walk, no Request/Headers/Response objects, the handful of headers it reads
picked out of the raw list once.  The routing table lists the same `IngestASGI` as the
endpoint of these paths, so an app reached through routing answers them the same way.
On the benchmark this layer is the difference between ~0.3 and ~0.5 of the bare
framework's rate (BENCHMARKS.md, HTTP).

This module holds only the awaits (the body, the buffer's fsync, the answer); the rest of
a request is synchronous and compiled, in collector/receive/handle.py.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from collector.receive.body import too_large
from collector.receive.handle import (
    RETRY_AFTER,
    Ingest,
    Pending,
    Reply,
    cors_headers,
    parse_sent_at,
    pick_headers,
    query_key,
    refused,
)
from collector.types import INGEST_PATHS

__all__ = ["INGEST_PATHS", "Ingest", "IngestASGI", "cors_headers", "parse_sent_at"]

log = logging.getLogger("footpath.http")


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
        headers = pick_headers(scope["headers"])
        ing = self.ingest
        origin, reply = ing.precheck(headers)
        if reply is not None:
            return reply
        limit = ing.s.max_batch_bytes
        message = await receive()
        if message["type"] == "http.disconnect":
            return None  # the client is gone: nothing was buffered, nobody to answer
        body = message.get("body", b"")
        if message.get("more_body", False):  # a body in several chunks (large or slow senders)
            parts = [body]
            size = len(body)
            while True:
                if size > limit:
                    e = too_large(limit)
                    return refused(e.status, e.reason, cors_headers(origin))
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                chunk = message.get("body", b"")
                size += len(chunk)
                parts.append(chunk)
                if not message.get("more_body", False):
                    break
            body = b"".join(parts)
        if len(body) > limit:
            e = too_large(limit)
            return refused(e.status, e.reason, cors_headers(origin))
        if not ing.c.ids_ready():  # the first seconds after a start (Collector.WARM_GATE_S)
            await ing.c.wait_ids_ready()
        client = scope.get("client")
        result = ing.handle(INGEST_PATHS[scope["path"]], headers, origin, body, client[0] if client else "",
                            query_key(scope.get("query_string", b"")))
        if type(result) is not Pending:
            return result
        try:  # fsync = always: answer once the records are on disk
            await ing.c.wal.wait_synced(result.seq)
        except OSError as e:
            return ing.failed(result.site_id, result.out, result.cors, e)
        return ing.finish(result)


async def _answer(send: Send, status: int, doc: Any, extra: dict[str, str]) -> None:
    payload = orjson.dumps(doc)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
