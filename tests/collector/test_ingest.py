"""POST /v1/batch and the single-message endpoints, end to end into footpath.events."""

import gzip
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def count(server, where: str = "1") -> int:
    server.flush()
    return server.sql(f"SELECT count() FROM footpath.events WHERE site_id = {{s:String}} AND {where}",
                      {"s": server.site.id})[0][0]


def test_every_message_type_lands(server):
    batch = [
        {"type": "track", "event": "Product Viewed", "anonymousId": "a1", "properties": {"sku": "Y1"}},
        {"type": "page", "name": "Home", "anonymousId": "a1"},
        {"type": "screen", "name": "Cart", "anonymousId": "a1"},
        {"type": "identify", "userId": "u1", "anonymousId": "a1", "traits": {"plan": "pro"}},
        {"type": "group", "groupId": "g1", "userId": "u1"},
        {"type": "alias", "userId": "u1", "previousId": "old1"},
    ]
    r = server.post("/v1/batch", {"batch": batch}, key=server.site.write_key)
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 6, "rejected": []}
    server.flush()
    rows = server.sql("SELECT type, event, name, user_id, group_id, previous_id, traits FROM footpath.events "
                      "WHERE site_id = {s:String} ORDER BY type", {"s": server.site.id})
    assert [r[0] for r in rows] == sorted(m["type"] for m in batch)
    by_type = {r[0]: r for r in rows}
    assert by_type["track"][1] == "Product Viewed"
    assert by_type["alias"][5] == "old1"
    assert by_type["group"][4] == "g1"
    assert orjson.loads(by_type["identify"][6]) == {"plan": "pro"}


@pytest.mark.parametrize("kind,body", [
    ("track", {"event": "Signed Up", "userId": "u9"}),
    ("page", {"name": "Pricing", "anonymousId": "a9"}),
    ("identify", {"userId": "u9", "traits": {"email": "u9@example.com"}}),
    ("group", {"groupId": "acme", "userId": "u9"}),
    ("alias", {"userId": "u9", "previousId": "a9"}),
    ("screen", {"name": "Settings", "userId": "u9"}),
])
def test_single_message_endpoints(server, kind, body):
    r = server.post(f"/v1/{kind}", body, key=server.site.write_key)
    assert r.status_code == 200, r.text
    assert count(server, f"type = '{kind}'") == 1


def test_single_endpoint_rejects_with_400_and_the_field(server):
    r = server.post("/v1/track", {"userId": "u1"}, key=server.site.write_key)
    assert r.status_code == 400
    assert r.json()["rejected"] == [{"index": 0, "field": "event",
                                     "reason": "track messages need a non-empty event name"}]


def test_a_type_endpoint_takes_its_own_type_only(server):
    """Found in QA: /v1/track with "type": "page" was stored as a page (keeping its event), and
    /v1/page with "type": "track" as a track.  The endpoint names the call (Segment); a body
    that says otherwise is a mix-up, answered as such; the same type, or none, is fine."""
    before = count(server, "1")
    for path, body in (("/v1/track", {"type": "page", "event": "E", "userId": "u1"}),
                       ("/v1/p", {"type": "track", "event": "E", "userId": "u1"})):
        r = server.post(path, body, key=server.site.write_key)
        assert r.status_code == 400 and "this endpoint takes" in r.json()["error"], r.text
    assert server.post("/v1/t", {"type": "track", "event": "E", "userId": "u1"}, key=server.site.write_key
                       ).status_code == 200
    assert count(server, "1") == before + 1


def test_a_bad_message_never_sinks_its_batch(server):
    batch = [
        {"type": "track", "event": "Good 1", "anonymousId": "a"},
        {"type": "track", "anonymousId": "a"},
        "not an object",
        {"type": "track", "event": "Bad time", "anonymousId": "a", "timestamp": "not a date"},
        {"type": "track", "event": "Good 2", "anonymousId": "a", "properties": {"x": "y" * 9000}},
        {"type": "track", "event": "Good 3", "anonymousId": "a"},
    ]
    r = server.post("/v1/batch", {"batch": batch}, key=server.site.write_key)
    assert r.status_code == 200
    doc = r.json()
    assert doc["accepted"] == 2
    assert [(x["index"], x["field"]) for x in doc["rejected"]] == [
        (1, "event"), (2, ""), (3, "timestamp"), (4, "properties.x")]
    server.flush()
    events = sorted(r[0] for r in server.sql("SELECT event FROM footpath.events WHERE site_id = {s:String}",
                                              {"s": server.site.id}))
    assert events == ["Good 1", "Good 3"]


