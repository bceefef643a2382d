"""Automatic page views in a real browser: a scripted SPA journey gives exactly the
page views it should (history API, back, redirects, query-only changes, a router that
also calls page()), titles read after they settle, hash routes as an option, bfcache
restores, campaign parameters kept and denylisted parameters stripped."""

from __future__ import annotations

import json
import time

from .conftest import rows, wait_rows

GRANT = "() => footpath('consent', {analytics: 'granted'})"
SETTLE = 0.9  # longer than the tag's title-settling wait


def test_scripted_spa_journey_yields_exactly_the_expected_page_views(live_collector, tab_factory):
    base = live_collector.url
    tab = tab_factory(base)
    tab.open("/__fixtures__/spa.html")
    tab.wait_tag()
    tab.js(GRANT)
    tab.sleep(SETTLE)
    steps = [
        "go('/__fixtures__/spa/products', 'Products')",
        "go('/__fixtures__/spa/products/42', 'Product 42')",
        "swap('/__fixtures__/spa/products/42?color=red', 'Product 42 (red)')",  # same path: no view
        "goAndPage('/__fixtures__/spa/cart', 'Cart')",  # the site calls page() too: one view
        "go('/__fixtures__/spa/old', 'Old'); swap('/__fixtures__/spa/new', 'New')",  # redirect: one view
        "history.back()",  # popstate back to the cart
        "go('/__fixtures__/spa/cart', 'Cart again')",  # pushState to where we are: no view
    ]
    for s in steps:
        tab.js(f"() => {{ {s} }}")
        tab.sleep(SETTLE)
    tab.js("() => footpath('track', 'Journey Done')")

    # path, title, referrer: in an SPA the referrer is the previous page view's URL as
    # it was counted (GA4's page_referrer rule), so the query-only change is not in it.
    expected = [
        ("/__fixtures__/spa.html", "SPA home", ""),
        ("/__fixtures__/spa/products", "Products", base + "/__fixtures__/spa.html"),
        ("/__fixtures__/spa/products/42", "Product 42", base + "/__fixtures__/spa/products"),
        ("/__fixtures__/spa/cart", "Cart", base + "/__fixtures__/spa/products/42"),
        ("/__fixtures__/spa/new", "New", base + "/__fixtures__/spa/cart"),
        ("/__fixtures__/spa/cart", "SPA /__fixtures__/spa/cart", base + "/__fixtures__/spa/new"),
    ]
    wait_rows(live_collector, 1, "event = 'Journey Done'")
    views = rows(live_collector, "type = 'page'")
    assert [(v["path"], v["title"], v["referrer"]) for v in views] == expected
    assert [v["url"] for v in views] == [base + p for p, _, _ in expected]
    # Properties carry the page too (Segment's page spec).
    assert views[1]["properties"]["path"] == "/__fixtures__/spa/products"
    assert views[1]["properties"]["title"] == "Products"
    # One session, strictly increasing sequence numbers, a fresh page-view id each.
    everything = rows(live_collector)
    assert len({r["session_id"] for r in everything}) == 1
    seqs = [r["seq"] for r in everything]
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    assert len({v["page_view_id"] for v in views}) == len(views)
    done = rows(live_collector, "event = 'Journey Done'")[0]
    assert done["page_view_id"] == views[-1]["page_view_id"]
    assert tab.errors == []


def test_site_calling_page_on_load_gives_one_view_not_two(live_collector, tab_factory):
    tab = tab_factory(live_collector.url)
    # A site whose own code calls page() with a name before the tag has loaded.
    tab.context.add_init_script("""
        window.footpath = function () { (footpath.q = footpath.q || []).push(arguments) }
        footpath('consent', 'granted')
        footpath('page', 'Landing', {variant: 'b'})
    """)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.sleep(SETTLE)
    # ...and again after the tag counted nothing twice.
    tab.js("() => footpath('track', 'After')")
    wait_rows(live_collector, 1, "event = 'After'")
    views = rows(live_collector, "type = 'page'")
    assert len(views) == 1
    assert views[0]["properties"]["variant"] == "b"
    assert live_collector.sql("SELECT name FROM footpath.events WHERE type = 'page'") == [["Landing"]]


def test_late_page_call_for_a_route_already_counted_is_not_a_double(live_collector, tab_factory):
    tab = tab_factory(live_collector.url)
    tab.open("/__fixtures__/spa.html")
    tab.wait_tag()
    tab.js(GRANT)
    tab.sleep(SETTLE)
    tab.js("() => go('/__fixtures__/spa/a', 'A')")
    tab.sleep(SETTLE)  # the tag has counted /spa/a by now
    tab.js("() => footpath('page')")  # a router integration that calls page() late
    tab.js("() => footpath('page')")  # a second explicit call is the site's own choice
    tab.js("() => footpath('track', 'End')")
    wait_rows(live_collector, 1, "event = 'End'")
    assert [v["path"] for v in rows(live_collector, "type = 'page'")] == [
        "/__fixtures__/spa.html", "/__fixtures__/spa/a", "/__fixtures__/spa/a"]


