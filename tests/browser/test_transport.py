"""Transport in a real browser against the real collector: nothing is lost when the
page goes away right after an event, when the collector is down for a while, or when
an acknowledgement never arrives; and nothing is stored twice."""

from __future__ import annotations

import json

from .conftest import rows, wait_for, wait_rows

GRANT = "() => footpath('consent', {analytics: 'granted'})"


def exactly_once(collector, where: str, n: int) -> list[dict]:
    got = wait_rows(collector, n, where)
    ids = [r["message_id"] for r in got]
    assert len(ids) == n and len(set(ids)) == n, f"{len(ids)} rows, {len(set(ids))} distinct, want {n}"
    return got


def granted_page(lc, tab_factory):
    tab = tab_factory(lc.url)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.js(GRANT)
    wait_rows(lc, 2)  # page view and Consent Updated are in
    return tab


def test_navigation_right_after_a_track_loses_nothing(live_collector, tab_factory):
    tab = granted_page(live_collector, tab_factory)
    # The page is gone before any batch timer fires; the next page has no tag, so only
    # the beacon sent while leaving can deliver the event.
    with tab.page.expect_navigation():
        tab.js("() => { footpath('track', 'Buy Clicked', {sku: 'X1'}); location.href = '/__fixtures__/external.html' }")
    got = exactly_once(live_collector, "event = 'Buy Clicked'", 1)
    assert got[0]["properties"] == {"sku": "X1"}


def test_a_burst_then_navigation_delivers_every_event_exactly_once(live_collector, tab_factory):
    tab = granted_page(live_collector, tab_factory)
    with tab.page.expect_navigation():
        tab.js("""() => {
            for (let i = 0; i < 45; i++) footpath('track', 'Burst', {i})
            location.href = '/__fixtures__/next.html'
        }""")
    tab.wait_tag()
    got = exactly_once(live_collector, "event = 'Burst'", 45)
    assert sorted(r["properties"]["i"] for r in got) == list(range(45))
    # Whatever the beacon carried may be sent again by the next page (it cannot know
    # whether the beacon arrived): the collector keeps one row per messageId.
    wait_for(lambda: tab.queued() == [], 15, "the next page to empty the queue")


def test_collector_stopped_then_restarted_queued_events_arrive_exactly_once(live_collector, tab_factory):
    lc = live_collector
    tab = granted_page(lc, tab_factory)
    lc.stop()
    tab.js("() => { for (let i = 0; i < 5; i++) footpath('track', 'While Down', {i}) }")
    # The tag tries, fails and keeps the events in its write-ahead queue.
    wait_for(lambda: any("While Down" in json.dumps(b) for b in tab.batches("fetch")), 10,
             "a send attempt while the collector is down")
    tab.sleep(2)
    assert len(tab.queued()) == 5
    lc.start()
    got = exactly_once(lc, "event = 'While Down'", 5)
    assert sorted(r["properties"]["i"] for r in got) == list(range(5))
    wait_for(lambda: tab.queued() == [], 20, "the queue to empty once acknowledged")
    # Every retry carried the tag's own counters.
    retried = [b["stats"]["retried"] for b in tab.batches() if "While Down" in json.dumps(b)]
    assert retried[0] == 0 and max(retried) > 0
    # A reload afterwards sends nothing again.
    tab.page.reload()
    tab.wait_tag()
    tab.sleep(2)
    exactly_once(lc, "event = 'While Down'", 5)


def test_events_queued_while_down_are_sent_by_the_next_page_load(live_collector, tab_factory):
    lc = live_collector
    tab = granted_page(lc, tab_factory)
    lc.stop()
    tab.js("() => { footpath('track', 'Queued Then Left', {n: 1}); footpath('track', 'Queued Then Left', {n: 2}) }")
    tab.sleep(1.5)
    tab.page.goto("about:blank")  # leaving: the beacon goes nowhere, the collector is down
    lc.start()
    tab.open("/__fixtures__/page.html")  # same tab: it takes its own queue back
    tab.wait_tag()
    exactly_once(lc, "event = 'Queued Then Left'", 2)
    wait_for(lambda: tab.queued() == [], 20, "the queue to empty once acknowledged")
    exactly_once(lc, "event = 'Queued Then Left'", 2)


