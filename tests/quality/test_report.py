"""GET /v1/quality against numbers the test computes from the messages it sent."""

from __future__ import annotations

import random
import time
from collections import Counter

import httpx
import pytest

from tests.conftest import ADMIN
from tests.plans.conftest import order, plan_doc, write_plan

AUTH = {"Authorization": f"Bearer {ADMIN}"}


def mixed_traffic(seed: int = 3) -> list[dict]:
    """Orders (some breaking the plan in known ways), unplanned events, page views."""
    rng = random.Random(seed)
    msgs = [order(i) for i in range(40)]
    msgs += [order(100 + i, currency="JPY") for i in range(8)]  # enum
    msgs += [order(200 + i, total="x") for i in range(4)]  # type
    msgs += [order(300 + i, order_id=None) for i in range(2)]  # required
    msgs += [order(400 + i, debug=True) for i in range(3)]  # unplanned property, otherwise valid
    msgs += [{"type": "track", "event": "Coupon Applied", "userId": "c", "properties": {"code": "X"}}
             for _ in range(6)]
    msgs += [{"type": "page", "userId": "p", "properties": {"path": f"/p{i}"}} for i in range(10)]
    rng.shuffle(msgs)
    return msgs


def expected_from(msgs: list[dict]) -> dict:
    """Independent of the plan code: the rules of ORDER_SCHEMA applied by hand."""
    def broken(m: dict) -> bool:
        p = m["properties"]
        return ("order_id" not in p or not isinstance(p.get("total"), (int, float))
                or p.get("currency") not in ("EUR", "USD", "GBP"))
    orders = [m for m in msgs if m.get("event") == "Order Completed"]
    coupons = [m for m in msgs if m.get("event") == "Coupon Applied"]
    pages = [m for m in msgs if m["type"] == "page"]
    fill = Counter(k for m in orders for k in m["properties"])
    return {
        "oc": {"events": len(orders), "checked": len(orders), "violating": sum(map(broken, orders)),
               "blocked": sum(map(broken, orders)), "unplanned": 0,
               "fill": {k: n / len(orders) for k, n in fill.items()}},
        "coupon": {"events": len(coupons), "checked": len(coupons), "violating": len(coupons),
                   "blocked": len(coupons), "unplanned": len(coupons)},
        "page": {"events": len(pages), "checked": 0, "violating": 0, "blocked": 0, "unplanned": 0},
        "violations": {("enum", "currency"): sum(m["properties"].get("currency") == "JPY" for m in orders),
                       ("type", "total"): sum(m["properties"].get("total") == "x" for m in orders),
                       ("required", "order_id"): sum("order_id" not in m["properties"] for m in orders),
                       ("unplanned_property", "debug"): sum("debug" in m["properties"] for m in orders)},
    }


@pytest.fixture
def loaded(server_factory, tmp_path):
    plan = write_plan(tmp_path / "plan.json", plan_doc())
    srv = server_factory({"tracking_plan": str(plan), "plan_mode": "block"})
    msgs = mixed_traffic()
    r = srv.post("/v1/batch", {"batch": msgs}, key=srv.site.write_key)
    assert r.json() == {"accepted": len(msgs), "rejected": []}
    srv.flush()
    return srv, msgs