def test_not_a_batch_is_400(server):
    for body in ({"messages": []}, [1, 2], {"batch": "x"}):
        r = server.post("/v1/batch", body, key=server.site.write_key)
        assert r.status_code == 400
        assert "batch" in r.json()["error"] or "object" in r.json()["error"]
    r = httpx.post(server.url + "/v1/batch", content=b"{not json", auth=(server.site.write_key, ""),
                   headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]


def test_size_limits_are_413_and_per_message_limit_is_a_rejection(server):
    big = {"batch": [{"type": "track", "event": "x", "anonymousId": "a", "properties": {"p": "y" * 8000}}] * 70}
    r = server.post("/v1/batch", big, key=server.site.write_key)
    assert r.status_code == 413
    one_big = {"type": "track", "event": "x", "anonymousId": "a",
               "properties": {f"k{i}": "z" * 8000 for i in range(5)}}
    r = server.post("/v1/batch", {"batch": [one_big, {"type": "page", "anonymousId": "a"}]},
                    key=server.site.write_key)
    assert r.status_code == 200
    assert r.json()["accepted"] == 1
    assert "larger than 32768 bytes" in r.json()["rejected"][0]["reason"]


def test_nesting_keys_and_depth_are_bounded(server):
    deep: dict = {}
    cur = deep
    for _ in range(20):
        cur["d"] = {}
        cur = cur["d"]
    msgs = [{"type": "track", "event": "deep", "anonymousId": "a", "properties": deep},
            {"type": "track", "event": "wide", "anonymousId": "a", "properties": {str(i): i for i in range(1000)}},
            {"type": "track", "event": "fine", "anonymousId": "a"}]
    r = server.post("/v1/batch", {"batch": msgs}, key=server.site.write_key)
    assert r.status_code == 200
    doc = r.json()
    assert doc["accepted"] == 1
    assert "nested deeper" in doc["rejected"][0]["reason"]
    assert "more than 300 keys" in doc["rejected"][1]["reason"]


def test_message_id_generated_as_uuid7_when_absent(server):
    server.post("/v1/batch", {"batch": [{"type": "page", "anonymousId": "a"}]}, key=server.site.write_key)
    server.flush()
    (mid,), = server.sql("SELECT message_id FROM footpath.events WHERE site_id = {s:String}", {"s": server.site.id})
    assert len(mid) == 36 and mid[14] == "7" and mid[19] in "89ab"
    # its timestamp prefix is now, in ms
    ms = int(mid.replace("-", "")[:12], 16)
    assert abs(ms / 1000 - datetime.now(UTC).timestamp()) < 60


def test_idempotent_resend_stores_each_message_once(server):
    batch = [{"type": "track", "event": f"E{i}", "anonymousId": "a", "messageId": f"m-{i}"} for i in range(5)]
    for _ in range(3):
        r = server.post("/v1/batch", {"batch": batch}, key=server.site.write_key)
        assert r.json()["accepted"] == 5
    r = server.post("/v1/batch", {"batch": batch[:2] + [{"type": "page", "anonymousId": "a", "messageId": "m-new"}]},
                    key=server.site.write_key)
    assert r.json()["dropped"] == {"duplicate": 2}
    assert count(server) == 6


def test_clock_skew_is_corrected_from_sent_at(server):
    now = datetime.now(UTC)
    client_clock = now + timedelta(hours=3)  # the sender's clock is 3 h fast
    event_time = client_clock - timedelta(seconds=30)
    r = server.post("/v1/batch", {"sentAt": iso(client_clock), "batch": [
        {"type": "track", "event": "skewed", "anonymousId": "a", "timestamp": iso(event_time)}]},
        key=server.site.write_key)
    assert r.json()["accepted"] == 1
    server.flush()
    (ts, received, original), = server.sql(
        "SELECT timestamp, received_at, original_timestamp FROM footpath.events WHERE site_id = {s:String}",
        {"s": server.site.id})
    ts, received = datetime.fromisoformat(ts), datetime.fromisoformat(received)
    assert abs((received - ts).total_seconds() - 30) < 0.01
    assert abs((received - now).total_seconds()) < 5
    assert datetime.fromisoformat(original) == datetime.fromisoformat(iso(event_time))