def test_events_right_after_a_route_change_follow_its_page_view(live_collector, tab_factory):
    tab = tab_factory(live_collector.url)
    tab.open("/__fixtures__/spa.html")
    tab.wait_tag()
    tab.js(GRANT)
    tab.sleep(SETTLE)
    # No wait: the track comes before the title has settled.
    tab.js("() => { go('/__fixtures__/spa/p/1', 'P1'); footpath('track', 'Product Added', {sku: 'p1'}) }")
    got = wait_rows(live_collector, 1, "event = 'Product Added'")
    views = rows(live_collector, "type = 'page'")
    assert [v["path"] for v in views] == ["/__fixtures__/spa.html", "/__fixtures__/spa/p/1"]
    assert got[0]["page_view_id"] == views[1]["page_view_id"]
    assert got[0]["seq"] == views[1]["seq"] + 1
    assert got[0]["path"] == "/__fixtures__/spa/p/1"


def test_hash_routes_count_only_when_the_site_enables_them(live_collector_factory, tab_factory):
    for hash_routes, want in ((False, ["/__fixtures__/spa.html"]),
                              (True, ["/__fixtures__/spa.html#/home", "/__fixtures__/spa.html#/cart"])):
        lc = live_collector_factory(site_extra={"hash_routes": hash_routes, "consent_default": "granted"})
        tab = tab_factory(lc.url)
        tab.open("/__fixtures__/spa.html#/home")
        tab.wait_tag()
        tab.sleep(SETTLE)
        tab.js("() => { location.hash = '#/cart' }")
        tab.sleep(SETTLE)
        tab.js("() => footpath('track', 'End')")
        wait_rows(lc, 1, "event = 'End'")
        assert [v["path"] for v in rows(lc, "type = 'page'")] == want, hash_routes


def test_campaign_parameters_stay_and_denylisted_ones_never_leave(live_collector, tab_factory):
    tab = tab_factory(live_collector.url)
    q = "?utm_source=newsletter&utm_campaign=spring&Email=someone%40example.com&gclid=abc&token=s3cr3t&page=2"
    tab.open("/__fixtures__/page.html" + q)
    tab.wait_tag()
    tab.js(GRANT)
    got = wait_rows(live_collector, 1, "type = 'page'")
    want = live_collector.url + "/__fixtures__/page.html?utm_source=newsletter&utm_campaign=spring&gclid=abc&page=2"
    assert got[0]["url"] == want
    assert got[0]["utm_source"] == "newsletter"
    assert got[0]["properties"]["search"] == "?utm_source=newsletter&utm_campaign=spring&gclid=abc&page=2"
    body = " ".join(r.post_data or "" for r in tab.requests if r.method == "POST")
    assert "someone" not in body and "s3cr3t" not in body


def test_bfcache_restore_counts_a_new_page_view(live_collector, tab_factory):
    tab = tab_factory(live_collector.url)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    tab.js(GRANT)
    tab.sleep(SETTLE)
    tab.page.click("#next")
    tab.page.wait_for_url("**/next.html")
    tab.wait_tag()
    tab.sleep(SETTLE)
    tab.page.go_back()
    restored = tab.js("() => performance.getEntriesByType('navigation')[0].type")
    tab.sleep(SETTLE)
    tab.js("() => footpath('track', 'Back Again')")
    wait_rows(live_collector, 1, "event = 'Back Again'")
    paths = [v["path"] for v in rows(live_collector, "type = 'page'")]
    # Restored from the back/forward cache or loaded anew: either way one view per visit.
    assert paths == ["/__fixtures__/page.html", "/__fixtures__/next.html", "/__fixtures__/page.html"], restored
    views = rows(live_collector, "type = 'page'")
    assert len({v["page_view_id"] for v in views}) == 3


def test_calls_right_after_load_follow_the_page_view_they_belong_to(live_collector, tab_factory):
    tab = tab_factory(live_collector.url)
    # A track queued by the stub before the tag loads, and a consent manager that
    # answers the moment the tag is there (inside the title-settling wait).
    tab.context.add_init_script("""
        window.footpath = function () { (footpath.q = footpath.q || []).push(arguments) }
        footpath('track', 'Early Bird', {n: 1})
    """)
    tab.open("/__fixtures__/page.html")
    tab.page.wait_for_function("() => window.footpath && window.footpath.v")
    tab.js(GRANT)
    got = wait_rows(live_collector, 3, "event != 'Page Engaged'")
    assert [(r["type"], r["event"]) for r in got] == [
        ("page", ""), ("track", "Early Bird"), ("track", "Consent Updated")]
    assert got[0]["page_view_id"] == got[1]["page_view_id"] == got[2]["page_view_id"]
    assert [r["seq"] for r in got] == [1, 2, 3]


