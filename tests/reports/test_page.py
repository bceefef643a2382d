"""The report page in headless Chromium (Debian's, no browser download): it renders the
fallout bars and the path Sankey, and the numbers on it are the API's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.conftest import ADMIN
from tests.reports.conftest import Env

CHROMIUM = os.environ.get("FOOTPATH_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.browser


@pytest.fixture
def browser(chromium: Browser) -> Browser:
    return chromium  # the session's one Chromium (tests/conftest.py)


@pytest.fixture
def page(browser: Browser, reports_env: Env) -> Iterator[Page]:
    ctx = browser.new_context()
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    # and nothing the console reports as an error (a failed request, e.g. the page's icon),
    # but the answers a test expects to fail (ALLOWED)
    pg.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    pg.goto(reports_env.url + "/reports")
    yield pg
    ctx.close()
    allowed = ALLOWED.pop(id(pg), ())
    assert not [e for e in errors if not any(a in e for a in allowed)], errors


ALLOWED: dict[int, tuple[str, ...]] = {}  # id(page) -> console errors its test expects


def dates(env: Env) -> tuple[str, str]:
    start = datetime.fromtimestamp(env.base / 1000, UTC) - timedelta(days=1)
    return start.date().isoformat(), (start + timedelta(days=7)).date().isoformat()


def api(env: Env, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(f"{env.url}/v1/reports/{kind}", json=body, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def setup(pg: Page, env: Env, dataset: str, container: str) -> tuple[str, str]:
    pg.fill("#token", ADMIN)
    pg.dispatch_event("#token", "change")
    pg.wait_for_selector(f"#site option[value='{env.sites[dataset]}']", state="attached")
    pg.select_option("#site", env.sites[dataset])
    start, end = dates(env)
    pg.fill("#from", start)
    pg.fill("#to", end)
    pg.select_option("#container", container)
    return start, end


def test_fallout_bars_match_the_api(page: Page, reports_env: Env) -> None:
    env = reports_env
    start, end = setup(page, env, "window", "session")
    rows = page.locator("#steps .step")
    rows.nth(0).locator(".step-type").select_option("page")
    rows.nth(0).locator(".step-value").fill("/product/*")
    rows.nth(1).locator(".step-type").select_option("track")
    rows.nth(1).locator(".step-value").fill("Product Added")
    page.fill("#window", "10")
    page.select_option("#window-unit", "60")
    page.click("#run-fallout")
    page.wait_for_selector(".funnel-step[data-index='1']")
    doc = api(env, "fallout", {"site": env.sites["window"], "from": start, "to": end, "container": "session",
                               "steps": [{"type": "page", "path": "/product/*"},
                                         {"type": "track", "event": "Product Added"}], "window_seconds": 600})
    assert [s["entered"] for s in doc["steps"]] == [4, 2]
    for i, s in enumerate(doc["steps"]):
        bar = page.locator(f".funnel-step[data-index='{i}']")
        assert int(bar.get_attribute("data-entered")) == s["entered"]
        assert bar.locator(".entered").inner_text() == str(s["entered"])
        width = bar.locator(".bar").evaluate("e => e.style.width")
        assert float(width.rstrip("%")) == pytest.approx(100 * s["entered"] / doc["steps"][0]["entered"], abs=0.01)
    drop = page.locator(".drop[data-index='0']")
    assert drop.locator(".drop-pct").inner_text() == "50.0%"
    assert drop.locator(".fell-out").inner_text() == str(doc["steps"][0]["fell_out"])
    assert "median 550.0 s" in drop.inner_text()
    assert "materialized views" in page.inner_text("#status")


def test_fallout_breakdown_table(page: Page, reports_env: Env) -> None:
    env = reports_env
    start, end = setup(page, env, "main", "person")
    rows = page.locator("#steps .step")
    rows.nth(0).locator(".step-value").fill("/product/*")
    rows.nth(1).locator(".step-value").fill("Order Completed")
    page.select_option("#breakdown", "utm_source")
    page.click("#run-fallout")
    page.wait_for_selector("table.breakdown tbody tr")
    doc = api(env, "fallout", {"site": env.sites["main"], "from": start, "to": end, "container": "person",
                               "steps": [{"type": "page", "path": "/product/*"},
                                         {"type": "track", "event": "Order Completed"}],
                               "window_seconds": 30 * 86400, "breakdown": "utm_source"})
    table = {tr.get_attribute("data-value"): [int(td.replace(",", "")) for td in tr.locator("td").all_inner_texts()[1:-1]]
             for tr in page.locator("table.breakdown tbody tr").all()}
    assert table == {v: [s["entered"] for s in b["steps"]] for v, b in doc["breakdown"].items()}
    assert len(table) >= 3


def test_paths_sankey_matches_the_api(page: Page, reports_env: Env) -> None:
    env = reports_env
    start, end = setup(page, env, "strict", "session")
    page.click(".tab[data-tab='paths']")
    page.check(".include[value='track']")
    page.fill("#depth", "2")
    page.fill("#top", "1")
    page.click("#run-paths")
    page.wait_for_selector("svg.sankey g.node")
    doc = api(env, "paths", {"site": env.sites["strict"], "from": start, "to": end, "container": "session",
                             "depth": 2, "top": 1, "include": ["page", "track"], "collapse_repeats": False})
    nodes = {g.get_attribute("data-id"): int(g.get_attribute("data-count"))
             for g in page.locator("svg.sankey g.node").all()}
    assert nodes == {n["id"]: n["count"] for n in doc["nodes"]}
    assert nodes["1:Checkout Started"] == 3 and nodes["1:(other)"] == 2
    links = {(p.get_attribute("data-source"), p.get_attribute("data-target")): int(p.get_attribute("data-value"))
             for p in page.locator("svg.sankey path.link").all()}
    assert links == {(lk["source"], lk["target"]): lk["value"] for lk in doc["links"]}
    label = page.locator("svg.sankey g.node[data-id='0:/cart'] text").text_content()
    assert label.startswith("/cart") and "(5)" in label
    # every node is drawn inside the picture with a height proportional to its count
    heights = page.eval_on_selector_all("svg.sankey g.node rect", "rs => rs.map(r => r.getBBox().height)")
    assert all(h > 0 for h in heights)

    page.select_option("#anchor-kind", "end")
    page.locator("#anchor-step .step-value").fill("/checkout")
    page.click("#run-paths")
    page.wait_for_selector("svg.sankey g.node[data-id='-1:Checkout Started']")
    assert int(page.get_attribute("svg.sankey g.node[data-id='0:/checkout']", "data-count")) == 5


def test_wrong_token_shows_the_error(page: Page, reports_env: Env) -> None:
    ALLOWED[id(page)] = ("status of 401 (Unauthorized)",)
    page.fill("#token", "not-the-token")
    page.dispatch_event("#token", "change")
    page.wait_for_function("document.querySelector('#status').textContent.includes('admin bearer token')")