def test_report_matches_what_was_sent(loaded):
    srv, msgs = loaded
    exp = expected_from(msgs)
    doc = httpx.get(srv.url + "/v1/quality", params={"site": srv.site.id}, headers=AUTH, timeout=60).json()
    ev = {(e["type"], e["event"]): e for e in doc["events"]}
    for key, name in ((("track", "Order Completed"), "oc"), (("track", "Coupon Applied"), "coupon"),
                      (("page", ""), "page")):
        got = ev[key]
        for k in ("events", "checked", "violating", "blocked", "unplanned"):
            assert got[k] == exp[name][k], (key, k)
        assert sum(h["events"] for h in got["hourly"]) == exp[name]["events"]
    oc = ev[("track", "Order Completed")]
    assert oc["planned"] is True and ev[("track", "Coupon Applied")]["planned"] is False
    assert ev[("page", "")]["planned"] is False and ev[("page", "")]["label"] == "(page)"
    assert oc["violation_rate"] == pytest.approx(exp["oc"]["violating"] / exp["oc"]["checked"], abs=1e-6)
    assert {(v["rule"], v["property"]): v["count"] for v in oc["violations"]} == exp["violations"]
    enum = next(v for v in oc["violations"] if v["rule"] == "enum")
    assert enum["example"] == '"JPY" is not one of "EUR", "USD" or "GBP"'
    assert enum["example_message_id"] in {m["messageId"] for m in msgs if m["properties"].get("currency") == "JPY"}
    assert {f["property"]: f["rate"] for f in oc["fill_rates"]} == pytest.approx(exp["oc"]["fill"], abs=1e-6)
    t = doc["totals"]
    assert t["events"] == len(msgs)
    assert t["blocked"] == exp["oc"]["blocked"] + exp["coupon"]["blocked"]
    assert doc["quarantine"] == {"quarantined": t["blocked"], "replayed": 0}
    assert doc["plan"]["version"] == 1 and doc["plan"]["mode"] == "block" and doc["plan"]["error"] is None
    assert doc["completeness"]["estimated"] is None  # no browser traffic
    assert [e["events"] for e in doc["events"]] == sorted((e["events"] for e in doc["events"]), reverse=True)


def test_report_range_and_errors(loaded):
    srv, _ = loaded
    get = lambda **p: httpx.get(srv.url + "/v1/quality", params=p, headers=AUTH, timeout=60)  # noqa: E731
    empty = get(site=srv.site.id, **{"from": "2020-01-01", "to": "2020-01-02"}).json()
    assert empty["events"] == [] and empty["totals"]["events"] == 0
    assert get(site="nope").status_code == 404
    assert get().status_code == 400
    assert "ISO 8601" in get(site=srv.site.id, **{"from": "yesterday"}).json()["error"]
    assert get(site=srv.site.id, **{"from": "2024-02-01", "to": "2024-01-01"}).status_code == 400
    assert get(site=srv.site.id, **{"from": "2020-01-01", "to": "2024-01-01"}).status_code == 400
    assert httpx.get(srv.url + "/v1/quality", params={"site": srv.site.id}).status_code == 401


def test_quality_cli_prints_the_report(loaded, monkeypatch, tmp_path, capsys):
    from collector.cli import main

    srv, msgs = loaded
    monkeypatch.setenv("FOOTPATH_ADMIN_TOKEN", ADMIN)
    assert main(["--url", srv.url, "--data-dir", str(tmp_path / "d"), "quality", "--site", srv.site.id]) == 0
    out = capsys.readouterr().out
    exp = expected_from(msgs)
    blocked = exp["oc"]["blocked"] + exp["coupon"]["blocked"]
    assert f"site {srv.site.id} " in out and f": {len(msgs)} events," in out and f"{blocked} blocked" in out
    assert "enum currency x8" in out
    # no browser traffic: nothing to estimate completeness from, shown as '-' like a rate
    assert f"{blocked} blocked, completeness -\n" in out and "None" not in out
    # the plan in force, and its error once the file stops loading (QA: --json only before)
    plan = tmp_path / "plan.json"
    assert f"plan {plan}: version 1, mode block\n" in out and "ERROR" not in out
    plan.write_text('{"version": 2, "events": {')
    time.sleep(1.1)  # the file is checked at most once per plan_reload_ms (1 s here)
    assert main(["--url", srv.url, "--data-dir", str(tmp_path / "d"), "quality", "--site", srv.site.id]) == 0
    assert f"plan {plan}: version 1, mode block\n  ERROR: " in capsys.readouterr().out
