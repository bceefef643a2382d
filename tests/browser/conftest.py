"""Browser end-to-end fixtures: Debian's Chromium driven by Playwright (no browser
downloads), against a real `footpath serve` process (tests/conftest.py
`live_collector`) that serves the built tag at /t.js and these fixture pages at
/__fixtures__/, so pages and collector share one origin."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("FOOTPATH_CHROMIUM", "/usr/bin/chromium")
TAG = ROOT / "sdk_js" / "dist" / "t.js"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: apt-get install -y chromium"
    assert TAG.is_file(), "sdk_js/dist/t.js missing: run `make tag` (cd sdk_js && npm install && npm run build)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


class Tab:
    """One browser context (its own cookies and storage) and page, recording every
    request the page makes and every error it throws."""

    def __init__(self, context: BrowserContext, base: str):
        self.context = context
        self.base = base
        self.page: Page = context.new_page()
        self.requests: list[Request] = []
        self.errors: list[str] = []
        context.on("request", lambda r: self.requests.append(r))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, path: str) -> Page:
        self.page.goto(self.base + path, wait_until="load")
        return self.page

    def js(self, expr: str, arg: Any = None) -> Any:
        return self.page.evaluate(expr, arg)

    def batches(self) -> list[dict[str, Any]]:
        """Bodies of every POST /v1/batch so far (fetch and sendBeacon alike)."""
        out = []
        for r in list(self.requests):
            if r.method == "POST" and r.url.endswith("/v1/batch"):
                out.append(json.loads(r.post_data or "{}"))
        return out

    def sent(self) -> list[dict[str, Any]]:
        return [m for b in self.batches() for m in b.get("batch", [])]

    def cookies(self) -> list[dict[str, Any]]:
        return self.context.cookies()

    def storage(self) -> dict[str, dict[str, str]]:
        return self.js("""() => {
            const dump = (s) => Object.fromEntries(Object.keys(s).map((k) => [k, s.getItem(k)]))
            return {local: dump(localStorage), session: dump(sessionStorage)}
        }""")

    def wait_tag(self) -> None:
        """Until the tag has replaced the stub and fetched its settings."""
        self.page.wait_for_function("() => window.footpath && window.footpath.v")
        wait_for(lambda: any("/config" in r.url for r in self.requests) or self.has_cached_config(), 10, "settings")

    def has_cached_config(self) -> bool:
        return bool(self.js("() => sessionStorage.getItem('fp_c')"))

    def now(self) -> int:
        return self.js("() => Date.now()")


def wait_for(fn: Callable[[], Any], timeout: float = 20, what: str = "condition", interval: float = 0.2) -> Any:
    deadline = time.time() + timeout
    last: Any = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


@pytest.fixture
def tab_factory(chromium: Browser) -> Iterator[Callable[..., Tab]]:
    contexts: list[BrowserContext] = []

    def make(base: str, **context_kw: Any) -> Tab:
        ctx = chromium.new_context(**context_kw)
        contexts.append(ctx)
        return Tab(ctx, base)

    yield make
    for c in contexts:
        c.close()


COLUMNS = ("message_id", "type", "event", "name", "path", "url", "title", "referrer", "anonymous_id", "user_id",
           "session_id", "seq", "page_view_id", "consent_analytics", "utm_source", "properties",
           "toUnixTimestamp64Milli(timestamp)", "toUnixTimestamp64Milli(original_timestamp)",
           "toUnixTimestamp64Milli(received_at)")


def rows(collector: Any, where: str = "1", params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The site's stored events (every physical row: duplicates would show), in the
    order the tag numbered them."""
    names = [c.split("(")[-1].rstrip(")") if "(" in c else c for c in COLUMNS]
    names[-3:] = ["ts_ms", "original_ms", "received_ms"]
    got = collector.sql(f"SELECT {', '.join(COLUMNS)} FROM footpath.events WHERE site_id = 'test' AND ({where}) "
                        "ORDER BY received_at, seq", params or {})
    out = []
    for r in got:
        d = dict(zip(names, r, strict=True))
        d["properties"] = json.loads(d["properties"] or "{}")
        out.append(d)
    return out


def wait_rows(collector: Any, n: int, where: str = "1", timeout: float = 30) -> list[dict[str, Any]]:
    """Waits until at least n rows match, then a little more to catch any extra."""
    wait_for(lambda: len(rows(collector, where)) >= n, timeout, f"{n} stored rows where {where}", interval=0.5)
    time.sleep(1.5)
    return rows(collector, where)
