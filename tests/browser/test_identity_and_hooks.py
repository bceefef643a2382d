"""Identity, engagement, autocapture and the privacy hooks in a real browser; and a
tag that never throws into the page, whatever the page does to it."""

from __future__ import annotations

from .conftest import rows, wait_rows

GRANT = "() => footpath('consent', {analytics: 'granted'})"


def test_identify_links_and_reset_starts_a_new_anonymous_id(live_collector, tab_factory):
    lc = live_collector
    tab = tab_factory(lc.url)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.js(GRANT)
    tab.js("() => { footpath('track', 'Before Login'); footpath('identify', 'user-1', {plan: 'pro'}); footpath('track', 'Logged In Thing') }")
    tab.js("() => { footpath('group', 'acme', {seats: 3}); footpath('reset'); footpath('track', 'After Logout') }")
    got = wait_rows(lc, 1, "event = 'After Logout'")
    by = {r["event"] or r["type"]: r for r in rows(lc)}
    a = by["Before Login"]["anonymous_id"]
    assert a and by["Before Login"]["user_id"] == ""
    assert (by["identify"]["user_id"], by["identify"]["anonymous_id"]) == ("user-1", a)
    assert (by["Logged In Thing"]["user_id"], by["Logged In Thing"]["anonymous_id"]) == ("user-1", a)
    assert by["group"]["user_id"] == "user-1"
    assert lc.sql("SELECT group_id, traits FROM footpath.events WHERE type = 'group'") == [["acme", '{"seats":3}']]
    after = got[0]
    assert after["user_id"] == "" and after["anonymous_id"] not in ("", a)
    assert after["session_id"] != by["Before Login"]["session_id"]
    cookie = [c["value"] for c in tab.cookies() if c["name"] == "fp_id"]
    assert cookie == [after["anonymous_id"]]


def test_identity_persists_across_pages(live_collector, tab_factory):
    lc = live_collector
    tab = tab_factory(lc.url)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.js(GRANT)
    tab.js("() => footpath('identify', 'user-2')")
    tab.page.click("#next")
    tab.page.wait_for_url("**/next.html")
    tab.wait_tag()
    tab.js("() => footpath('track', 'On Next')")
    got = wait_rows(lc, 1, "event = 'On Next'")[0]
    first = rows(lc, "type = 'page'")[0]
    assert (got["user_id"], got["anonymous_id"], got["session_id"]) == ("user-2", first["anonymous_id"], first["session_id"])


def test_engagement_is_sent_when_the_page_is_left(live_collector, tab_factory):
    lc = live_collector
    tab = tab_factory(lc.url, viewport={"width": 800, "height": 600})
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.js(GRANT)
    assert tab.js("() => document.hasFocus() && !document.hidden")
    for i in range(6):  # about 3 s of a reader moving and scrolling
        tab.page.mouse.move(100 + 20 * i, 200 + 10 * i)
        tab.page.mouse.wheel(0, 250)
        tab.sleep(0.5)
    depth_expected = tab.js("() => Math.min(100, Math.floor((scrollY + innerHeight) / document.documentElement.scrollHeight * 100))")
    tab.page.click("#next")
    tab.page.wait_for_url("**/next.html")
    got = wait_rows(lc, 1, "event = 'Page Engaged'")
    assert len(got) == 1
    p = got[0]["properties"]
    assert 2000 <= p["engaged_ms"] <= 6000, p
    assert p["scroll_depth"] == depth_expected and depth_expected > 40
    first_view = rows(lc, "type = 'page'")[0]
    assert got[0]["page_view_id"] == first_view["page_view_id"]
    assert got[0]["path"] == "/__fixtures__/page.html"