def test_reload_with_an_unacknowledged_queue_resends_without_duplicates(live_collector, tab_factory):
    lc = live_collector
    tab = granted_page(lc, tab_factory)
    tab.js("() => { window.__fpLoseAnswers = true }")  # batches arrive, answers are lost
    tab.js("() => { footpath('track', 'Unacked', {n: 1}); footpath('track', 'Unacked', {n: 2}); footpath('track', 'Unacked', {n: 3}) }")
    exactly_once(lc, "event = 'Unacked'", 3)  # stored once...
    ids = {r["message_id"] for r in rows(lc, "event = 'Unacked'")}
    assert ids <= set(tab.queued())  # ...but still queued in the browser
    n_before = len(tab.records)
    tab.page.reload()  # the new page has no lost answers
    tab.wait_tag()
    wait_for(lambda: tab.queued() == [], 20, "the re-send to be acknowledged")
    resent = {m["messageId"] for r in tab.records[n_before:] if r["kind"] == "fetch" and r["url"].endswith("/v1/batch")
              for m in json.loads(r["body"])["batch"]}
    assert ids <= resent, "the reload must send the unacknowledged events again"
    exactly_once(lc, "event = 'Unacked'", 3)


def test_unacknowledged_events_resent_after_a_collector_restart_are_stored_once(live_collector, tab_factory):
    lc = live_collector
    tab = granted_page(lc, tab_factory)
    tab.js("() => { window.__fpLoseAnswers = true }")  # stored, but the tag never hears so
    tab.js("() => { footpath('track', 'Across Restart', {n: 1}); footpath('track', 'Across Restart', {n: 2}) }")
    exactly_once(lc, "event = 'Across Restart'", 2)
    lc.stop()  # a deploy: the collector restarts while the browser still holds them
    lc.start()
    tab.page.reload()  # the next page re-sends at once
    tab.wait_tag()
    wait_for(lambda: tab.queued() == [], 20, "the re-send to be acknowledged")
    exactly_once(lc, "event = 'Across Restart'", 2)


def test_429_retry_after_is_honoured_and_nothing_is_lost(live_collector_factory, tab_factory):
    lc = live_collector_factory(site_extra={"consent_default": "granted", "rate_limit_client": 1})
    tab = tab_factory(lc.url)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.sleep(1.5)
    tab.js("() => { for (let i = 0; i < 100; i++) footpath('track', 'Flood', {i}) }")
    got = exactly_once(lc, "event = 'Flood'", 100)
    assert sorted(r["properties"]["i"] for r in got) == list(range(100))
    answers = tab.responses
    limited = [i for i, (_, status, _) in enumerate(answers) if status == 429]
    assert limited, f"the client rate limit never answered 429: {[a[1] for a in answers]}"
    for i in limited:
        if i + 1 < len(answers):  # the next try waited at least Retry-After (1 s here)
            assert answers[i + 1][0] - answers[i][0] >= 0.9


def test_a_4xx_is_not_retried_and_is_counted_as_dropped(live_collector, tab_factory):
    lc = live_collector
    tab = granted_page(lc, tab_factory)  # the visitor has consented to pk_test
    tab.open("/__fixtures__/wrongkey.html")
    tab.page.wait_for_function("() => window.footpath && window.footpath.v")
    # Consent is per site: the visitor grants this one too, then an event.
    tab.js("() => { footpath('consent', 'granted'); footpath('track', 'Refused') }")
    wait_for(lambda: any(s in (401, 403) for _, s, _ in tab.responses), 10, "the collector to refuse the key")
    tab.sleep(4)  # a retry would have happened by now
    refused = [b for b in tab.batches() if b.get("writeKey") == "pk_nobody"]
    # The held page view (flushed at the grant), then Consent Updated and the track: each
    # refused once, never retried.
    assert [[m.get("event") for m in b["batch"]] for b in refused] == [[None], ["Consent Updated", "Refused"]]
    assert tab.queued("pk_nobody") == []
    # The other site on this origin kept its own queue and sends on as before.
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.js("() => footpath('track', 'After')")
    wait_rows(lc, 1, "event = 'After'")


def test_aggregate_pings_when_denied_carry_no_identifiers_and_store_nothing(live_collector_factory, tab_factory):
    lc = live_collector_factory(site_extra={"consent_default": "denied", "aggregate_when_denied": True})
    tab = tab_factory(lc.url)
    tab.open("/__fixtures__/page.html?utm_source=ads")
    tab.wait_tag()
    tab.js("() => { footpath('identify', 'u1'); footpath('track', 'Not Aggregate') }")
    got = wait_rows(lc, 1)
    assert [(r["type"], r["anonymous_id"], r["user_id"], r["session_id"], r["seq"]) for r in got] == [
        ("page", "", "", "", 0)]
    assert got[0]["consent_analytics"] == "denied"
    assert got[0]["utm_source"] == "ads"
    assert tab.cookies() == []
    assert tab.storage() == {"local": {}, "session": {}}
    sent = tab.sent()
    assert len(sent) == 1 and "anonymousId" not in sent[0] and "userId" not in sent[0]


