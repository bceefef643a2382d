"""Rejected messages are kept for their senders: footpath.rejected_messages (0050), listed by
GET /v1/rejected and `footpath rejected`, summed up in the quality report; the good messages
beside them are stored as ever."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import orjson
from segment.analytics import Client

from collector import cli
from tests.conftest import ADMIN

GOOD = {"type": "track", "userId": "u1", "event": "Good"}
BATCH = [
    GOOD,
    {"type": "track", "userId": "u1", "event": "Bad", "messageId": "m-bad", "properties": [1],
     "context": {"ip": "203.0.113.9"}},
    {"type": "track", "userId": "u2", "event": "Hidden", "messageId": "m-hidden", "context": {"seq": -1, "consent": {
        "analytics": "denied"}}},
    "junk",
    {**GOOD, "event": "Good 2"},
]


def _rejected(server, **params):
    return httpx.get(server.url + "/v1/rejected", params={"site": server.site.id, **params},
                     headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)


def test_rejected_messages_are_kept_beside_the_good_ones(server, capsys, monkeypatch):
    r = server.post("/v1/batch", {"batch": BATCH}, key=server.site.write_key)
    assert r.status_code == 200
    assert [x["index"] for x in r.json()["rejected"]] == [1, 2, 3]
    server.flush()
    assert sorted(e for (e,) in server.sql("SELECT event FROM footpath.events WHERE site_id = {s:String}",
                                           {"s": server.site.id})) == ["Good", "Good 2"]

    got = _rejected(server)
    assert got.status_code == 200, got.text
    by_id = {m["message_id"]: m for m in got.json()["messages"]}
    assert len(got.json()["messages"]) == 3
    bad = by_id["m-bad"]
    assert (bad["field"], bad["reason"], bad["type"], bad["event"], bad["user_id"], bad["redacted"]) == (
        "properties", "must be a JSON object, not an array", "track", "Bad", "u1", 0)
    assert orjson.loads(bad["message"]) == {**BATCH[1], "context": {}}  # without the ip
    hidden = by_id["m-hidden"]
    assert (hidden["field"], hidden["redacted"], hidden["message"], hidden["user_id"]) == ("context.seq", 1, "", "")
    assert by_id[""]["message"] == '"junk"' and by_id[""]["field"] == ""
    # one field, limits, errors
    only = _rejected(server, field="context.seq").json()["messages"]
    assert [m["message_id"] for m in only] == ["m-hidden"]
    assert len(_rejected(server, limit=1).json()["messages"]) == 1
    assert _rejected(server, limit=0).status_code == 400
    assert _rejected(server, **{"from": "yesterday"}).status_code == 400
    assert httpx.get(server.url + "/v1/rejected", params={"site": server.site.id}).status_code == 401
    assert _rejected(server, site="nope").status_code == 404

    # the quality report sums them up per field and type
    q = httpx.get(server.url + "/v1/quality", params={"site": server.site.id},
                  headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60).json()["rejected"]
    assert q["total"] == 3
    assert sorted((f["field"], f["type"], f["count"]) for f in q["fields"]) == [
        ("", "", 1), ("context.seq", "track", 1), ("properties", "track", 1)]

    monkeypatch.setenv("FOOTPATH_ADMIN_TOKEN", ADMIN)
    assert cli.main(["--url", server.url, "rejected", "--site", server.site.id]) == 0
    out = capsys.readouterr().out
    assert "properties: must be a JSON object, not an array" in out and "(withheld: consent)" in out
    assert cli.main(["--url", server.url, "quality", "--site", server.site.id]) == 0
    assert "rejected messages: 3" in capsys.readouterr().out


def test_a_server_library_that_ignores_the_response_still_leaves_a_trace(server):
    # analytics-python reports success for a 200 with rejections; the message is kept here
    errors = []
    client = Client(write_key=server.site.write_key, host=server.url, sync_mode=True,
                    on_error=lambda e, batch: errors.append(e))
    client.track("user-9", "Order Completed", {"revenue": 10}, timestamp=datetime(2001, 1, 1, tzinfo=UTC))
    client.flush()
    assert errors == []
    server.flush()
    (m,) = _rejected(server).json()["messages"]
    assert m["field"] == "timestamp" and "in the past" in m["reason"]
    assert m["library"].startswith("analytics-python/") and m["user_id"] == "user-9"
    assert orjson.loads(m["message"])["event"] == "Order Completed"


def test_the_budget_keeps_a_flood_out_of_storage(server_factory):
    srv = server_factory(rejected_keep_per_minute=5)
    r = srv.post("/v1/batch", {"batch": [{"type": "track", "userId": "u", "event": ""}] * 40},
                 key=srv.site.write_key)
    assert len(r.json()["rejected"]) == 40  # every sender still hears about every one
    srv.flush()
    assert srv.sql("SELECT count() FROM footpath.rejected_messages WHERE site_id = {s:String}",
                   {"s": srv.site.id}) == [[5]]
    metrics = httpx.get(srv.url + "/metrics", timeout=10).text
    assert f'footpath_rejected_not_kept_total{{site="{srv.site.id}"}} 35.0' in metrics
