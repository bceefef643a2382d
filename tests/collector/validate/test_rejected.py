"""A rejected message becomes a footpath.rejected_messages row (collector/validate/rejected.py):
what it keeps, what consent withholds, and the per-site budget."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from collector.pipeline import RequestContext
from collector.sites import Site
from collector.validate.rejected import MAX_MESSAGE_CHARS, Keeper

GRANTED = Site("s1", "pk_s1", consent_default="granted")
BAD = {"type": "track", "event": "Bad", "userId": "u1", "anonymousId": "a1", "messageId": "m1",
       "properties": [1], "context": {"ip": "203.0.113.9", "library": {"name": "analytics-node", "version": "3.1.0"}}}


def rq(site: Site = GRANTED, source: str = "server", gpc: bool = False) -> RequestContext:
    return RequestContext(site, source, datetime(2026, 12, 7, 12, 0, tzinfo=UTC), "203.0.113.9", "ua", gpc, None, True)


def test_a_rejection_keeps_its_diagnosis_its_sender_and_the_message_without_the_ip():
    row = Keeper(60).row(rq(), BAD, "properties", "must be a JSON object, not an array")
    sent = orjson.loads(row["message"])
    assert sent == {**BAD, "context": {"library": BAD["context"]["library"]}}  # all but context.ip
    assert row["message_bytes"] == len(row["message"].encode())
    assert {k: row[k] for k in ("site_id", "source", "library", "field", "reason", "type", "event", "message_id",
                                "user_id", "anonymous_id", "redacted")} == {
        "site_id": "s1", "source": "server", "library": "analytics-node/3.1.0", "field": "properties",
        "reason": "must be a JSON object, not an array", "type": "track", "event": "Bad", "message_id": "m1",
        "user_id": "u1", "anonymous_id": "a1", "redacted": 0}
    assert row["received_at"] == "2026-12-07T12:00:00.000+00:00"


def test_the_write_key_in_the_body_is_never_kept():
    """Segment's HTTP API takes the secret write key in the body too (writeKey): a rejected
    message kept with it would hand the key to whoever reads the rejections (found in QA)."""
    row = Keeper(60).row(rq(), {**BAD, "writeKey": "sk_secret"}, "properties", "bad")
    assert "sk_secret" not in row["message"]
    assert orjson.loads(row["message"]) == {**BAD, "context": {"library": BAD["context"]["library"]}}


@pytest.mark.parametrize("ctx,site,source,gpc", [
    ({"consent": {"analytics": "denied"}}, GRANTED, "server", False),
    ({"consent": {"analytics": "pending"}}, GRANTED, "browser", False),
    ({"consent": {"categoryPreferences": {"Analytics": False}}}, GRANTED, "browser", False),
    ({}, GRANTED, "browser", True),  # Sec-GPC, honoured by default
    ({}, Site("s2", "pk_s2", consent_default="pending"), "browser", False),  # no statement, site default
    ({"consent": {"analytics": "yes please"}}, GRANTED, "browser", False),  # the consent itself is damaged
    ({"consent": {"categoryPreferences": {"Analytics": "true"}}}, GRANTED, "browser", False),
])
def test_consent_other_than_granted_withholds_the_text_and_ids(ctx, site, source, gpc):
    msg = {**BAD, "context": {**BAD["context"], **ctx}}
    row = Keeper(60).row(rq(site, source, gpc), msg, "properties", "bad")
    assert row["redacted"] == 1
    assert (row["message"], row["user_id"], row["anonymous_id"]) == ("", "", "")
    # the diagnosis stays
    assert (row["field"], row["type"], row["event"], row["message_id"], row["library"]) == (
        "properties", "track", "Bad", "m1", "analytics-node/3.1.0")
    assert row["message_bytes"] > 0


def test_granted_by_category_or_statement_keeps_the_text():
    for ctx in ({"consent": {"categoryPreferences": {"analytics": True}}}, {"consent": {"analytics": "granted"}}):
        msg = {**BAD, "context": ctx}
        row = Keeper(60).row(rq(Site("s2", "pk_s2", consent_default="denied"), "browser"), msg, "properties", "bad")
        assert row["redacted"] == 0 and orjson.loads(row["message"]) == msg


def test_a_long_message_is_cut_and_its_size_kept():
    msg = {**BAD, "properties": {"blob": "x" * 40_000}, "context": {}}
    row = Keeper(60).row(rq(), msg, "", "too large")
    full = orjson.dumps(msg)
    assert len(row["message"]) == MAX_MESSAGE_CHARS and full.decode().startswith(row["message"])
    assert row["message_bytes"] == len(full)


def test_what_is_not_an_object_is_kept_as_written():
    row = Keeper(60).row(rq(), ["not", "a", "message"], "", "a message must be a JSON object")
    assert row["message"] == '["not","a","message"]'
    assert (row["type"], row["user_id"], row["library"], row["redacted"]) == ("", "", "", 0)
    numeric = Keeper(60).row(rq(), {"type": "track", "userId": 42, "event": 7}, "event", "must be a string")
    assert (numeric["user_id"], numeric["event"]) == ("42", "7")


def test_each_site_keeps_at_most_its_budget_per_minute_then_refills():
    now = [0.0]
    k = Keeper(3, clock=lambda: now[0])
    other = Site("s3", "pk_s3", consent_default="granted")
    kept = [k.row(rq(), BAD, "f", "r") is not None for _ in range(5)]
    assert kept == [True, True, True, False, False]
    assert k.row(rq(other), BAD, "f", "r") is not None  # another site has its own budget
    now[0] = 20.0  # 3 a minute: one more every 20 s
    assert [k.row(rq(), BAD, "f", "r") is not None for _ in range(2)] == [True, False]
    assert Keeper(0).row(rq(), BAD, "f", "r") is None