def test_clock_correction_computes_with_the_stored_received_at(server):
    # sentAt - timestamp = 30.0004 s: a sub-millisecond skew.  The stored timestamp must be
    # the stored received_at minus that skew, cut to the millisecond, for every request;
    # a correction computed from an unstored microsecond clock is off by 1 ms for some.
    skew = timedelta(seconds=30, microseconds=400)
    for i in range(12):
        client_clock = datetime.now(UTC) + timedelta(hours=1)
        r = server.post("/v1/batch", {"sentAt": client_clock.isoformat(), "batch": [
            {"type": "track", "event": "skewed", "anonymousId": f"a{i}", "messageId": f"skew-{i}",
             "timestamp": (client_clock - skew).isoformat()}]}, key=server.site.write_key)
        assert r.json()["accepted"] == 1
    server.flush()
    rows = server.sql("SELECT timestamp, received_at FROM footpath.events WHERE site_id = {s:String}",
                      {"s": server.site.id})
    assert len(rows) == 12
    for ts, received in rows:
        ts, received = datetime.fromisoformat(ts), datetime.fromisoformat(received)
        corrected = received - skew
        assert ts == corrected.replace(microsecond=corrected.microsecond // 1000 * 1000), (ts, received)


def test_absurd_timestamps_are_rejected(server):
    now = datetime.now(UTC)
    batch = [{"type": "track", "event": "future", "anonymousId": "a", "timestamp": iso(now + timedelta(days=30))},
             {"type": "track", "event": "ancient", "anonymousId": "a", "timestamp": "1970-01-02T00:00:00Z"},
             {"type": "track", "event": "ok", "anonymousId": "a", "timestamp": iso(now - timedelta(days=3))}]
    doc = server.post("/v1/batch", {"batch": batch}, key=server.site.write_key).json()
    assert doc["accepted"] == 1
    assert [x["field"] for x in doc["rejected"]] == ["timestamp", "timestamp"]


def test_enrichment_fields_are_filled(server):
    msg = {"type": "page", "anonymousId": "a", "context": {
        "ip": "81.2.69.142", "userAgent": UA,
        "page": {"url": "https://shop.example/yoga?utm_source=newsletter&utm_medium=email&utm_campaign=bf&gclid=G1",
                 "referrer": "https://www.google.com/"}}}
    assert server.post("/v1/batch", {"batch": [msg]}, key=server.site.write_key).json()["accepted"] == 1
    server.flush()
    row = server.sql("SELECT country_code, city, browser, os, device_type, is_bot, ip, utm_source, utm_medium, "
                     "utm_campaign, click_id, referrer_host, referrer_class, path FROM footpath.events "
                     "WHERE site_id = {s:String}", {"s": server.site.id})[0]
    assert row == ["GB", "London", "Chrome", "Windows", "desktop", False, "81.2.69.0", "newsletter", "email",
                   "bf", "G1", "www.google.com", "email", "/yoga"]


def test_gzip_bodies_as_segment_libraries_send_them(server):
    body = gzip.compress(orjson.dumps({"batch": [{"type": "track", "event": "z", "userId": "u"}]}))
    r = httpx.post(server.url + "/v1/batch", content=body, auth=(server.site.write_key, ""),
                   headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert r.json()["accepted"] == 1
    bomb = gzip.compress(b"[" + b" " * 5_000_000 + b"]")
    r = httpx.post(server.url + "/v1/batch", content=bomb, auth=(server.site.write_key, ""),
                   headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert r.status_code == 413


def test_write_key_in_body_as_segment_libraries_send_it(server):
    r = httpx.post(server.url + "/v1/batch", json={"writeKey": server.site.write_key,
                                                   "batch": [{"type": "track", "event": "k", "userId": "u"}]})
    assert r.status_code == 200 and r.json()["accepted"] == 1


def test_an_authorization_header_without_a_readable_key_is_named(server):
    """Found in QA: a Bearer header with the write key was answered "no key", as if none was sent."""
    body = {"batch": [{"type": "track", "event": "k", "userId": "u"}]}
    for header, words in ((f"Bearer {server.site.write_key}", "the Bearer scheme is not taken here"),
                          ("Basic !!!", "not base64")):
        r = httpx.post(server.url + "/v1/batch", json=body, headers={"authorization": header})
        assert r.status_code == 401 and words in r.json()["error"], r.text


def test_keys_and_origins(server):
    msg = {"batch": [{"type": "page", "anonymousId": "a"}]}
    assert server.post("/v1/batch", msg).status_code == 401
    assert server.post("/v1/batch", msg, key="sk_wrong_key_123").status_code == 401
    # public key: only from the site's origins, as text/plain (sendBeacon)
    body = orjson.dumps({**msg, "writeKey": server.site.public_key})
    ok = httpx.post(server.url + "/v1/batch", content=body, headers={
        "content-type": "text/plain;charset=UTF-8", "origin": "https://shop.example", "user-agent": UA})
    assert ok.status_code == 200 and ok.json()["accepted"] == 1
    assert ok.headers["access-control-allow-origin"] == "https://shop.example"
    bad = httpx.post(server.url + "/v1/batch", content=body, headers={
        "content-type": "text/plain", "origin": "https://evil.example"})
    assert bad.status_code == 403
    none = httpx.post(server.url + "/v1/batch", content=body, headers={"content-type": "text/plain"})
    assert none.status_code == 403


def test_browser_keys_cannot_alias_or_set_the_ip(server):
    body = orjson.dumps({"writeKey": server.site.public_key, "batch": [
        {"type": "alias", "userId": "u2", "previousId": "u1"},
        {"type": "page", "anonymousId": "a", "context": {"ip": "81.2.69.142"}},
        {"type": "page", "anonymousId": "a"}]})
    r = httpx.post(server.url + "/v1/batch", content=body,
                   headers={"content-type": "text/plain", "origin": "https://shop.example"})
    doc = r.json()
    assert doc["accepted"] == 1
    assert [(x["index"], x["field"]) for x in doc["rejected"]] == [(0, "type"), (1, "context.ip")]


def test_a_server_ip_that_is_no_address_is_rejected_by_name(server):
    r = httpx.post(server.url + "/v1/batch", auth=(server.site.write_key, ""), json={"batch": [
        {"type": "track", "event": "E", "userId": "u", "context": {"ip": "81.2.69.142\u0000"}},
        {"type": "track", "event": "E", "userId": "u", "context": {"ip": "not-an-ip"}},
        {"type": "track", "event": "E", "userId": "u", "context": {"ip": "2001:db8::1"}}]})
    doc = r.json()
    assert r.status_code == 200 and doc["accepted"] == 1
    assert [(x["index"], x["field"], x["reason"]) for x in doc["rejected"]] == [
        (0, "context.ip", "not an IPv4 or IPv6 address"), (1, "context.ip", "not an IPv4 or IPv6 address")]


def test_preflight_answers_only_configured_origins(server):
    ok = httpx.options(server.url + "/v1/batch", headers={"origin": "https://shop.example",
                                                          "access-control-request-method": "POST"})
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == "https://shop.example"
    bad = httpx.options(server.url + "/v1/batch", headers={"origin": "https://evil.example"})
    assert bad.status_code == 403 and "access-control-allow-origin" not in bad.headers


def test_wrong_content_type_and_empty_body(server):
    r = httpx.post(server.url + "/v1/batch", content=b"a=b", auth=(server.site.write_key, ""),
                   headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    r = httpx.post(server.url + "/v1/batch", content=b"", auth=(server.site.write_key, ""),
                   headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "empty body"


def test_lines_within_two_seconds(server):
    import time

    t = time.monotonic()
    server.post("/v1/batch", {"batch": [{"type": "page", "anonymousId": "fast"}]}, key=server.site.write_key)
    while time.monotonic() - t < 2:
        rows = server.sql("SELECT count() FROM footpath.events WHERE site_id = {s:String}", {"s": server.site.id})
        if rows[0][0] == 1:
            break
        time.sleep(0.05)
    assert rows[0][0] == 1


def _metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_ingestion_counts_reach_metrics(server):
    before = httpx.get(server.url + "/metrics", timeout=10).text
    batch = [{"type": "track", "event": "E", "anonymousId": "m1", "messageId": f"met-{i}"} for i in range(17)]
    batch += [{"type": "track", "anonymousId": "m1"}]  # no event name: rejected
    batch += [dict(batch[0])]  # a re-send within the request: dropped as a duplicate
    for _ in range(9):  # more requests than the step timer's sampling interval
        r = server.post("/v1/batch", {"batch": batch}, key=server.site.write_key)
        assert r.status_code == 200, r.text
    after = httpx.get(server.url + "/metrics", timeout=10).text

    def delta(name: str, **labels: str) -> float:
        return _metric(after, name, **labels) - _metric(before, name, **labels)

    assert delta("footpath_messages_received_total", source="server") == 9 * 19
    assert delta("footpath_messages_accepted_total", site=server.site.id) == 17 + 1 + 8 * 18
    assert delta("footpath_messages_rejected_total", field="event") == 9
    assert delta("footpath_messages_dropped_total", reason="duplicate") == 1 + 8 * 18
    assert delta("footpath_step_seconds_total", step="schema") > 0  # at least one request was timed


def test_an_unexpected_error_is_answered_500_with_retry_after(server, monkeypatch, caplog):
    from collector import pipeline

    def broken(*a, **kw):
        raise RuntimeError("a bug")

    monkeypatch.setattr(pipeline, "run", broken)
    r = server.post("/v1/batch", {"batch": [{"type": "track", "event": "E", "anonymousId": "x"}]},
                    key=server.site.write_key)
    assert r.status_code == 500
    assert r.json() == {"error": "internal error, retry later"}
    assert r.headers["retry-after"] == "5"
    assert "ingestion request failed" in caplog.text


def _failing_disk(*a, **kw):
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("fsync", ["off", "always"])
def test_a_failing_buffer_write_is_answered_503_and_the_ids_can_be_sent_again(server_factory, monkeypatch, fsync):
    server = server_factory(fsync=fsync)
    wal = server.collector.wal
    msg = {"type": "track", "event": "E", "anonymousId": "x", "messageId": f"m-{fsync}"}
    # under fsync = always the write lands and the fsync fails; otherwise the write fails
    monkeypatch.setattr(wal, "sync" if fsync == "always" else "append_nowait", _failing_disk)
    r = server.post("/v1/batch", {"batch": [msg]}, key=server.site.write_key)
    assert r.status_code == 503
    assert r.json() == {"error": "buffer unavailable, retry later"}
    assert r.headers["retry-after"] == "5"
    monkeypatch.undo()
    # the message id was forgotten: the client's retry is accepted, not dropped as a duplicate
    r = server.post("/v1/batch", {"batch": [msg]}, key=server.site.write_key)
    assert r.status_code == 200
    assert r.json() == {"accepted": 1, "rejected": []}


def test_rejections_count_under_a_closed_set_of_field_labels(server):
    """Found in QA: the rejected counter took the rejected field's first part as its label,
    and a field can be any key a sender chooses (a top-level key holding a lone surrogate):
    each made a new time series, 200,000 of them in two seconds with a public key."""
    before = httpx.get(server.url + "/metrics", timeout=10).text
    body = ('{"batch": [' + ",".join(
        f'{{"type": "track", "anonymousId": "x", "event": "e", "k{i}\\ud800": 1}}' for i in range(50))
        + ', {"type": "track", "anonymousId": "x", "event": "e", "properties": {"p\\ud800": 1}}]}')
    r = httpx.post(server.url + "/v1/batch", content=body, auth=(server.site.write_key, ""),
                   headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 200 and len(r.json()["rejected"]) == 51, r.text
    after = httpx.get(server.url + "/metrics", timeout=10).text
    assert _metric(after, "footpath_messages_rejected_total", field="(other)") - \
        _metric(before, "footpath_messages_rejected_total", field="(other)") == 50
    assert _metric(after, "footpath_messages_rejected_total", field="properties") - \
        _metric(before, "footpath_messages_rejected_total", field="properties") == 1
    assert "\\ud800" not in after and "k7" not in after
