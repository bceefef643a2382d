"""Plans on the hot path, end to end: observe, strip and block through POST /v1/batch into
footpath.events and footpath.quarantine; hot reload; config errors; metrics."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import orjson
import pytest

from collector.settings import ConfigError, load_settings
from tests.conftest import ADMIN, write_config
from tests.plans.conftest import ORDER_SCHEMA, order, plan_doc, write_plan

AUTH = {"Authorization": f"Bearer {ADMIN}"}


def stored(srv, table: str = "footpath.events", cols: str = "event, plan_version, plan_status, violations, "
           "unplanned_properties, properties") -> list[list]:
    srv.flush()
    return srv.sql(f"SELECT {cols} FROM {table} WHERE site_id = {{s:String}} ORDER BY message_id",
                   {"s": srv.site.id})


def test_observe_stores_everything_and_records_violations(server_factory, plan_file):
    srv = server_factory({"tracking_plan": str(plan_file), "plan_mode": "observe"})
    batch = [order(1), order(2, total="12", debug=True), {"type": "track", "event": "Nope", "userId": "u"},
             {"type": "page", "name": "Home", "userId": "u", "messageId": "zz-page"}]
    r = srv.post("/v1/batch", {"batch": batch}, key=srv.site.write_key)
    assert r.json() == {"accepted": 4, "rejected": []}
    ordered = stored(srv)
    assert len(ordered) == 4
    rows = {r[0] or "(page)": r for r in ordered}
    oc = [r for r in ordered if r[0] == "Order Completed"]
    assert sorted((r[3] == [], r[4]) for r in oc) == [(False, ["debug"]), (True, [])]
    bad = next(r for r in oc if r[3])
    assert bad[3] == [{"rule": "type", "property": "total", "message": '"12" is not of type "number"'}]
    assert orjson.loads(bad[5]) == batch[1]["properties"]  # observe stores the properties as sent
    assert (rows["Nope"][1], rows["Nope"][2], [v["rule"] for v in rows["Nope"][3]]) == (1, "unplanned",
                                                                                         ["unplanned_event"])
    assert (rows["(page)"][1], rows["(page)"][2], rows["(page)"][3]) == (1, "unchecked", [])


def test_strip_removes_unplanned_properties_and_keeps_the_rest(server_factory, plan_file):
    srv = server_factory({"tracking_plan": str(plan_file), "plan_mode": "strip"})
    r = srv.post("/v1/batch", {"batch": [order(1, debug=True, secret="x"), order(2, currency="JPY")]},
                 key=srv.site.write_key)
    assert r.json()["accepted"] == 2
    rows = stored(srv)
    stripped = next(r for r in rows if r[4])
    assert sorted(stripped[4]) == ["debug", "secret"]
    assert orjson.loads(stripped[5]) == {"order_id": "o_1", "total": 11.5, "currency": "EUR"}
    assert stripped[3] == []
    enum_bad = next(r for r in rows if not r[4])
    assert [(v["rule"], v["property"]) for v in enum_bad[3]] == [("enum", "currency")]
    assert orjson.loads(enum_bad[5])["currency"] == "JPY"  # strip keeps planned properties as sent


def test_block_quarantines_violating_and_unplanned_events_but_counts_them_accepted(server_factory, plan_file):
    srv = server_factory({"tracking_plan": str(plan_file), "plan_mode": "block"})
    good, bad, unplanned = order(1), order(2, total=-5), {"type": "track", "event": "Nope", "userId": "u",
                                                          "messageId": "nope-1", "properties": {"a": 1}}
    r = srv.post("/v1/batch", {"batch": [good, bad, unplanned]}, key=srv.site.write_key)
    assert r.json() == {"accepted": 3, "rejected": []}
    assert [r[0] for r in stored(srv)] == ["Order Completed"]
    q = stored(srv, "footpath.quarantine", "message_id, event, reason, status, plan_version, row")
    assert sorted(x[1] for x in q) == ["Nope", "Order Completed"]
    by_id = {x[0]: x for x in q}
    assert by_id[bad["messageId"]][2] == "minimum total: -5 is less than the minimum of 0"
    assert by_id["nope-1"][2] == "unplanned_event: event 'Nope' is not in the tracking plan"
    assert {x[3] for x in q} == {"quarantined"} and {x[4] for x in q} == {1}
    kept = orjson.loads(by_id[bad["messageId"]][5])  # the whole events row, enriched
    assert (kept["message_id"], kept["user_id"], kept["site_id"], orjson.loads(kept["properties"])) == (
        bad["messageId"], "u2", srv.site.id, bad["properties"])
    # A re-send of a blocked message is a duplicate like any other: the sender need not care.
    again = srv.post("/v1/batch", {"batch": [bad]}, key=srv.site.write_key).json()
    assert again == {"accepted": 1, "rejected": [], "dropped": {"duplicate": 1}}
    metrics = httpx.get(srv.url + "/metrics").text
    assert f'footpath_plan_blocked_total{{site="{srv.site.id}"}} 2.0' in metrics
    assert f'footpath_plan_violations_total{{rule="minimum",site="{srv.site.id}"}} 1.0' in metrics
    assert f'footpath_plan_checked_total{{site="{srv.site.id}",status="planned"}} 2.0' in metrics
    assert f'footpath_plan_checked_total{{site="{srv.site.id}",status="unplanned"}} 1.0' in metrics


def test_consent_applies_before_quarantine(server_factory, plan_file):
    """A blocked message under denied consent is quarantined without its identifiers."""
    srv = server_factory({"tracking_plan": str(plan_file), "plan_mode": "block"})
    msg = order(3, total="x")
    msg["context"] = {"consent": {"analytics": "denied"}, "ip": "203.0.113.9"}
    msg["anonymousId"] = "anon-3"
    assert srv.post("/v1/batch", {"batch": [msg]}, key=srv.site.write_key).json()["accepted"] == 1
    (row,) = stored(srv, "footpath.quarantine", "row")
    kept = orjson.loads(row[0])
    assert (kept["user_id"], kept["anonymous_id"], kept["ip"], kept["consent_analytics"]) == ("", "", "", "denied")


def test_a_changed_plan_applies_without_restart_and_a_broken_one_keeps_the_last(server_factory, plan_file):
    srv = server_factory({"tracking_plan": str(plan_file), "plan_mode": "block"}, plan_reload_ms=0)
    key = srv.site.write_key
    assert srv.post("/v1/batch", {"batch": [order(1, currency="JPY")]}, key=key).json()["accepted"] == 1
    assert stored(srv) == []
    loose = {**ORDER_SCHEMA, "properties": {**ORDER_SCHEMA["properties"], "currency": {"type": "string"}}}
    write_plan(plan_file, plan_doc(version=2, **{"Order Completed": loose}))
    srv.post("/v1/batch", {"batch": [order(2, currency="JPY")]}, key=key)
    assert [(r[0], r[1]) for r in stored(srv)] == [("Order Completed", 2)]
    plan_file.write_text('{"version": 3, "events": {')  # a half-edited file
    srv.post("/v1/batch", {"batch": [order(3, currency="JPY"), order(4, total="x")]}, key=key)
    assert sorted(r[1] for r in stored(srv)) == [2, 2]  # version 2 still in force: 3 stored, 4 blocked
    status = httpx.get(srv.url + "/v1/plans", params={"site": srv.site.id}, headers=AUTH).json()
    assert status["plan"]["version"] == 2 and "not valid JSON" in status["plan"]["error"]
    assert status["mode"] == "block"


def test_reload_is_rate_limited_by_plan_reload_ms(server_factory, plan_file):
    srv = server_factory({"tracking_plan": str(plan_file), "plan_mode": "observe"}, plan_reload_ms=1500)
    key = srv.site.write_key
    srv.post("/v1/batch", {"batch": [order(1)]}, key=key)
    write_plan(plan_file, plan_doc(version=7))
    srv.post("/v1/batch", {"batch": [order(2)]}, key=key)
    time.sleep(1.6)
    srv.post("/v1/batch", {"batch": [order(3)]}, key=key)
    assert sorted(r[1] for r in stored(srv)) == [1, 1, 7]


def test_sites_without_a_plan_store_defaults(server):
    server.post("/v1/batch", {"batch": [order(1, total="x")]}, key=server.site.write_key)
    assert [r[1:5] for r in stored(server)] == [[0, "", [], []]]


@pytest.mark.parametrize("extra,message", [
    ({"tracking_plan": "missing.json"}, "field 'tracking_plan': "),
    ({"tracking_plan": "bad.json"}, "bad.json: not valid JSON"),
    ({"tracking_plan": "plan.json", "plan_mode": "enforce"}, "field 'plan_mode': must be one of observe, strip, block"),
    ({"plan_mode": "block"}, "field 'plan_mode': needs tracking_plan"),
    ({"alert_webhook": "hooks.example/x"}, "field 'alert_webhook': must be an http(s) URL"),
    ({"alert_violation_percent": 0}, "field 'alert_violation_percent': must be between 1 and 100"),
    ({"tracking_plan": 5}, "field 'tracking_plan': must be a string"),
])
def test_config_errors_name_the_site_and_field(tmp_path: Path, extra, message):
    write_plan(tmp_path / "plan.json", plan_doc())
    (tmp_path / "bad.json").write_text("{nope")
    cfg = write_config(tmp_path / "c.toml", [{"id": "shop", "public_key": "pk_shop1", **extra}])
    with pytest.raises(ConfigError) as e:
        load_settings(str(cfg), env={})
    assert "site 'shop'" in str(e.value) and message in str(e.value)


def test_plan_path_is_relative_to_the_config_file(tmp_path: Path):
    (tmp_path / "plans").mkdir()
    write_plan(tmp_path / "plans" / "shop.json", plan_doc())
    cfg = write_config(tmp_path / "c.toml", [{"id": "shop", "public_key": "pk_shop1",
                                              "tracking_plan": "plans/shop.json", "plan_mode": "strip"}])
    (site,) = load_settings(str(cfg), env={}).sites
    assert (site.tracking_plan, site.plan_mode) == (str(tmp_path / "plans" / "shop.json"), "strip")


def test_erasure_blanks_the_quality_examples_taken_from_the_persons_messages(server_factory, plan_file):
    """Found in QA: quality_violations_hourly keeps one example per row (the offending value:
    an email, an order id) by message id, not by person, so an erased person's values stayed
    in /v1/quality.  Erasure now blanks the examples of the person's messages; the counts stay."""
    srv = server_factory({"tracking_plan": str(plan_file), "plan_mode": "observe"})
    key = srv.site.write_key
    erin, other = order(1, order_id="erin-secret-order"), order(2, total="other-bad")
    assert srv.post("/v1/batch", {"batch": [erin, other]}, key=key).json()["accepted"] == 2
    srv.flush()
    table = "footpath.quality_violations_hourly"

    def examples():
        return sorted(srv.sql(f"SELECT example, example_message_id, sum(violations) FROM {table} WHERE site_id = "
                              "{s:String} GROUP BY example, example_message_id", {"s": srv.site.id}))

    before = examples()
    assert any("erin-secret-order" in e for e, _, _ in before)
    dry = httpx.delete(f"{srv.url}/v1/persons/{srv.site.id}/u1", params={"dry_run": "1"}, headers=AUTH).json()
    assert dry["examples_blanked"] == {"quality_violations_hourly": 1} and examples() == before
    done = httpx.delete(f"{srv.url}/v1/persons/{srv.site.id}/u1", headers=AUTH, timeout=60).json()
    assert done["examples_blanked"] == {"quality_violations_hourly": 1}
    after = examples()
    assert not any("erin-secret-order" in e or m == erin["messageId"] for e, m, _ in after)
    assert any("other-bad" in e for e, _, _ in after)  # another person's example stays
    assert sum(n for *_, n in after) == sum(n for *_, n in before)  # the counts stay


def test_the_plan_status_follows_the_file_without_traffic_and_a_restored_file_clears_the_error(
        server_factory, plan_file):
    """Found in QA: GET /v1/plans showed a stale plan until a message came, and a broken file
    put back as it was (same bytes as the plan in force) kept its error for good."""
    srv = server_factory({"tracking_plan": str(plan_file), "plan_mode": "observe"}, plan_reload_ms=0)

    def status():
        return httpx.get(srv.url + "/v1/plans", params={"site": srv.site.id}, headers=AUTH).json()["plan"]

    assert status()["version"] == 1 and status()["error"] is None
    write_plan(plan_file, plan_doc(version=2))
    assert status()["version"] == 2  # no message sent
    good = plan_file.read_bytes()
    plan_file.write_text('{"version": 3, "events": {')
    broken = status()
    assert broken["version"] == 2 and "not valid JSON" in broken["error"]
    plan_file.write_bytes(good)
    assert status() == {**broken, "error": None}
