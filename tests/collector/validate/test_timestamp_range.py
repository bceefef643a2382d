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
