"""The demo shop (sdk_js/demo, served at /demo/) with the tag against the real
collector: a shopper's journey through the SPA gives exactly the events the shop and
the tag should send."""

from __future__ import annotations

from .conftest import rows, wait_rows


def test_demo_shop_journey(live_collector_factory, tab_factory, tmp_path):
    lc = live_collector_factory(site_extra={"public_key": "pk_demo"})  # the key the demo pages use
    tab = tab_factory(lc.url)
    page = tab.open("/demo/")
    tab.wait_tag()
    assert page.is_visible("#banner")
    page.screenshot(path=str(tmp_path / "demo-banner.png"))
    tab.sleep(0.5)  # a person reads the banner first (and the tag counts the page view)
    page.click("#accept")

    def click(selector: str) -> None:  # as a person would: a look at each page first
        page.click(selector)
        tab.sleep(0.5)

    click("text=Canvas Backpack")
    assert page.url.endswith("/demo/product.html?id=p2")
    click("#add")
    click("text=View cart")
    click("#checkout")
    page.fill("#name", "Ada")
    click("#pay")
    assert "/demo/checkout.html?order=FP-" in page.url
    click("#login-link")
    click("#signin")
    click("#login-link")
    click("#logout")
    click("text=Products")  # already there: no page view
    page.screenshot(path=str(tmp_path / "demo-home.png"), full_page=True)
    tab.js("() => footpath('track', 'Journey End')")

    got = wait_rows(lc, 1, "event = 'Journey End'")
    seen = [(r["type"], r["event"] or r["path"]) for r in rows(lc, "event != 'Page Engaged'")]
    assert seen == [
        ("page", "/demo/"),
        ("track", "Consent Updated"),
        ("page", "/demo/product.html"),
        ("track", "Product Viewed"),
        ("track", "Product Added"),
        ("page", "/demo/cart.html"),
        ("track", "Cart Viewed"),
        ("page", "/demo/checkout.html"),
        ("track", "Checkout Started"),
        ("track", "Order Completed"),
        ("page", "/demo/login.html"),
        ("identify", "/demo/login.html"),
        ("track", "Signed In"),
        ("page", "/demo/"),
        ("page", "/demo/login.html"),
        ("track", "Signed Out"),
        ("page", "/demo/"),
        ("track", "Journey End"),
    ], seen
    everything = rows(lc, "event != 'Page Engaged'")
    order = next(r for r in everything if r["event"] == "Order Completed")
    assert order["properties"]["revenue"] == 79 and order["properties"]["products"][0]["product_id"] == "p2"
    signed_in = next(r for r in everything if r["event"] == "Signed In")
    assert signed_in["user_id"] == "user_ada"
    first, last = everything[0], got[0]
    assert last["user_id"] == "" and last["anonymous_id"] != first["anonymous_id"]  # reset on sign-out
    titles = [r["title"] for r in everything if r["type"] == "page"]
    assert titles[:3] == ["Products | Footpath Shop", "Canvas Backpack | Footpath Shop", "Cart | Footpath Shop"]
    assert tab.errors == []
