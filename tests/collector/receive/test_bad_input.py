"""Every kind of bad input gets a clear answer; valid messages next to invalid ones are kept.
Property-based tests drive the parser and the validator with arbitrary JSON."""

import json
import socket
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector import pipeline
from collector.enrich.geo import GeoIP
from collector.enrich.useragent import UAClassifier
from collector.receive.body import BodyError, parse_json
from collector.sites import Site
from collector.validate.dedup import RecentIds
from collector.validate.limits import Limits

GOOD = {"type": "track", "event": "ok", "anonymousId": "a"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30)
message_like = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["track", "page", "identify", "alias", "group", "screen", "x"]) | json_values,
    "event": json_values, "anonymousId": json_values, "userId": json_values, "messageId": json_values,
    "timestamp": json_values | st.datetimes().map(lambda d: d.isoformat()),
    "sentAt": st.datetimes().map(lambda d: d.isoformat()), "properties": json_values,
    "traits": json_values, "context": json_values | st.fixed_dictionaries({}, optional={
        "page": json_values, "consent": json_values, "seq": json_values, "ip": json_values})})

SERVICES = pipeline.Services(Limits(32768, 8, 300, 8192), GeoIP(), UAClassifier(), RecentIds(10_000), 400, 86400)


def _ctx(strict=False):
    return pipeline.RequestContext(Site(id="s", public_key="pk_sss1"), "server", datetime.now(UTC), "127.0.0.1",
                                   "", False, None, False, strict)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(message_like | json_values, max_size=8))
def test_pipeline_gives_every_message_exactly_one_verdict(messages):
    out = pipeline.run(_ctx(), SERVICES, messages + [dict(GOOD)])
    assert out.accepted + len(out.rejected) == len(messages) + 1
    assert len(out.rows) == out.accepted - sum(out.dropped.values())
    assert out.rows[-1]["event"] == "ok"  # the valid neighbour always survives
    for r in out.rejected:
        assert isinstance(r["reason"], str) and r["reason"]
    for row in out.rows:
        orjson.loads(pipeline.encode_rows([row]))  # every stored row is valid JSON


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parser_never_raises_anything_but_a_body_error(data):
    try:
        parse_json(data)
    except BodyError as e:
        assert e.status == 400 and e.reason


