"""Timestamps that are valid ISO text but leave datetime's range once converted to UTC
(found by schemathesis: 0001-01-01T00:04:00+04:00 raised OverflowError, a 500)."""

import httpx
import pytest

from collector.receive.ingest import parse_sent_at
from collector.validate.fast import parse_message
from collector.validate.schema import validate_message

EDGES = ["0001-01-01T00:04:00+04:00", "9999-12-31T23:59:00-05:00"]


@pytest.mark.parametrize("ts", EDGES)
def test_both_validation_paths_reject_the_field(ts):
    msg = {"type": "page", "anonymousId": "a", "timestamp": ts}
    assert validate_message(msg)[1] == "timestamp"
    assert parse_message(msg)[1] == "timestamp"
    assert parse_message({**msg, "sentAt": ts, "timestamp": None})[1] == "sentAt"
    assert parse_sent_at(ts) is None


def test_ingestion_answers_a_rejection_not_a_500(server):
    for ts in EDGES:
        r = httpx.post(server.url + "/v1/batch", auth=(server.site.write_key, ""), timeout=30,
                       json={"sentAt": ts, "batch": [{"type": "page", "anonymousId": "a", "timestamp": ts}]})
        assert r.status_code == 200 and r.json()["rejected"][0]["field"] == "timestamp", r.text
        r = httpx.post(server.url + "/v1/page", auth=(server.site.write_key, ""), timeout=30,
                       json={"anonymousId": "a", "timestamp": ts})
        assert r.status_code == 400, r.text


def test_a_batch_sent_at_reads_as_a_message_sent_at_and_a_bad_one_is_warned_about(server):
    """Found in QA: a batch's sentAt in Unix milliseconds (as a message's own sentAt may be)
    or not a time at all was silently ignored; now it corrects as the message field does, or
    the answer warns that the messages were taken uncorrected (none of them is lost)."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    happened = now - timedelta(hours=3)  # on the sender's clock, which runs 2 hours ahead
    sent_ms = int((now + timedelta(hours=2)).timestamp() * 1000)

    def post(sent_at, mid):
        return httpx.post(server.url + "/v1/batch", auth=(server.site.write_key, ""), timeout=30, json={
            "sentAt": sent_at, "batch": [{"type": "track", "event": "E", "anonymousId": "a", "messageId": mid,
                                          "timestamp": happened.isoformat()}]}).json()

    assert post(sent_ms, "ms") == {"accepted": 1, "rejected": []}
    bad = post("yesterday-ish", "bad")
    assert bad["accepted"] == 1 and bad["warnings"][0]["field"] == "sentAt"
    server.flush()
    stored = dict(server.sql("SELECT message_id, toUnixTimestamp64Milli(timestamp) FROM footpath.events "
                             "WHERE site_id = {s:String}", {"s": server.site.id}))
    received = now.timestamp() * 1000
    # corrected: 5 h before sending, i.e. ~5 h before the receipt; uncorrected: as sent
    assert abs(stored["ms"] - (received - 5 * 3600_000)) < 60_000
    assert stored["bad"] == int(happened.timestamp() * 1000)


def test_a_rejection_caused_by_the_correction_names_sent_at(server):
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    doc = httpx.post(server.url + "/v1/batch", auth=(server.site.write_key, ""), timeout=30, json={
        "sentAt": (now + timedelta(days=500)).isoformat(),
        "batch": [{"type": "track", "event": "E", "anonymousId": "a", "timestamp": now.isoformat()}]}).json()
    assert doc["accepted"] == 0
    assert "days in the past once corrected for the sender's clock (sentAt" in doc["rejected"][0]["reason"]
