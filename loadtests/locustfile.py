"""Locust scenarios against a running collector (headless, one command):

    .venv/bin/pip install -e '.[load]'
    FOOTPATH_WRITE_KEY=sk_... FOOTPATH_PUBLIC_KEY=pk_demo FOOTPATH_ORIGIN=http://127.0.0.1:8000 \\
      .venv/bin/locust -f loadtests/locustfile.py --headless -u 50 -r 10 -t 60s --host http://127.0.0.1:8000

Locust prints requests/s, p50/p95/p99 and failures per scenario at the end.
Scenarios: the tag's browser batches (text/plain, public key, Origin, consent mix),
single server events, server batches of 20, and identify calls."""

from __future__ import annotations

import json
import os
import random
import uuid
from datetime import UTC, datetime

from locust import FastHttpUser, between, task

WRITE_KEY = os.environ.get("FOOTPATH_WRITE_KEY", "")
PUBLIC_KEY = os.environ.get("FOOTPATH_PUBLIC_KEY", "pk_demo")
ORIGIN = os.environ.get("FOOTPATH_ORIGIN", "http://127.0.0.1:8000")
UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
PATHS = ["/", "/p/yoga-shorts", "/p/mat", "/cart", "/checkout", "/thanks"]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class BrowserVisitor(FastHttpUser):
    """What sdk_js sends: page views and tracks, consent mostly granted, some denied."""

    weight = 6
    wait_time = between(0.5, 2)

    def on_start(self) -> None:
        self.anon = str(uuid.uuid4())
        self.session = str(uuid.uuid4())
        self.seq = 0
        self.consent = random.choices(["granted", "denied"], weights=[9, 1])[0]

    def msg(self, kind: str, **kw) -> dict:
        self.seq += 1
        ctx = {"consent": {"analytics": self.consent}, "page": {"url": ORIGIN + random.choice(PATHS) +
               "?utm_source=news&utm_medium=email", "referrer": "https://www.google.com/"},
               "library": {"name": "footpath.js", "version": "1"}}
        if self.consent == "granted":
            ctx.update(sessionId=self.session, seq=self.seq, pageViewId=str(uuid.uuid4()))
        m = {"type": kind, "messageId": str(uuid.uuid4()), "timestamp": now(), "context": ctx, **kw}
        if self.consent == "granted":
            m["anonymousId"] = self.anon
        return m

    @task
    def batch(self) -> None:
        msgs = [self.msg("page")] + [self.msg("track", event="Product Viewed", properties={"sku": "Y1"})
                                     for _ in range(random.randint(0, 3))]
        body = json.dumps({"batch": msgs, "sentAt": now(), "writeKey": PUBLIC_KEY,
                           "stats": {"dropped": 0, "retried": 0, "queued": 0}})
        self.client.post("/v1/batch", data=body, name="browser batch",
                         headers={"Content-Type": "text/plain", "Origin": ORIGIN, "User-Agent": UA})


class ServerSource(FastHttpUser):
    """A Segment server library: single events, batches of 20, identify calls."""

    weight = 4
    wait_time = between(0.1, 0.5)

    def post(self, path: str, body: dict, name: str) -> None:
        self.client.post(path, data=json.dumps(body), name=name, auth=(WRITE_KEY, ""),
                         headers={"Content-Type": "application/json"})

    def event(self, i: int) -> dict:
        return {"type": "track", "event": "Order Completed", "userId": f"u{random.randint(1, 50_000)}",
                "messageId": str(uuid.uuid4()), "timestamp": now(),
                "properties": {"revenue": round(random.uniform(5, 200), 2), "n": i},
                "context": {"ip": f"81.2.69.{random.randint(1, 254)}", "userAgent": UA}}

    @task(3)
    def single(self) -> None:
        self.post("/v1/track", self.event(0), "server single")

    @task(2)
    def batch20(self) -> None:
        self.post("/v1/batch", {"batch": [self.event(i) for i in range(20)], "sentAt": now()}, "server batch 20")

    @task(1)
    def identify(self) -> None:
        self.post("/v1/identify", {"userId": f"u{random.randint(1, 50_000)}", "anonymousId": str(uuid.uuid4()),
                                   "traits": {"plan": "pro"}, "messageId": str(uuid.uuid4())}, "identify")