@pytest.mark.parametrize("raw,status,words", [
    (b'{"batch": [', 400, "not valid JSON"),
    (b"\xff\xfe{}", 400, "not valid UTF-8"),
    (b"hello", 400, "not valid JSON"),
    (b'{"batch": [{"type": "track", "event": "x", "anonymousId": "a", "properties": {"n": NaN}}]}', 400,
     "not valid JSON"),
    (b'{"batch": [{"type": "track", "event": "x", "anonymousId": "a", "properties": {"n": Infinity}}]}', 400,
     "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, 400, "JSON object"),  # read (too deep values cut), not an object
    (b"   ", 400, "empty body"),
    (b'"just a string"', 400, "JSON object"),
])
def test_malformed_bodies(server, raw, status, words):
    r = httpx.post(server.url + "/v1/batch", content=raw, auth=(server.site.write_key, ""),
                   headers={"content-type": "application/json"})
    assert r.status_code == status
    assert words in r.json()["error"]


def test_lone_surrogate_costs_only_its_own_message(server):
    raw = ('{"batch": [{"type": "track", "event": "bad \\ud800", "anonymousId": "a"}, '
           + json.dumps(GOOD) + "]}").encode()
    r = httpx.post(server.url + "/v1/batch", content=raw, auth=(server.site.write_key, ""),
                   headers={"content-type": "application/json"})
    assert r.status_code == 200
    assert r.json()["accepted"] == 1 and r.json()["rejected"][0]["index"] == 0
    assert "surrogate" in r.json()["rejected"][0]["reason"]
    # kept for its sender with the surrogate as the escape it came as (storage is UTF-8)
    server.flush()
    kept = server.sql("SELECT event, message FROM footpath.rejected_messages WHERE site_id = {s:String}",
                      {"s": server.site.id})
    assert kept == [["bad \\ud800", '{"type":"track","event":"bad \\ud800","anonymousId":"a"}']]


def test_a_lone_surrogate_or_an_infinite_number_costs_only_its_own_message(server):
    """Found in QA: a body orjson refuses goes to the stdlib parser, which read integers past
    64 bits exactly (then refused as a "lone surrogate" in a good message) and 1e400 as
    infinity (stored as null).  Numbers now read as orjson reads them; each bad value is
    named."""
    raw = (b'{"batch": ['
           b'{"type": "track", "event": "big", "anonymousId": "a", "properties": {"n": 18446744073709551616, '
           b'"m": -9223372036854775809, "k": 18446744073709551615}},'
           b'{"type": "track", "event": "s", "anonymousId": "a", "properties": {"x": ["ok", "bad \\ud800"]}},'
           b'{"type": "track", "event": "inf", "anonymousId": "a", "properties": {"e": 1e400}},'
           b'{"type": "track", "event": "key", "anonymousId": "a", "properties": {"\\udc00": 1}}]}')
    r = httpx.post(server.url + "/v1/batch", content=raw, auth=(server.site.write_key, ""),
                   headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["accepted"] == 1
    assert [(x["index"], x["field"]) for x in doc["rejected"]] == [
        (1, "properties.x.1"), (2, "properties.e"), (3, r"properties.\udc00")]  # the escape, as text
    assert "lone surrogate" in doc["rejected"][0]["reason"] and "64-bit float" in doc["rejected"][1]["reason"]
    server.flush()
    props = server.sql("SELECT properties FROM footpath.events WHERE site_id = {s:String} AND event = 'big'",
                       {"s": server.site.id})[0][0]
    # as orjson reads them alone: floats beyond 64 bits, the largest UInt64 exact
    assert orjson.loads(props) == {"n": float(1 << 64), "m": float(-(1 << 63) - 1), "k": (1 << 64) - 1}


def test_tens_of_thousands_of_keys_and_huge_bodies(server):
    wide = {"batch": [{**GOOD, "properties": {f"k{i}": 1 for i in range(40_000)}}]}
    r = httpx.post(server.url + "/v1/batch", content=orjson.dumps(wide), auth=(server.site.write_key, ""),
                   headers={"content-type": "application/json"})
    assert r.status_code == 200  # 440 KB: under the body limit, so a per-message verdict
    assert "larger than 32768 bytes" in r.json()["rejected"][0]["reason"]
    r = httpx.post(server.url + "/v1/batch", content=b"x" * 10_000_000, auth=(server.site.write_key, ""),
                   headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_wrong_types_in_every_field(server):
    fields = ["type", "event", "anonymousId", "userId", "messageId", "timestamp", "sentAt", "properties", "traits",
              "context", "name", "groupId", "previousId"]
    batch = [{**GOOD, f: ["wrong", 1]} for f in fields] + [GOOD]
    doc = server.post("/v1/batch", {"batch": batch}, key=server.site.write_key).json()
    assert doc["accepted"] == 1
    assert [x["field"] for x in doc["rejected"]] == fields


def test_header_injection_is_refused_by_the_http_layer(server):
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nOrigin: https://shop.example\r\nX-Evil: a\rb\r\n"
                  b"Content-Length: 2\r\n\r\n{}")
        reply = s.recv(200)
    assert reply.startswith(b"HTTP/1.1 400")


def test_response_never_reflects_an_unlisted_origin(server):
    r = httpx.post(server.url + "/v1/batch", headers={"origin": "https://evil.example", "content-type": "text/plain"},
                   content=orjson.dumps({"writeKey": server.site.public_key, "batch": [GOOD]}))
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers


def test_a_message_nested_past_the_parsers_limits_costs_only_itself(server):
    """Found in QA: one message nested ~1,100 levels deep made orjson and the stdlib parser
    both refuse the body, and the whole batch got a 400.  Depth is a per-message limit."""
    deep = "[" * 1100 + "]" * 1100
    body = ('{"batch": [{"type": "track", "event": "Fine", "anonymousId": "d", "messageId": "deep-ok"}, '
            '{"type": "track", "event": "Deep", "anonymousId": "d", "messageId": "deep-bad", '
            '"properties": {"a": ' + deep + ', "s": "[[{ \\" ]]"}}]}')
    r = httpx.post(server.url + "/v1/batch", content=body, auth=(server.site.write_key, ""),
                   headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["accepted"] == 1 and len(out["rejected"]) == 1, out
    assert out["rejected"][0]["index"] == 1 and "deeper" in out["rejected"][0]["reason"], out
    # a body that is not JSON stays a 400
    bad = httpx.post(server.url + "/v1/batch", content='{"batch": [' + "[" * 1100, auth=(server.site.write_key, ""),
                     headers={"Content-Type": "application/json"}, timeout=10)
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]


@pytest.mark.parametrize("levels", [980, 1000, 1020])
def test_a_message_nested_just_under_the_parsers_limit_costs_only_itself_too(server, levels):
    """Found in QA: at ~975-1,022 levels orjson read the body, but keeping the rejected
    message's text (json.dumps) ran out of recursion: the whole batch was a 500."""
    deep = "[" * levels + "1" + "]" * levels
    body = ('{"batch": [{"type": "track", "event": "Fine", "anonymousId": "d", "messageId": "near-ok-' + str(levels)
            + '"}, {"type": "track", "event": "Deep", "anonymousId": "d", "properties": {"x": ' + deep + '}}]}')
    r = httpx.post(server.url + "/v1/batch", content=body, auth=(server.site.write_key, ""),
                   headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1 and r.json()["rejected"][0]["index"] == 1


def test_a_request_that_fails_inside_the_pipeline_forgets_the_ids_it_registered(server, monkeypatch):
    """Found in QA: a 500 from inside the pipeline left the batch's message ids in the
    dedup cache, so the client's retry was answered "duplicate" and the events were lost."""
    real = pipeline.run

    def failing(rq, *a, **k):
        real(rq, *a, **k)  # registers the ids, then a bug
        raise RuntimeError("a bug after the dedup step")

    batch = {"batch": [{"type": "track", "event": "Retry me", "anonymousId": "r", "messageId": "fail-then-ok"}]}
    monkeypatch.setattr(pipeline, "run", failing)
    r = server.post("/v1/batch", batch, key=server.site.write_key)
    assert r.status_code == 500
    monkeypatch.setattr(pipeline, "run", real)
    r = server.post("/v1/batch", batch, key=server.site.write_key)
    assert r.status_code == 200 and r.json() == {"accepted": 1, "rejected": []}, r.text
