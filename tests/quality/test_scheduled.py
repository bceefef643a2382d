"""The evaluator scheduled inside a running collector: hourly aggregates in ClickHouse ->
webhook (firing, then resolved), /metrics, incidents in the report; the tag's loss
figures turned into completeness."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from collector.quality.service import QualityService
from tests.conftest import ADMIN

AUTH = {"Authorization": f"Bearer {ADMIN}"}


def put_hours(ch, site: str, key: tuple[str, str], counts: dict[datetime, int]) -> None:
    rows = [{"site_id": site, "hour": h.strftime("%Y-%m-%d %H:%M:%S"), "type": key[0], "event": key[1],
             "source": "server", "events": n, "checked": 0, "violating": 0, "unplanned": 0, "blocked": 0}
            for h, n in counts.items()]
    ch.raw_insert("footpath.quality_events_hourly", None, insert_block=b"\n".join(orjson.dumps(r) for r in rows),
                  fmt="JSONEachRow")


def test_scheduled_alerts_reach_the_webhook_and_resolve(server_factory, ch, receiver):
    srv = server_factory({"alert_webhook": receiver.url}, quality_interval_s=1, alert_resolve_minutes=0)
    site = srv.site.id
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    history = {now - timedelta(hours=h): 100 for h in range(2, 15 * 24)}
    recent = [now - timedelta(hours=1), now, now + timedelta(hours=1)]  # robust to the hour turning
    put_hours(ch, site, ("track", "Checkout"), {**history, **dict.fromkeys(recent, 10)})
    put_hours(ch, site, ("page", ""), {**{h: 500 for h in history}, **dict.fromkeys(recent, 500)})
    (firing,) = receiver.wait(1)
    assert (firing["state"], firing["kind"], firing["event"], firing["site"]) == (
        "firing", "volume_drop", "Checkout", site)
    # A restarted collector reloads the open incident: the same condition does not page again.
    deadline = time.time() + 10
    while not ch.query("SELECT count() FROM footpath.quality_incidents FINAL WHERE site_id = {s:String} "
                       "AND state = 'open'", parameters={"s": site}).result_rows[0][0]:
        assert time.time() < deadline
        time.sleep(0.1)
    restarted = QualityService(srv.settings, {site: srv.collector.sites[site]}, srv.collector.store, None)
    assert restarted.run_once() == [] and restarted.last_error is None
    assert [i.id for i in restarted.book.open.values()] == [firing["incident_id"]]
    put_hours(ch, site, ("track", "Checkout"), dict.fromkeys(recent, 90))  # summed: back to 100 an hour
    firing2, resolved = receiver.wait(2)
    assert firing2 == firing and resolved["state"] == "resolved"
    assert resolved["incident_id"] == firing["incident_id"]
    time.sleep(1.5)
    assert len(receiver.delivered) == 2  # one alert per incident
    m = httpx.get(srv.url + "/metrics").text
    for state in ("firing", "resolved"):
        assert f'footpath_quality_alerts_total{{kind="volume_drop",site="{site}",state="{state}"}} 1.0' in m
    assert f'footpath_quality_open_incidents{{kind="volume_drop",site="{site}"}} 0.0' in m
    doc = httpx.get(srv.url + "/v1/quality", params={"site": site}, headers=AUTH, timeout=60).json()
    (inc,) = doc["incidents"]
    assert (inc["id"], inc["state"], inc["kind"], inc["key"]) == (firing["incident_id"], "resolved",
                                                                  "volume_drop", "track:Checkout")
    assert doc["alerts"]["webhook"] is True and doc["alerts"]["last_error"] is None
    # ISO 8601 with its offset, as in the webhook (QA: it was "2026-12-07 23:17:08.944")
    for k in ("opened_at", "resolved_at"):
        got, sent = datetime.fromisoformat(inc[k]), datetime.fromisoformat((firing if k == "opened_at" else resolved)[k])
        assert got.tzinfo is not None and abs((got - sent).total_seconds()) < 0.001, (inc[k], sent)


def test_tag_loss_figures_become_completeness(server_factory):
    srv = server_factory(quality_interval_s=1)
    body = {"writeKey": srv.site.public_key, "sentAt": datetime.now(UTC).isoformat(),
            "batch": [{"type": "page", "anonymousId": f"a{i}", "properties": {"path": "/"}} for i in range(6)],
            "stats": {"dropped": 2, "retried": 1, "queued": 3}}
    for _ in range(3):
        r = httpx.post(srv.url + "/v1/batch", content=orjson.dumps(body), timeout=30,
                       headers={"Origin": srv.site.origin, "Content-Type": "text/plain"})
        assert r.json()["accepted"] == 6, r.text
    deadline = time.time() + 20
    while True:
        srv.flush()
        doc = httpx.get(srv.url + "/v1/quality", params={"site": srv.site.id}, headers=AUTH, timeout=60).json()
        if doc["completeness"]["dropped"] >= 6 or time.time() > deadline:
            break
        time.sleep(0.3)
    assert doc["completeness"] == {"browser_events": 18, "dropped": 6, "retried": 3, "queued": 9,
                                   "estimated": round(18 / 24, 6)}


def test_a_sender_breaking_its_messages_pages_the_webhook(server_factory, receiver):
    # real traffic: 20 good messages and 20 the collector rejects (a library that started
    # sending properties as a list); nothing of the bad ones reaches the events' series
    srv = server_factory({"alert_webhook": receiver.url}, quality_interval_s=1)
    good = [{"type": "track", "userId": f"u{i}", "event": "Order Completed"} for i in range(20)]
    bad = [{**g, "properties": ["sku-1"]} for g in good]
    r = srv.post("/v1/batch", {"batch": good + bad}, key=srv.site.write_key)
    assert r.json()["accepted"] == 20 and len(r.json()["rejected"]) == 20
    srv.flush()
    (firing,) = receiver.wait(1)
    assert (firing["state"], firing["kind"], firing["family"], firing["key"]) == (
        "firing", "rejected_rate", "rejected", "*")
    assert firing["summary"].startswith("20 of 40 messages (50.0%) were rejected as invalid in the last hour; "
                                        "most often properties"), firing["summary"]