def test_page_call_with_only_properties_sends_them_and_no_name(live_collector, tab_factory):
    tab = tab_factory(live_collector.url)
    tab.open("/__fixtures__/spa.html")
    tab.wait_tag()
    tab.js(GRANT)
    tab.sleep(SETTLE)
    # footpath('page', [name], [properties]): a router hook that passes properties only.
    tab.js("() => { history.pushState({}, '', '/__fixtures__/spa/cart'); footpath('page', {section: 'cart'}) }")
    tab.sleep(SETTLE)
    tab.js("() => footpath('track', 'End')")
    wait_rows(live_collector, 1, "event = 'End'")
    sent = [m for m in tab.sent() if m["type"] == "page" and m["properties"].get("section")]
    assert len(sent) == 1 and "name" not in sent[0], sent
    views = rows(live_collector, "type = 'page'")
    assert [(v["path"], v["name"], v["properties"].get("section")) for v in views] == [
        ("/__fixtures__/spa.html", "", None), ("/__fixtures__/spa/cart", "", "cart")]


def test_hash_routes_lose_denylisted_parameters_inside_the_fragment(live_collector_factory, tab_factory):
    lc = live_collector_factory(site_extra={"hash_routes": True, "consent_default": "granted"})
    tab = tab_factory(lc.url)
    tab.open("/__fixtures__/spa.html#/home")
    tab.wait_tag()
    tab.sleep(SETTLE)
    tab.js("() => { location.hash = '#/login?email=bob%40x.example&next=%2Fcart&Token=s3cret' }")
    tab.sleep(SETTLE)
    tab.js("() => { location.hash = '#/account' }")
    tab.sleep(SETTLE)
    tab.js("() => footpath('track', 'End')")
    wait_rows(lc, 1, "event = 'End'")
    base = lc.url + "/__fixtures__/spa.html"
    views = rows(lc, "type = 'page'")
    assert [(v["path"], v["url"], v["referrer"]) for v in views] == [
        ("/__fixtures__/spa.html#/home", base + "#/home", ""),
        ("/__fixtures__/spa.html#/login?next=%2Fcart", base + "#/login?next=%2Fcart", base + "#/home"),
        ("/__fixtures__/spa.html#/account", base + "#/account", base + "#/login?next=%2Fcart"),
    ]
    body = " ".join(b for r in tab.records if r["kind"] in ("fetch", "beacon") for b in [r["body"] or ""])
    assert "bob" not in body and "s3cret" not in body


def test_without_hash_routes_the_referrer_loses_the_fragment_too(live_collector, tab_factory):
    tab = tab_factory(live_collector.url)
    # An OAuth implicit-flow return: the token is in the fragment.
    tab.open("/__fixtures__/page.html?x=1#access_token=ya29.SECRET&state=abc")
    tab.wait_tag()
    tab.js(GRANT)
    tab.sleep(SETTLE)
    tab.js("() => history.pushState({}, '', '/__fixtures__/app/home')")
    tab.sleep(SETTLE)
    tab.js("() => footpath('track', 'End')")
    wait_rows(live_collector, 1, "event = 'End'")
    views = rows(live_collector, "type = 'page'")
    page = live_collector.url + "/__fixtures__/page.html?x=1"
    assert [(v["url"], v["referrer"]) for v in views] == [
        (page, ""), (live_collector.url + "/__fixtures__/app/home", page)]
    assert "SECRET" not in json.dumps(tab.sent())


def test_hash_route_site_with_slow_settings_counts_the_first_view_once(live_collector_factory, tab_factory):
    lc = live_collector_factory(site_extra={"hash_routes": True, "consent_default": "granted"})
    tab = tab_factory(lc.url)

    def slow(route):  # the settings arrive after the first view has settled
        time.sleep(0.5)
        route.continue_()

    tab.page.route("**/v1/sites/**", slow)
    tab.open("/__fixtures__/spa.html#/a")
    tab.wait_tag()
    tab.sleep(SETTLE)
    tab.js("() => history.replaceState(null, '', location.pathname + '?sort=price' + location.hash)")  # query only
    tab.sleep(SETTLE)
    tab.js("() => { location.hash = '#/b' }")
    tab.sleep(SETTLE)
    tab.js("() => footpath('track', 'End')")
    wait_rows(lc, 1, "event = 'End'")
    assert [v["path"] for v in rows(lc, "type = 'page'")] == [
        "/__fixtures__/spa.html#/a", "/__fixtures__/spa.html#/b"]
