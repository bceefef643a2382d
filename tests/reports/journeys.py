"""Synthetic journeys: events as the model sees them (Ev) and as Segment messages for
/v1/batch.  Random shoppers walk a small shop; hand-made scenarios pin the edge cases."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.reports.model import Ev

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/124.0.0.0 Safari/537.36")
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
PAGES = {
    "/": ["/category/yoga", "/category/run", "/search", "/product/1"],
    "/search": ["/product/1", "/product/2", "/product/3", "/"],
    "/category/yoga": ["/product/1", "/product/2", "/"],
    "/category/run": ["/product/3", "/product/4", "/category/yoga"],
    "/product/1": ["/cart", "/product/2", "/category/yoga"],
    "/product/2": ["/cart", "/product/1", "/"],
    "/product/3": ["/cart", "/product/4", "/search"],
    "/product/4": ["/cart", "/category/run"],
    "/cart": ["/checkout", "/product/1", "/"],
    "/checkout": ["/thanks", "/cart"],
    "/thanks": ["/"],
}
CATEGORY = {"/product/1": "yoga", "/product/2": "yoga", "/product/3": "run", "/product/4": "run"}


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Session:
    """Builds one session's events in time order (seq 1, 2, ...)."""

    def __init__(self, site: str, anon: str, start: int, user: str = "", utm: str = "", bot: bool = False,
                 session_id: str | None = None, locale: str = "en-US"):
        self.site, self.anon, self.t, self.user, self.utm, self.bot = site, anon, start, user, utm, bot
        self.sid = uuid.uuid4().hex if session_id is None else session_id
        self.seq = 0
        self.path = "/"
        self.locale = locale
        self.events: list[Ev] = []

    def _ev(self, gap_ms: int, **kw: Any) -> Ev:
        self.t += gap_ms
        self.seq += 1 if self.sid else 0
        ev = Ev(site=self.site, ts=self.t, seq=self.seq, session_id=self.sid, anonymous_id=self.anon,
                user_id=self.user, utm_source=self.utm, is_bot=self.bot, path=kw.pop("path", self.path),
                locale=self.locale, **kw)
        self.events.append(ev)
        return ev

    def page(self, path: str, gap_ms: int = 5000) -> Ev:
        self.path = path
        return self._ev(gap_ms, type="page", path=path)

    def track(self, event: str, gap_ms: int = 2000, **props: Any) -> Ev:
        return self._ev(gap_ms, type="track", event=event, properties=props)

    def screen(self, name: str, gap_ms: int = 2000) -> Ev:
        return self._ev(gap_ms, type="screen", name=name, path="")

    def identify(self, user: str, gap_ms: int = 1000) -> Ev:
        self.user = user
        return self._ev(gap_ms, type="identify")


def random_shoppers(site: str, rng: random.Random, start: int, n_people: int) -> list[Ev]:
    events: list[Ev] = []
    for p in range(n_people):
        anon = f"anon-{site}-{p}"
        user = f"user-{site}-{p}" if rng.random() < 0.35 else ""
        devices = [anon] + ([f"anon-{site}-{p}-b"] if user and rng.random() < 0.5 else [])
        t = start + rng.randrange(0, 36 * 3600_000)
        for d, dev in enumerate(devices):
            for _s in range(rng.choice((1, 1, 2, 3))):
                s = Session(site, dev, t, utm=rng.choice(("", "google", "newsletter", "ads")),
                            bot=rng.random() < 0.05, locale=rng.choice(("en-US", "de-DE")),
                            # every fourth person browses like analytics.js: no session ids, the
                            # reports cut its visits at 30-minute gaps (chosen without the rng,
                            # so the rest of the data stays as it was)
                            session_id="" if p % 4 == 3 else None)
                page = rng.choice(("/", "/", "/search", "/category/yoga", "/product/1"))
                for _i in range(rng.randrange(1, 9)):
                    ev = s.page(page, rng.randrange(1000, 400_000))
                    if rng.random() < 0.3:
                        s.track("Page Engaged", rng.randrange(500, 30_000), engaged_ms=rng.randrange(100, 9000))
                    if page in CATEGORY and rng.random() < 0.5:
                        s.track("Product Added", rng.randrange(500, 120_000), category=CATEGORY[page],
                                price=rng.choice((20, 35.5, 60)))
                    if page == "/checkout" and rng.random() < 0.7:
                        if user and not s.user and rng.random() < 0.8:
                            s.identify(user, 800)
                        s.track("Order Completed", rng.randrange(1000, 200_000), category=rng.choice(("yoga", "run")),
                                revenue=rng.choice((20, 55, 120)), first=rng.random() < 0.5)
                    if page == "/cart" and rng.random() < 0.6:
                        s.track("Checkout Started", rng.randrange(500, 90_000))
                    if rng.random() < 0.05:
                        s.screen("App Home")
                    page = rng.choice(PAGES[page]) if rng.random() < 0.9 else page  # sometimes a reload
                    del ev
                if user and d == 1 and not s.user:
                    s.identify(user)  # second device logs in late: its earlier browsing is the person's
                events += s.events
                t = s.t + rng.randrange(40 * 60_000, 6 * 3600_000)
    return events


def to_message(ev: Ev) -> dict[str, Any]:
    ctx: dict[str, Any] = {"userAgent": BOT if ev.is_bot else CHROME, "locale": ev.locale}
    if ev.session_id:
        ctx["sessionId"] = ev.session_id
    if ev.seq:
        ctx["seq"] = ev.seq
    if ev.type in ("page", "track", "identify") and ev.path:
        ctx["page"] = {"url": "https://shop.example" + ev.path, "path": ev.path}
    if ev.utm_source:
        ctx["campaign"] = {"source": ev.utm_source, "medium": "cpc"}
    m: dict[str, Any] = {"type": ev.type, "messageId": str(uuid.uuid4()), "timestamp": iso(ev.ts), "context": ctx}
    if ev.anonymous_id:
        m["anonymousId"] = ev.anonymous_id
    if ev.user_id:
        m["userId"] = ev.user_id
    if ev.type == "track":
        m["event"] = ev.event
        m["properties"] = ev.properties
    elif ev.type in ("page", "screen"):
        if ev.name:
            m["name"] = ev.name
        m["properties"] = ev.properties
    elif ev.type == "identify":
        m["traits"] = {}
    return m


def ingest(url: str, write_key: str, events: list[Ev], rng: random.Random, batch: int = 200) -> None:
    """Send in shuffled batches (arrival order is not event order)."""
    msgs = [to_message(e) for e in events]
    rng.shuffle(msgs)
    for i in range(0, len(msgs), batch):
        r = httpx.post(url + "/v1/batch", json={"batch": msgs[i:i + batch]}, auth=(write_key, ""), timeout=60)
        assert r.status_code == 200, r.text
        assert not r.json()["rejected"], r.json()["rejected"][:3]