def test_autocapture_is_loaded_on_demand_and_captures_links_and_forms(live_collector_factory, tab_factory):
    lc = live_collector_factory(site_extra={"autocapture": True, "consent_default": "granted"})
    tab = tab_factory(lc.url)
    tab.open("/__fixtures__/autocapture.html")
    tab.wait_tag()
    tab.page.wait_for_function("() => [...document.scripts].some((s) => s.src.endsWith('/t/ac.js'))")
    tab.sleep(0.5)
    # An outbound link (another host: localhost instead of 127.0.0.1), a download, a form.
    with tab.page.expect_navigation():
        tab.page.click("#out")
    tab.page.go_back()
    tab.wait_tag()
    tab.sleep(0.5)
    tab.page.click("#file")  # a download: no navigation
    tab.sleep(0.3)
    with tab.page.expect_navigation():
        tab.page.fill("#email", "someone@example.com")
        tab.page.click("#send")
    got = wait_rows(lc, 3, "event IN ('Outbound Link Clicked', 'File Downloaded', 'Form Submitted')")
    ev = {r["event"]: r["properties"] for r in got}
    port = lc.url.rsplit(":", 1)[1]
    assert ev["Outbound Link Clicked"] == {"url": f"http://localhost:{port}/__fixtures__/external.html?k=v",
                                           "text": "Partner site"}
    assert ev["File Downloaded"] == {"url": lc.url + "/__fixtures__/files/price-list.pdf", "text": "Price list",
                                     "file_extension": "pdf"}
    assert ev["Form Submitted"] == {"form_id": "signup", "form_name": "newsletter",
                                    "action": "/__fixtures__/next.html", "method": "get"}
    # The form's GET navigation put the e-mail in the URL: it never leaves the browser.
    next_view = wait_rows(lc, 1, "type = 'page' AND path = '/__fixtures__/next.html'")[0]
    assert "email" not in next_view["url"] and "someone" not in str(rows(lc))
    assert tab.errors == []


def test_before_send_redacts_or_drops(live_collector, tab_factory):
    lc = live_collector
    tab = tab_factory(lc.url)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.js("""() => footpath('beforeSend', (m) => {
        if (m.event === 'Drop Me') return null
        if (m.event === 'Throw') throw new Error('hook bug')
        if (m.properties && m.properties.card) m.properties.card = '[redacted]'
        return m
    })""")
    tab.js(GRANT)
    tab.js("() => { footpath('track', 'Paid', {card: '4111111111111111'}); footpath('track', 'Drop Me'); footpath('track', 'Throw'); footpath('track', 'Last') }")
    wait_rows(lc, 1, "event = 'Last'")
    assert [r["properties"] for r in rows(lc, "event = 'Paid'")] == [{"card": "[redacted]"}]
    assert rows(lc, "event IN ('Drop Me', 'Throw')") == []
    assert "4111" not in str(tab.batches())
    assert tab.errors == []


def test_the_tag_never_throws_into_the_page(live_collector, tab_factory):
    lc = live_collector
    tab = tab_factory(lc.url)
    # Storage that throws on every use (some privacy modes, disabled cookies).
    tab.context.add_init_script("""
        for (const m of ['getItem', 'setItem', 'removeItem', 'key']) {
            Storage.prototype[m] = function () { throw new DOMException('denied', 'SecurityError') }
        }
    """)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    out = tab.js("""() => {
        const r = []
        r.push(footpath('consent', {analytics: 'granted'}))
        r.push(footpath('track'))                     // no name
        r.push(footpath('nonsense', 1, 2))            // unknown call
        r.push(footpath('identify', {circular: window}))
        r.push(footpath('page', null))
        history.pushState({}, '', '/__fixtures__/page.html?x=1')
        history.replaceState(null, '')
        r.push(footpath('track', 'Still Works', {ok: true}))
        return r.length
    }""")
    assert out == 6
    # Without storage the tag still sends, from memory.
    wait_rows(lc, 1, "event = 'Still Works'")
    assert tab.errors == []


def test_build_variants_work_in_the_browser(live_collector_factory, tab_factory):
    lc = live_collector_factory(site_extra={"autocapture": True, "consent_default": "granted"})
    for variant, captures in (("full", True), ("lite", True)):
        tab = tab_factory(lc.url)
        tab.open(f"/__fixtures__/variant-{variant}.html")
        tab.wait_tag()
        tab.sleep(0.5)
        tab.page.click("#file")
        tab.js(f"() => footpath('track', 'Variant {variant}')")
        wait_rows(lc, 1, f"event = 'Variant {variant}'")
        scripts = tab.js("() => [...document.scripts].map((s) => s.src).filter(Boolean)")
        if variant == "full":  # autocapture built in: nothing more to load
            assert not any(s.endswith("/t/ac.js") for s in scripts)
        else:  # lite still loads the module when the site asks for it
            assert any(s.endswith("/t/ac.js") for s in scripts)
        assert len(rows(lc, f"event = 'File Downloaded' AND url LIKE '%variant-{variant}%'")) == (1 if captures else 0)
        assert len(rows(lc, f"type = 'page' AND path = '/__fixtures__/variant-{variant}.html'")) == 1
        assert tab.errors == []
