"""Incidents and webhooks against a real local receiver: one alert per incident, a
resolved message when it clears, retries with backoff, order kept per URL."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from collector.quality.service import QualityService
from collector.quality.webhook import WebhookSender
from collector.settings import Settings
from collector.sites import Site
from tests.quality.synth import at, synth, visible

DEPLOY = at(30, 14)
OC = "track:Order Completed"


def service(url: str, resolve_minutes: int = 15) -> tuple[QualityService, Site]:
    site = Site(id="shop", public_key="pk_shop1", alert_webhook=url)
    svc = QualityService(Settings(alert_resolve_minutes=resolve_minutes), {"shop": site}, None, None)
    svc.sender = WebhookSender(base_delay=0.05, max_delay=0.2)
    svc.sender.start()
    return svc, site


def test_drop_pages_once_and_recovery_sends_resolved(receiver):
    # Order Completed drops to 20 % for three hours after a deploy, then recovers.
    broken = (DEPLOY, DEPLOY + timedelta(hours=3))
    series = synth(change=lambda k, t: 0.2 if k == OC and broken[0] <= t < broken[1] else 1.0)
    svc, site = service(receiver.url)
    states = []
    try:
        now = DEPLOY - timedelta(hours=2)
        while now <= DEPLOY + timedelta(hours=6):  # the scheduler's 5-minute ticks
            for n in svc.evaluate_site(site, now, visible(series, now)):
                states.append((n.state, now))
            now += timedelta(minutes=5)
        firing, resolved = receiver.wait(2)
    finally:
        svc.sender.stop()
    assert [s for s, _ in states] == ["firing", "resolved"]
    assert DEPLOY < states[0][1] <= DEPLOY + timedelta(hours=1)  # within the hour it happens
    assert broken[1] < states[1][1] <= broken[1] + timedelta(hours=1, minutes=15)
    assert (firing["state"], firing["kind"], firing["event"], firing["site"]) == (
        "firing", "volume_drop", "Order Completed", "shop")
    assert firing["details"]["observed"] < firing["details"]["alarm_below"]
    assert firing["text"].startswith("[footpath shop] Order Completed: ")
    assert resolved["state"] == "resolved" and resolved["incident_id"] == firing["incident_id"]
    assert resolved["resolved_at"] is not None and resolved["text"].startswith("RESOLVED ")
    assert len(receiver.received) == 2
    hdr = {k.lower(): v for k, v in receiver.received[0]["headers"].items()}
    assert hdr["idempotency-key"] == firing["delivery_id"] == f"{firing['incident_id']}:firing"
    assert hdr["content-type"] == "application/json"


def test_a_drop_that_becomes_a_stop_is_one_incident(receiver):
    series = synth(change=lambda k, t: (0.2 if t < DEPLOY + timedelta(hours=2) else 0.0)
                   if k == OC and t >= DEPLOY else 1.0)
    svc, site = service(receiver.url)
    try:
        notes = []
        for minutes in range(0, 5 * 60, 5):
            now = DEPLOY + timedelta(minutes=minutes)
            notes += svc.evaluate_site(site, now, visible(series, now))
        assert [n.state for n in notes] == ["firing"]
        (inc,) = svc.book.open.values()
        assert inc.kind == "stopped"  # updated in place, no second page
    finally:
        svc.sender.stop()


def test_site_dip_is_one_alert_not_one_per_event(receiver):
    series = synth(change=lambda k, t: 0.05 if t >= DEPLOY else 1.0)
    svc, site = service(receiver.url)
    try:
        for minutes in range(0, 3 * 60, 5):
            now = DEPLOY + timedelta(minutes=minutes)
            svc.evaluate_site(site, now, visible(series, now))
        (msg,) = receiver.wait(1)
        time.sleep(0.3)
        assert len(receiver.delivered) == 1
    finally:
        svc.sender.stop()
    assert msg["kind"] in ("site_dip",) and msg["key"] == "*" and msg["event"] is None


def test_seasonal_weeks_send_nothing(receiver):
    series = synth()
    svc, site = service(receiver.url)
    try:
        for hours in range(14 * 24, 35 * 24, 1):
            now = at(0, 0) + timedelta(hours=hours, minutes=30)
            assert svc.evaluate_site(site, now, visible(series, now)) == []
    finally:
        svc.sender.stop()
    assert receiver.received == []


def test_failed_deliveries_are_retried_with_backoff_in_order(receiver):
    receiver.script = [503, 503, 429]
    sender = WebhookSender(base_delay=0.05, max_delay=0.2)
    sender.start()
    try:
        sender.send(receiver.url, {"delivery_id": "a:firing", "n": 1})
        sender.send(receiver.url, {"delivery_id": "a:resolved", "n": 2})
        receiver.wait(2)
    finally:
        sender.stop()
    assert [(r["status"], r["body"]["n"]) for r in receiver.received] == [(503, 1), (503, 1), (429, 1), (200, 1),
                                                                          (200, 2)]
    assert {r["headers"]["Idempotency-Key"] for r in receiver.received[:4]} == {"a:firing"}


def test_a_refused_delivery_is_final_and_a_dead_one_is_given_up(receiver, caplog):
    receiver.script = [400]
    sender = WebhookSender(base_delay=0.05, max_delay=0.1, give_up_after=0.5)
    sender.start()
    try:
        sender.send(receiver.url, {"delivery_id": "x", "n": 1})
        sender.send(receiver.url, {"delivery_id": "y", "n": 2})
        receiver.wait(1)
        assert [(r["status"], r["body"]["n"]) for r in receiver.received] == [(400, 1), (200, 2)]
        assert "HTTP 400 after 1 attempt(s), x given up" in sender.last_failure  # refused: final, and shown
        dead = "http://127.0.0.1:9/nothing-listens"
        with caplog.at_level(logging.ERROR, logger="footpath.quality.webhook"):
            for i in range(3):
                sender.send(dead, {"delivery_id": f"z{i}"})
            deadline = time.time() + 20
            while sender.pending() and time.time() < deadline:
                time.sleep(0.05)
        assert sender.pending() == 0
        assert "nothing-listens" in sender.last_failure and "z2 given up" in sender.last_failure
    finally:
        sender.stop()
    # each queued delivery had its own retry window, from its first attempt (QA: the ones
    # queued behind a dead one got a single try once it was given up)
    tries = {r.args[3]: r.args[2] for r in caplog.records if "giving up" in r.msg and r.args[3] != "x"}
    assert set(tries) == {"z0", "z1", "z2"} and min(tries.values()) > 1, tries