def test_the_tag_works_from_another_origin(live_collector, tab_factory):
    lc = live_collector
    site = lc.url.replace("127.0.0.1", "localhost")  # an allowed origin of the test site
    tab = tab_factory(site)
    tab.open("/__fixtures__/crossorigin.html")
    tab.wait_tag()
    tab.js(GRANT)
    tab.js("() => footpath('track', 'Across Origins')")
    got = exactly_once(lc, "event = 'Across Origins'", 1)
    assert got[0]["url"] == site + "/__fixtures__/crossorigin.html"
    assert [c["domain"] for c in tab.cookies() if c["name"] == "fp_id"] == ["localhost"]
    assert all(s == 200 for _, s, _ in tab.responses)
    wait_for(lambda: tab.queued() == [], 10, "acknowledgements read across origins")


def test_large_events_go_in_batches_under_the_collector_body_limit(live_collector_factory, tab_factory):
    lc = live_collector_factory(site_extra={"consent_default": "granted"})
    tab = tab_factory(lc.url)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    wait_rows(lc, 1)
    # 20 events of ~29 KB: each within the 32 KB message limit (and 8 KB a string),
    # 570 KB together, over the 500 KB a request may carry.
    tab.js("() => { const s = 'x'.repeat(7000); for (let i = 0; i < 20; i++) footpath('track', 'Huge', {i, a: s, b: s, c: s, d: s}) }")
    got = exactly_once(lc, "event = 'Huge'", 20)
    assert sorted(r["properties"]["i"] for r in got) == list(range(20))
    assert {s for _, s, _ in tab.responses} == {200}
    assert max(len(r["body"]) for r in tab.records if r["kind"] == "fetch" and r["url"].endswith("/v1/batch")) < 500 * 1024


def test_a_413_splits_the_batch_instead_of_dropping_it(live_collector_factory, tab_factory):
    lc = live_collector_factory(site_extra={"consent_default": "granted"}, env={"FOOTPATH_MAX_BATCH_BYTES": "100000"})
    tab = tab_factory(lc.url)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    wait_rows(lc, 1)
    tab.js("() => { const s = 'y'.repeat(8000); for (let i = 0; i < 12; i++) footpath('track', 'Big', {i, a: s, b: s}) }")
    got = exactly_once(lc, "event = 'Big'", 12)
    assert sorted(r["properties"]["i"] for r in got) == list(range(12))
    assert 413 in {s for _, s, _ in tab.responses}  # the first try was too large for this collector
    wait_for(lambda: tab.queued() == [], 10, "the queue to empty")
    assert all(b["stats"]["dropped"] == 0 for b in tab.batches())


def test_what_a_beacon_carried_is_not_sent_again_on_every_tab_switch(live_collector, tab_factory):
    tab = granted_page(live_collector, tab_factory)
    flip = """(h) => {
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => h})
        Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => h ? 'hidden' : 'visible'})
        document.dispatchEvent(new Event('visibilitychange', {bubbles: true}))
    }"""
    tab.js("() => footpath('track', 'Before Switch')")  # then the tab is switched away at once
    tab.js(flip, True)
    tab.js(flip, False)
    tab.sleep(0.5)
    tab.js(flip, True)
    tab.js(flip, False)
    tab.sleep(2.5)
    carried = [(r["kind"], m["event"]) for r in tab.records if r["kind"] in ("fetch", "beacon")
               and r["url"].endswith("/v1/batch") for m in json.loads(r["body"])["batch"] if m.get("event") == "Before Switch"]
    assert carried == [("beacon", "Before Switch")]
    exactly_once(live_collector, "event = 'Before Switch'", 1)


NO_STORAGE = """for (const k of ['localStorage', 'sessionStorage'])
    Object.defineProperty(window, k, {get() { throw new DOMException('blocked', 'SecurityError') }})"""


def test_without_web_storage_the_session_lasts_for_the_page(live_collector_factory, tab_factory):
    lc = live_collector_factory(site_extra={"consent_default": "granted"})
    tab = tab_factory(lc.url)
    tab.context.add_init_script(NO_STORAGE)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.js("() => footpath('track', 'One')")
    tab.sleep(1.2)
    tab.js("() => { footpath('track', 'Two'); history.pushState({}, '', '/__fixtures__/no-storage/2') }")
    tab.sleep(1)
    tab.js("() => footpath('track', 'Three')")
    got = wait_rows(lc, 5, "event != 'Page Engaged'")
    assert [(r["type"], r["event"]) for r in got] == [
        ("page", ""), ("track", "One"), ("track", "Two"), ("page", ""), ("track", "Three")]
    assert len({r["session_id"] for r in got}) == 1 and got[0]["session_id"]
    assert [r["seq"] for r in got] == sorted(r["seq"] for r in got) and len({r["seq"] for r in got}) == 5
    assert tab.errors == []
