"""Consent in a real browser against the real collector: pending holds events (across a
navigation) and a grant flushes them with their original timestamps; denied sends
nothing and stores nothing; Global Privacy Control as the site configures it."""

from __future__ import annotations

from .conftest import rows, wait_for, wait_rows

NOT_ENGAGED = "event != 'Page Engaged'"


def test_pending_then_granted_flushes_in_order_with_original_timestamps(live_collector, tab_factory):
    tab = tab_factory(live_collector.url)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.sleep(0.5)  # the automatic page view waits for the title to settle
    before_a = tab.now()
    tab.js("() => footpath('track', 'Pending A', {n: 1})")
    after_a = tab.now()
    tab.sleep(1.2)
    before_b = tab.now()
    tab.js("() => footpath('track', 'Pending B', {n: 2})")
    after_b = tab.now()
    # The pending buffer survives the first navigation (sessionStorage).
    tab.page.click("#next")
    tab.page.wait_for_url("**/next.html")
    tab.wait_tag()
    tab.sleep(1.5)
    assert tab.batches() == [], "nothing may be sent while consent is pending"
    assert tab.cookies() == []
    assert [k for k in tab.storage()["local"] if k.startswith("fp_")] == []
    before_grant = tab.now()
    tab.js("() => footpath('consent', {analytics: 'granted'})")

    got = wait_rows(live_collector, 5, NOT_ENGAGED)
    assert [(r["type"], r["event"], r["path"]) for r in got] == [
        ("page", "", "/__fixtures__/page.html"),
        ("track", "Pending A", "/__fixtures__/page.html"),
        ("track", "Pending B", "/__fixtures__/page.html"),
        ("page", "", "/__fixtures__/next.html"),
        ("track", "Consent Updated", "/__fixtures__/next.html"),
    ]
    a, b = got[1], got[2]
    assert before_a <= a["original_ms"] <= after_a
    assert before_b <= b["original_ms"] <= after_b
    # Corrected for clock skew, the event time is still the original one: the tag
    # and the collector share this machine's clock (allow a little for rounding).
    assert abs(a["ts_ms"] - a["original_ms"]) < 1000 and abs(b["ts_ms"] - b["original_ms"]) < 1000
    assert a["received_ms"] >= before_grant and a["received_ms"] - a["original_ms"] > 2500
    # One visitor, one session, numbered in the order things happened.
    assert len({r["anonymous_id"] for r in got}) == 1 and got[0]["anonymous_id"]
    assert len({r["session_id"] for r in got}) == 1 and got[0]["session_id"]
    seqs = [r["seq"] for r in rows(live_collector)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert {r["consent_analytics"] for r in got} == {"granted"}
    assert got[4]["properties"] == {"analytics": "granted", "previous": "pending"}
    assert got[0]["page_view_id"] == a["page_view_id"] == b["page_view_id"] != got[3]["page_view_id"]
    # Now the id lives in a first-party cookie and in localStorage, the same value.
    cookie = [c for c in tab.cookies() if c["name"] == "fp_id"]
    assert len(cookie) == 1 and cookie[0]["value"] == got[0]["anonymous_id"]
    assert got[0]["anonymous_id"] in tab.storage()["local"]["fp_a"]
    assert tab.errors == []


def test_pending_then_denied_drops_everything(live_collector, tab_factory):
    tab = tab_factory(live_collector.url)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.js("() => footpath('track', 'Held', {})")
    assert "fp_ppk_test" in tab.storage()["session"]  # the pending buffer, per site
    tab.js("() => footpath('consent', {analytics: 'denied'})")
    assert tab.storage() == {"local": {}, "session": {}}
    tab.js("() => footpath('track', 'After Deny', {})")
    tab.sleep(2.5)
    tab.open("/__fixtures__/external.html")
    tab.sleep(1)
    assert tab.batches() == []
    assert rows(live_collector) == []
    assert tab.cookies() == []


def test_denied_stores_nothing_identifying_and_sets_no_cookie_or_storage(live_collector, tab_factory):
    tab = tab_factory(live_collector.url)
    tab.open("/__fixtures__/denied.html")
    tab.wait_tag()
    # Everything a site does: events, identify, SPA navigation, page(), leaving.
    tab.js("""() => {
        footpath('identify', 'user-42', {email: 'a@b.example'})
        footpath('track', 'Added To Cart', {sku: 'X'})
        footpath('group', 'acme')
        history.pushState({}, '', '/__fixtures__/denied/spa')
        footpath('page')
    }""")
    tab.sleep(2.5)
    assert tab.cookies() == []
    assert tab.storage() == {"local": {}, "session": {}}
    tab.open("/__fixtures__/external.html")  # pagehide: no beacon either
    tab.sleep(1)
    assert tab.batches() == []
    tag_requests = [r.url for r in tab.requests if "/v1/" in r.url]
    assert tag_requests == [live_collector.url + "/v1/sites/pk_test/config"]
    assert rows(live_collector) == []
    assert tab.errors == []


def test_withdrawing_consent_wipes_ids_and_stops_sending(live_collector, tab_factory):
    tab = tab_factory(live_collector.url)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.js("() => footpath('consent', 'granted')")
    tab.js("() => footpath('identify', 'user-7')")
    wait_rows(live_collector, 3, NOT_ENGAGED)  # page, Consent Updated, identify
    assert any(c["name"] == "fp_id" for c in tab.cookies())
    tab.js("() => footpath('consent', {analytics: 'denied'})")
    assert tab.cookies() == []
    assert tab.storage() == {"local": {}, "session": {}}
    n = len(tab.batches())
    tab.js("() => footpath('track', 'After Withdrawal')")
    tab.sleep(2.5)
    tab.open("/__fixtures__/external.html")
    tab.sleep(1)
    assert len(tab.batches()) == n
    assert rows(live_collector, "event = 'After Withdrawal'") == []


def test_consent_is_remembered_on_the_next_page_without_a_new_consent_event(live_collector, tab_factory):
    tab = tab_factory(live_collector.url)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.js("() => footpath('consent', {analytics: 'granted'})")
    tab.page.click("#next")
    tab.page.wait_for_url("**/next.html")
    tab.wait_tag()
    # The site's consent manager repeats its answer on every page: no change, no event.
    tab.js("() => footpath('consent', {analytics: 'granted'})")
    got = wait_rows(live_collector, 3, NOT_ENGAGED)
    assert [(r["type"], r["event"], r["path"]) for r in got] == [
        ("page", "", "/__fixtures__/page.html"),
        ("track", "Consent Updated", "/__fixtures__/page.html"),
        ("page", "", "/__fixtures__/next.html"),
    ]
    assert got[0]["anonymous_id"] == got[2]["anonymous_id"]


GPC = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"


def test_gpc_means_denied_when_the_site_honours_it(live_collector_factory, tab_factory):
    lc = live_collector_factory(site_extra={"consent_default": "granted", "gpc": True})
    tab = tab_factory(lc.url)
    tab.context.add_init_script(GPC)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    assert tab.js("() => navigator.globalPrivacyControl") is True
    tab.js("() => footpath('track', 'Under GPC')")
    tab.sleep(2.5)
    tab.open("/__fixtures__/external.html")
    tab.sleep(1)
    assert tab.batches() == []
    assert tab.cookies() == []
    assert rows(lc) == []


def test_gpc_is_ignored_when_the_site_turns_it_off(live_collector_factory, tab_factory):
    lc = live_collector_factory(site_extra={"consent_default": "granted", "gpc": False})
    tab = tab_factory(lc.url)
    tab.context.add_init_script(GPC)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.js("() => footpath('track', 'Despite GPC')")
    got = wait_rows(lc, 2, NOT_ENGAGED)
    assert [(r["type"], r["event"]) for r in got] == [("page", ""), ("track", "Despite GPC")]
    assert got[0]["anonymous_id"] and any(c["name"] == "fp_id" for c in tab.cookies())


def test_without_gpc_the_site_default_applies(live_collector_factory, tab_factory):
    lc = live_collector_factory(site_extra={"consent_default": "granted", "gpc": True})
    tab = tab_factory(lc.url)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.js("() => footpath('track', 'No GPC')")
    got = wait_for(lambda: [r for r in rows(lc) if r["event"] == "No GPC"], 20, "the event")
    assert got[0]["consent_analytics"] == "granted"


def gpc_tab(lc, tab_factory):
    """A browser sending Global Privacy Control, as the property and as the Sec-GPC header."""
    tab = tab_factory(lc.url, extra_http_headers={"Sec-GPC": "1"})
    tab.context.add_init_script(GPC)
    return tab


def test_explicit_grant_under_gpc_is_remembered_until_withdrawn(live_collector_factory, tab_factory):
    lc = live_collector_factory(site_extra={"consent_default": "granted", "gpc": True})
    tab = gpc_tab(lc, tab_factory)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.sleep(1)
    assert tab.batches() == [] and tab.cookies() == []
    tab.js("() => footpath('consent', 'granted')")  # the visitor clicks the banner
    wait_for(lambda: any(m.get("event") == "Consent Updated" for m in tab.sent()), 10, "Consent Updated")
    # The next pages: the consent manager repeats the visitor's answer, as they do.
    for path in ("/__fixtures__/next.html", "/__fixtures__/page.html"):
        tab.open(path)
        tab.wait_tag()
        tab.js("() => footpath('consent', 'granted')")
        tab.js("() => footpath('track', 'Later')")
    wait_for(lambda: len([m for m in tab.sent() if m.get("event") == "Later"]) == 2, 10, "both Later events")
    sent = [m for m in tab.sent() if m.get("event") != "Page Engaged"]
    # The first page view came under GPC, before the grant: not sent.
    assert [m.get("event") or m["type"] for m in sent] == [
        "Consent Updated", "page", "Later", "page", "Later"]
    assert len({m["anonymousId"] for m in sent}) == 1, "one visitor, not a new id per page"
    assert {m["context"]["consent"]["analytics"] for m in sent} == {"granted"}
    # Withdrawn: GPC applies again from the next page on.
    tab.js("() => footpath('consent', 'denied')")
    n = len(tab.batches())
    tab.open("/__fixtures__/next.html")
    tab.wait_tag()
    tab.js("() => footpath('track', 'After Withdrawal')")
    tab.sleep(2)
    assert len(tab.batches()) == n and tab.cookies() == []
    assert [k for k in tab.storage()["local"] if k.startswith("fp_")] == []
    assert tab.errors == []


def test_explicit_grant_under_gpc_reaches_the_collector_as_granted(live_collector_factory, tab_factory):
    """The whole path: the tag states granted only after the visitor's own grant, and the
    collector takes that over the Sec-GPC header."""
    lc = live_collector_factory(site_extra={"consent_default": "granted", "gpc": True})
    tab = gpc_tab(lc, tab_factory)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.js("() => footpath('track', 'Before Grant')")
    tab.js("() => footpath('consent', 'granted')")
    tab.page.click("#next")
    tab.page.wait_for_url("**/next.html")
    tab.wait_tag()
    tab.js("() => footpath('track', 'After Grant')")
    got = wait_rows(lc, 3, NOT_ENGAGED)
    assert [(r["type"], r["event"], r["consent_analytics"]) for r in got] == [
        ("track", "Consent Updated", "granted"), ("page", "", "granted"), ("track", "After Grant", "granted")]
    assert len({r["anonymous_id"] for r in got}) == 1 and got[0]["anonymous_id"]


def test_a_second_site_on_the_origin_has_its_own_settings_and_consent(live_collector_factory, tab_factory):
    lc = live_collector_factory(site_extra={"consent_default": "granted"})
    tab = tab_factory(lc.url)
    tab.open("/__fixtures__/page.html")  # site pk_test: granted by default, the id is made
    tab.wait_tag()
    tab.js("() => footpath('track', 'On Test')")
    wait_rows(lc, 2, NOT_ENGAGED)
    assert any(c["name"] == "fp_id" for c in tab.cookies())
    # Same tab, same origin, another site: its own settings (unknown key: safe
    # defaults, pending), never pk_test's cached ones, and pk_test's id is not its consent.
    tab.open("/__fixtures__/other-site.html")
    tab.page.wait_for_function("() => window.footpath && window.footpath.v")
    wait_for(lambda: any(r["kind"] == "response" and "/sites/pk_other/config" in r["url"] for r in tab.records),
             10, "pk_other's own settings request")
    tab.js("() => footpath('track', 'On Other')")
    tab.sleep(2.5)
    assert [b for b in tab.batches() if b.get("writeKey") == "pk_other"] == []
    assert "fp_ppk_other" in tab.storage()["session"]  # held, pending, under its own key
    # Back on pk_test: still granted, its settings still its own.
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.js("() => footpath('track', 'Back On Test')")
    wait_rows(lc, 1, "event = 'Back On Test'")


STORAGE_SPY = """(() => {
    const d = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie')
    window.__cookieWrites = []
    Object.defineProperty(Document.prototype, 'cookie', {configurable: true, get() { return d.get.call(this) },
        set(v) { window.__cookieWrites.push(v); d.set.call(this, v) }})
    const si = Storage.prototype.setItem
    window.__storageWrites = []
    Storage.prototype.setItem = function (k, v) { window.__storageWrites.push(k); return si.call(this, k, v) }
})()"""


def test_denied_before_the_tag_loads_stores_nothing_even_for_a_moment(live_collector_factory, tab_factory):
    lc = live_collector_factory(site_extra={"consent_default": "granted"})
    tab = tab_factory(lc.url)
    tab.context.add_init_script(STORAGE_SPY)
    # A returning visitor's consent manager answers before t.js has loaded.
    tab.context.add_init_script("""
        window.footpath = function () { (footpath.q = footpath.q || []).push(arguments) }
        footpath('consent', 'denied')
        footpath('track', 'Before Load')
    """)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.js("() => footpath('track', 'After Load')")
    tab.sleep(2)
    assert tab.js("() => window.__storageWrites") == []
    # Removing cookies (max-age=0) is all the tag may do to them.
    assert [c for c in tab.js("() => window.__cookieWrites") if "max-age=0" not in c] == []
    assert tab.batches() == [] and tab.cookies() == []
    assert rows(lc) == []
