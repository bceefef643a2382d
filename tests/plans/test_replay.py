"""Quarantine, then replay after a plan fix: nothing lost, nothing duplicated, however
often (or however interrupted) replay runs.  Counts are taken without FINAL."""

from __future__ import annotations

import httpx
import orjson
import pytest

from collector.cli import main
from collector.plans.registry import REGISTRY
from collector.plans.replay import recheck
from collector.write.writer import INSERT_SETTINGS
from tests.conftest import ADMIN
from tests.plans.conftest import ORDER_SCHEMA, order, plan_doc, write_plan

AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def cli(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FOOTPATH_ADMIN_TOKEN", ADMIN)
    monkeypatch.delenv("FOOTPATH_CONFIG", raising=False)

    def run(srv, *args: str) -> tuple[int, str]:
        code = main(["--url", srv.url, "--data-dir", str(tmp_path / "cli"), *args])
        return code, capsys.readouterr().out
    return run


def counts(srv, ch) -> dict[str, int]:
    srv.flush()
    s = {"s": srv.site.id}
    one = lambda q: ch.query(q, parameters=s).result_rows[0][0]  # noqa: E731
    return {
        "events": one("SELECT count() FROM footpath.events WHERE site_id = {s:String}"),
        "distinct": one("SELECT uniqExact(message_id) FROM footpath.events WHERE site_id = {s:String}"),
        "replayed": one("SELECT countIf(replayed) FROM footpath.events WHERE site_id = {s:String}"),
        "quarantined": one("SELECT countIf(status = 'quarantined') FROM footpath.quarantine FINAL "
                           "WHERE site_id = {s:String}"),
        "received": one("SELECT sum(events) FROM footpath.quality_events_hourly WHERE site_id = {s:String}"),
    }


def with_currencies(version: int, *currencies: str, allow_unplanned: bool = False) -> dict:
    schema = {**ORDER_SCHEMA, "properties": {**ORDER_SCHEMA["properties"], "currency": {"enum": list(currencies)}}}
    return plan_doc(version, allow_unplanned, **{"Order Completed": schema})


def test_replay_after_a_plan_fix_moves_each_message_exactly_once(server_factory, plan_file, ch, cli):
    srv = server_factory({"tracking_plan": str(plan_file), "plan_mode": "block"}, plan_reload_ms=0)
    batch = [order(i) for i in range(20)] + [order(100 + i, currency="JPY") for i in range(10)]
    batch += [{"type": "track", "event": "Coupon Applied", "userId": f"c{i}", "messageId": f"coupon-{i}",
               "properties": {"code": "X"}} for i in range(3)]
    assert srv.post("/v1/batch", {"batch": batch}, key=srv.site.write_key).json() == {"accepted": 33, "rejected": []}
    assert counts(srv, ch) == {"events": 20, "distinct": 20, "replayed": 0, "quarantined": 13, "received": 33}

    code, out = cli(srv, "quarantine", "list", "--site", srv.site.id)
    assert code == 0 and f"site {srv.site.id}: 13 quarantined, 0 replayed" in out
    assert "enum currency" in out and "unplanned_event" in out

    # Nothing passes yet: replay is a no-op.
    code, out = cli(srv, "quarantine", "replay", "--site", srv.site.id)
    assert code == 0 and "moved 0 into footpath.events" in out and "13 still fail" in out

    write_plan(plan_file, with_currencies(2, "EUR", "USD", "GBP", "JPY"))
    code, out = cli(srv, "quarantine", "replay", "--site", srv.site.id, "--dry-run")
    assert "would move 10" in out
    assert counts(srv, ch)["events"] == 20

    code, out = cli(srv, "quarantine", "replay", "--site", srv.site.id)
    assert code == 0, out
    assert "against plan version 2 (block): moved 10 into footpath.events, 0 were there already, 3 still fail" in out
    assert counts(srv, ch) == {"events": 30, "distinct": 30, "replayed": 10, "quarantined": 3, "received": 33}
    rows = srv.sql("SELECT plan_version, plan_status, violations, user_id FROM footpath.events "
                   "WHERE site_id = {s:String} AND replayed ORDER BY user_id", {"s": srv.site.id})
    assert rows == [[2, "planned", [], f"u{100 + i}"] for i in range(10)]

    for _ in range(3):  # however often it runs
        r = httpx.post(srv.url + "/v1/quarantine/replay", json={"site": srv.site.id}, headers=AUTH, timeout=60)
        assert r.json()["replayed"] == 0 and r.json()["checked"] == 3
    assert counts(srv, ch)["events"] == 30

    write_plan(plan_file, with_currencies(3, "EUR", "USD", "GBP", "JPY", allow_unplanned=True))
    code, out = cli(srv, "quarantine", "replay", "--site", srv.site.id)
    assert "moved 3 into" in out and "0 still fail" in out
    assert counts(srv, ch) == {"events": 33, "distinct": 33, "replayed": 13, "quarantined": 0, "received": 33}
    sent = sorted(m["messageId"] for m in batch)
    assert sorted(r[0] for r in srv.sql("SELECT message_id FROM footpath.events WHERE site_id = {s:String}",
                                        {"s": srv.site.id})) == sent
    code, out = cli(srv, "quarantine", "list", "--site", srv.site.id, "--status", "replayed")
    assert "0 quarantined, 13 replayed" in out


def test_a_replay_interrupted_after_its_insert_is_finished_not_repeated(server_factory, plan_file, ch):
    srv = server_factory({"tracking_plan": str(plan_file), "plan_mode": "block"}, plan_reload_ms=0)
    batch = [order(i, currency="JPY") for i in range(5)]
    srv.post("/v1/batch", {"batch": batch}, key=srv.site.write_key)
    srv.flush()
    write_plan(plan_file, with_currencies(2, "EUR", "JPY"))
    plan = REGISTRY.refresh(str(plan_file), force=True).plan
    # The first two rows reached footpath.events, then the replay died before marking them.
    raw = ch.query("SELECT row FROM footpath.quarantine WHERE site_id = {s:String} ORDER BY message_id LIMIT 2",
                   parameters={"s": srv.site.id}).result_rows
    payload = b"\n".join(orjson.dumps(recheck(orjson.loads(r[0]), plan, "block")) for r in raw)
    ch.raw_insert("footpath.events", None, insert_block=payload, fmt="JSONEachRow", settings=INSERT_SETTINGS)
    r = httpx.post(srv.url + "/v1/quarantine/replay", json={"site": srv.site.id}, headers=AUTH, timeout=60).json()
    assert (r["checked"], r["replayed"], r["already_present"], r["still_blocked"]) == (5, 3, 2, 0)
    c = counts(srv, ch)
    assert (c["events"], c["distinct"], c["quarantined"], c["received"]) == (5, 5, 0, 5)


def test_replay_with_strip_mode_strips_and_replay_errors(server_factory, plan_file, ch):
    srv = server_factory({"tracking_plan": str(plan_file), "plan_mode": "block"}, plan_reload_ms=0)
    srv.post("/v1/batch", {"batch": [order(1, currency="JPY", extra=1)]}, key=srv.site.write_key)
    srv.flush()
    write_plan(plan_file, with_currencies(2, "JPY"))
    r = httpx.post(srv.url + "/v1/quarantine/replay", json={"site": srv.site.id}, headers=AUTH, timeout=60).json()
    assert r["replayed"] == 1
    (row,) = srv.sql("SELECT unplanned_properties, properties FROM footpath.events WHERE site_id = {s:String}",
                     {"s": srv.site.id})
    assert row[0] == ["extra"] and orjson.loads(row[1])["extra"] == 1  # block mode keeps them
    for body, status in (({"site": "nope"}, 404), ({}, 400), ({"site": srv.site.id, "dry_run": "yes"}, 400)):
        assert httpx.post(srv.url + "/v1/quarantine/replay", json=body, headers=AUTH).status_code == status
    assert httpx.post(srv.url + "/v1/quarantine/replay", json={"site": srv.site.id}).status_code == 401
