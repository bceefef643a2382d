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
from playwright.sync_api import Browser, BrowserContext, Page, Request

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("FOOTPATH_CHROMIUM", "/usr/bin/chromium")
TAG = ROOT / "sdk_js" / "dist" / "t.js"

pytestmark = pytest.mark.browser


# Records what the page hands to fetch() and sendBeacon() for /v1/ URLs, and the
# answers fetch() gets, through a binding to the test (it survives navigations and
# touches no storage). The real functions still do the real network work: this is
# observation, not a stand-in. Chromium's keepalive fetches are not reliably visible
# to Playwright's network events, hence this. With window.__fpLoseAnswers set, a
# batch still reaches the collector but its answer is withheld from the tag, as when
# a connection drops after the request was sent.
RECORDER = """(() => {
  const rec = (x) => { try { window.__fpRecord(x) } catch (e) {} }
  const f = window.fetch
  window.fetch = function (url, init) {
    const u = String(url)
    if (u.includes('/v1/')) rec({kind: 'fetch', url: u, body: init && init.body || null, t: Date.now()})
    return f.apply(this, arguments).then((r) => {
      if (u.includes('/v1/')) r.clone().text().then((text) => rec({kind: 'response', url: u, status: r.status, text, t: Date.now()}))
      if (window.__fpLoseAnswers && u.endsWith('/v1/batch')) throw new TypeError('answer lost (test)')
      return r
    })
  }
  const b = navigator.sendBeacon
  navigator.sendBeacon = function (url, body) {
    const ok = b.apply(this, arguments)
    rec({kind: 'beacon', url: String(url), body: String(body), ok, t: Date.now()})
    return ok
  }
})()"""


class Tab:
    """One browser context (its own cookies and storage) and page, recording every
    request the page makes, what the tag sends, and every error the page throws."""

    def __init__(self, context: BrowserContext, base: str):
        self.context = context
        self.base = base
        self.requests: list[Request] = []
        self.records: list[dict[str, Any]] = []
        self.errors: list[str] = []
        context.expose_binding("__fpRecord", lambda source, x: self.records.append(x))
        context.add_init_script(RECORDER)
        context.on("request", lambda r: self.requests.append(r))
        self.page: Page = context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def pump(self) -> None:
        """Playwright's sync API delivers events (requests, recorded calls) only while
        a Playwright call runs: give it one before reading them."""
        self.page.wait_for_timeout(30)

    def sleep(self, seconds: float) -> None:
        self.page.wait_for_timeout(seconds * 1000)

    @property
    def responses(self) -> list[tuple[float, int, str]]:
        """(seconds, status, body) of every answer to a batch POST made with fetch."""
        self.pump()
        return [(r["t"] / 1000, r["status"], r["text"]) for r in list(self.records)
                if r["kind"] == "response" and r["url"].endswith("/v1/batch")]

    def open(self, path: str) -> Page:
        self.page.goto(self.base + path, wait_until="load")
        return self.page

    def js(self, expr: str, arg: Any = None) -> Any:
        return self.page.evaluate(expr, arg)

    def batches(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Bodies of every batch the tag sent so far (fetch and sendBeacon alike)."""
        self.pump()
        return [json.loads(r["body"]) for r in list(self.records)
                if r["kind"] in ((kind,) if kind else ("fetch", "beacon")) and r["url"].endswith("/v1/batch")
                and (r["kind"] == "fetch" or r["ok"])]

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
        wait_for(lambda: any("/config" in r["url"] for r in self.records if r["kind"] == "response")
                 or self.has_cached_config(), 10, "settings")

    def has_cached_config(self) -> bool:
        # A page whose storage throws (test_the_tag_never_throws_into_the_page) has none:
        # the check must not throw before the /config response has been seen.
        # The cache is per site: fp_c<public key>.
        return bool(self.js("() => { try { return Object.keys(sessionStorage).some((k) => k.startsWith('fp_c')) }"
                            " catch (e) { return false } }"))

    def queued(self, key: str = "pk_test") -> list[str]:
        """messageIds in the write-ahead queues of site `key` (localStorage fp_q<key>.<tab>)."""
        return self.js("""(key) => Object.keys(localStorage).filter((k) => k.startsWith('fp_q' + key + '.'))
            .flatMap((k) => JSON.parse(localStorage.getItem(k)).e.map((x) => x.m.messageId))""", key)

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
                        "ORDER BY original_timestamp, seq", params or {})
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
