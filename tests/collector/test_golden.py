"""Golden Segment payloads (tests/fixtures/golden/*.json) run through the whole pipeline
into ClickHouse and are compared, column by column, with hand-written expected rows."""

import json
from datetime import datetime

import httpx
import orjson
import pytest

from tests.conftest import ROOT

GOLDEN = sorted((ROOT / "tests" / "fixtures" / "golden").glob("*.json"))


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_payload(server, path):
    case = json.loads(path.read_text())
    body = dict(case["body"])
    headers = dict(case["headers"])
    if case["source"] == "server":
        r = httpx.post(server.url + "/v1/batch", json=body, auth=(server.site.write_key, ""), headers=headers)
    else:
        body["writeKey"] = server.site.public_key
        r = httpx.post(server.url + "/v1/batch", content=orjson.dumps(body), headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["rejected"] == []
    server.flush()
    for exp in case["expected"]:
        exp = dict(exp)
        skew = exp.pop("skew_seconds", None)
        cols = list(exp) + ["timestamp", "received_at"]
        sel = ", ".join(c for c in cols)
        rows = server.sql(f"SELECT {sel} FROM footpath.events WHERE site_id = {{s:String}} "
                          "AND message_id = {m:String}", {"s": server.site.id, "m": exp["message_id"]})
        assert len(rows) == 1
        got = dict(zip(cols, rows[0], strict=True))
        for col in ("properties", "traits"):
            if col in got:
                got[col] = json.loads(got[col])
        for col, want in exp.items():
            assert got[col] == want, f"{path.stem}: column {col}: {got[col]!r} != {want!r}"
        if skew is not None:
            delta = datetime.fromisoformat(got["received_at"]) - datetime.fromisoformat(got["timestamp"])
            assert abs(delta.total_seconds() - skew) < 0.01
