"""A batch's own `context` (Segment's batch call) is every message's context, under the
message's own keys; /v1/import/ is a batch endpoint.  Segment's Java library needs both: it
posts to /v1/import/ and sends its library only at the batch level (analytics-java,
AnalyticsClient: Batch.create(CONTEXT, messages, writeKey))."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import orjson


def _java_body(server, messages):
    # the body analytics-java's Gson writes: batch, sentAt, context, sequence, writeKey
    return {"batch": messages, "sentAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "context": {"library": {"name": "analytics-java", "version": "3.5.4"}}, "sequence": 1,
            "writeKey": server.site.write_key}


def _java_post(server, body, path="/v1/import/"):
    auth = base64.b64encode(f"{server.site.write_key}:".encode()).decode()
    return httpx.post(server.url + path, content=orjson.dumps(body), timeout=30, headers={
        "Content-Type": "application/json; charset=utf-8", "Authorization": f"Basic {auth}",
        "User-Agent": "analytics-java/3.5.4", "X-Retry-Count": "0"})


def _instant(seconds_ago: float) -> str:
    # java.time.Instant.toString(): up to nine fractional digits
    t = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


def test_analytics_java_batches_are_stored_with_its_library(server):
    msgs = [
        {"type": "track", "messageId": str(uuid.uuid4()), "userId": "j1", "event": "Order Completed",
         "properties": {"total": 30}, "timestamp": _instant(5)},
        {"type": "identify", "messageId": str(uuid.uuid4()), "userId": "j1", "traits": {"plan": "pro"},
         "timestamp": _instant(4), "context": {"locale": "de-DE"}},
        # a message's own key wins over the batch's
        {"type": "track", "messageId": str(uuid.uuid4()), "userId": "j1", "event": "Relayed",
         "timestamp": _instant(3), "context": {"library": {"name": "relay", "version": "1"}}},
    ]
    r = _java_post(server, _java_body(server, msgs))
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 3, "rejected": []}
    assert _java_post(server, _java_body(server, []), "/v1/import").json() == {"accepted": 0, "rejected": []}
    server.flush()
    rows = server.sql("SELECT type, event, library, locale, JSONExtractString(context, 'library', 'name') "
                      "FROM footpath.events WHERE site_id = {s:String} ORDER BY timestamp", {"s": server.site.id})
    assert rows == [["track", "Order Completed", "analytics-java/3.5.4", "", "analytics-java"],
                    ["identify", "", "analytics-java/3.5.4", "de-DE", "analytics-java"],
                    ["track", "Relayed", "relay/1", "", "relay"]]


def test_a_batch_context_that_is_not_an_object_is_named(server):
    body = {"batch": [{"type": "track", "userId": "j", "event": "E"}], "context": ["library"]}
    r = server.post("/v1/batch", body, key=server.site.write_key)
    assert r.status_code == 400
    assert r.json()["error"].startswith("field 'context' of the batch must be a JSON object")


def test_a_message_with_a_broken_context_is_rejected_alone(server):
    body = {"batch": [{"type": "track", "userId": "j", "event": "Bad", "context": "web"},
                      {"type": "track", "userId": "j", "event": "Good"}],
            "context": {"library": {"name": "analytics-java", "version": "3.5.4"}}}
    r = server.post("/v1/batch", body, key=server.site.write_key)
    assert r.json() == {"accepted": 1, "rejected": [
        {"index": 0, "field": "context", "reason": "must be a JSON object, not a string"}]}
