"""One collector for the report tests, with one site per dataset, ingested once through
/v1/batch (the writer and the materialized views as in production)."""

from __future__ import annotations

import importlib.util
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, make_site, start_server
from tests.reports import journeys
from tests.reports.journeys import Session, iso
from tests.reports.model import Ev

DAY = 86400_000
HOUR = 3600_000
MIN = 60_000


@dataclass
class Env:
    url: str
    base: int  # ms: every dataset starts at or after it
    sites: dict[str, str]  # dataset -> site id
    events: dict[str, list[Ev]]
    write_keys: dict[str, str]

    def range(self) -> dict[str, str]:
        return {"from": iso(self.base - DAY), "to": iso(self.base + 5 * DAY)}

    def post(self, kind: str, body: dict[str, Any], token: str = ADMIN) -> httpx.Response:
        return httpx.post(f"{self.url}/v1/reports/{kind}", json=body,
                          headers={"Authorization": f"Bearer {token}"}, timeout=120)

    def report(self, kind: str, dataset: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.post(kind, {"site": self.sites[dataset], **self.range(), **body})
        assert r.status_code == 200, r.text
        return r.json()

    def model_request(self, dataset: str, body: dict[str, Any]) -> dict[str, Any]:
        """The same request for the model: times as ms, defaults filled in."""
        out = {"site": self.sites[dataset], "from": self.base - DAY, "to": self.base + 5 * DAY, **body}
        out.setdefault("container", "person")
        seg = out.get("segment")
        if seg:
            out["segment"] = {**seg, "filters": [
                {**f, **{k: parse_ms(f[k]) for k in ("from", "to", "since") if k in f}} for f in seg["filters"]]}
        return out


def as_plain_python(module: Any) -> Any:
    """A compiled module's source, loaded as plain Python (what runs without a C compiler)."""
    path = str(Path(module.__file__).with_name(module.__name__.rsplit(".", 1)[1] + ".py"))
    spec = importlib.util.spec_from_file_location(module.__name__.rsplit(".", 1)[1] + "_as_python", path)
    assert spec and spec.loader
    plain = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plain)
    assert plain.__file__.endswith(".py")
    return plain


def as_runs(rows: list[Any], rng: random.Random) -> list[Any]:
    """Rows sorted by (container key, time), as a person report's stream brings them: each
    person's rows dealt into 1-3 sessions (runs in rising time, whose times interleave),
    the runs in any order."""
    runs: list[list[Any]] = []
    i = 0
    while i < len(rows):
        j = i
        while j < len(rows) and rows[j][0] == rows[i][0]:
            j += 1
        cut: list[list[Any]] = [[] for _ in range(rng.randint(1, 3))]
        for r in rows[i:j]:
            rng.choice(cut).append(r)
        runs += [c for c in cut if c]
        i = j
    rng.shuffle(runs)
    return [r for run in runs for r in run]


def parse_ms(v: str) -> int:
    from datetime import datetime
    return int(datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp() * 1000)


# -- hand-made scenarios (expected numbers are written out in the tests) -----------------------
def window_case(site: str, t0: int) -> list[Ev]:
    out = []
    s = Session(site, "w1", t0)
    s.page("/product/1", 0)
    s.track("Product Added", 600_000)  # exactly the window: converts
    out += s.events
    s = Session(site, "w2", t0)
    s.page("/product/1", 0)
    s.track("Product Added", 600_001)  # one millisecond late
    out += s.events
    s = Session(site, "w3", t0)
    s.page("/product/1", 0)
    s.page("/product/2", 300_000)
    s.track("Product Added", 500_000)  # late for the first view, in time for the second
    out += s.events
    s = Session(site, "w4", t0)
    s.track("Product Added", 0)
    s.page("/product/1", 1000)  # wrong order
    out += s.events
    return out


def strict_case(site: str, t0: int) -> list[Ev]:
    journeys_ = [
        ["/cart", "Checkout Started", "/checkout"],
        ["/cart", "/product/1", "Checkout Started", "/checkout"],
        ["/cart", "Page Engaged", "Checkout Started", "/checkout"],
        ["/cart", "Checkout Started", "/cart", "Checkout Started", "/product/2", "/checkout"],
        ["/cart", "/search", "/cart", "Checkout Started", "/checkout"],
    ]
    out = []
    for i, steps in enumerate(journeys_):
        s = Session(site, f"s{i}", t0)
        for step in steps:
            s.page(step, 10_000) if step.startswith("/") else s.track(step, 10_000)
        out += s.events
    return out


def repeat_case(site: str, t0: int) -> list[Ev]:
    journeys_ = [["/product/1", "Product Added"], ["/product/1", "/product/1", "Product Added"],
                 ["/product/1", "/product/2", "Product Added"], ["/product/1", "Product Added", "/product/2"]]
    out = []
    for i, steps in enumerate(journeys_):
        s = Session(site, f"r{i}", t0)
        for step in steps:
            s.page(step, 10_000) if step.startswith("/") else s.track(step, 10_000)
        out += s.events
    return out


def unlabelled_case(site: str, t0: int) -> list[Ev]:
    """Steps with nothing to show: a page call without a URL, a screen without a name."""
    out = []
    for i, steps in enumerate((["/", "", "/cart"], ["/", "screen:", "/cart", "/cart"], ["/", "/cart"])):
        s = Session(site, f"u{i}", t0)
        for step in steps:
            s.screen(step[len("screen:"):], 10_000) if step.startswith("screen:") else s.page(step, 10_000)
        out += s.events
    return out


def ties_case(site: str, t0: int) -> list[Ev]:
    s1 = Session(site, "t1", t0)
    s1.track("Plan Chosen", 0)
    s1.track("Signed Up", 0)  # same millisecond, later sequence number
    s2 = Session(site, "t2", t0)
    s2.track("Signed Up", 0)
    s2.track("Plan Chosen", 0)
    s3 = Session(site, "t3", t0, session_id="")  # no session id, so no sequence numbers
    s3.page("/zeta", 0)
    s3.page("/alpha", 0)  # the same millisecond: ordered by label, '/alpha' first
    s3.track("Beta Event", 0)
    return s1.events + s2.events + s3.events


def tied_steps_case(site: str, t0: int) -> list[Ev]:
    s = Session(site, "t4", t0, session_id="")  # no sequence numbers
    s.page("/product/1", 0)  # matches steps 1 and 2 of test_a_step_1_event_sharing_...
    s.track("Product Added", 0)  # the same millisecond, step 2 only: sorts first (lower mask)
    s.track("Zoomed", 60_000)  # step 2, a minute later
    return s.events


def visits_case(site: str, t0: int) -> list[Ev]:
    """A device without session ids (analytics.js): its visits are cut at gaps of more than
    30 minutes between any two of its events, and a device with session ids is never cut."""
    js = Session(site, "v1", t0, session_id="")
    js.page("/", 0)
    js.track("Product Added", 20 * MIN)  # an event between two page views keeps the visit going
    js.page("/product/1", 20 * MIN)
    js.page("/", 30 * MIN)  # exactly 30 minutes: the same visit
    js.page("/cart", 30 * MIN + 1)  # 30 minutes and a millisecond: a new visit
    tagged = Session(site, "v3", t0)
    tagged.page("/", 0)
    tagged.page("/search", 2 * HOUR)  # the tag's session id: one session, whatever the gap
    return js.events + tagged.events


def persons_case(site: str, t0: int) -> list[Ev]:
    phone = Session(site, "sarah-phone", t0)
    phone.page("/product/1", 0)
    phone.identify("sarah", 60_000)
    laptop = Session(site, "sarah-laptop", t0 + DAY)
    laptop.track("Product Added", 0, category="yoga")  # anonymous on the laptop ...
    laptop.identify("sarah", 60_000)  # ... logs in later
    laptop.track("Order Completed", 60_000, category="yoga")
    bob = Session(site, "tablet", t0 + 2 * HOUR)
    bob.identify("bob", 0)
    bob.page("/product/2", 10_000)
    carol = Session(site, "tablet", bob.t + 2 * HOUR)  # same device, new session, never logs out
    carol.identify("carol", 0)
    carol.track("Product Added", 10_000)
    carol.track("Order Completed", 10_000)
    return phone.events + laptop.events + bob.events + carol.events


def segment_case(site: str, t0: int) -> list[Ev]:
    """d1 = t0, d2 = t0 + 1 day, d3 = t0 + 2 days."""
    out = []
    orders = {"p1": [("yoga", t0 + HOUR)], "p2": [("yoga", t0 + HOUR), ("yoga", t0 + 2 * DAY + HOUR)],
              "p3": [("run", t0 + HOUR)], "p4": []}
    for person, buys in orders.items():
        for cat, ts in buys:
            s = Session(site, person, ts)
            s.page("/checkout", 0)
            s.track("Order Completed", 1000, category=cat)
            out += s.events
        s = Session(site, person, t0 + 2 * DAY + 3 * HOUR)
        s.page("/product/1", 0)
        s.track("Product Added", 1000)
        out += s.events
    return out


def busy_other_site(site: str, t0: int, rng: random.Random) -> list[Ev]:
    return journeys.random_shoppers(site, rng, t0, 60)


DATASETS = ("main", "other", "window", "strict", "repeat", "ties", "tied_steps", "persons", "segment", "erase",
            "unlabelled", "visits")


@pytest.fixture(scope="session")
def reports_env(tmp_path_factory: pytest.TempPathFactory, engine_dir: Path, ch: Any) -> Iterator[Env]:
    pairs = {name: make_site() for name in DATASETS}
    server, srv, th = start_server(tmp_path_factory.mktemp("reports"), engine_dir,
                                   [p[1] for p in pairs.values()], [p[0] for p in pairs.values()])
    rng = random.Random(20260611)
    base = (int(time.time() * 1000) - 4 * DAY) // MIN * MIN
    sites = {name: keys.id for name, (keys, _) in pairs.items()}
    events = {
        "main": journeys.random_shoppers(sites["main"], rng, base, 260),
        "other": busy_other_site(sites["other"], base, rng),
        "window": window_case(sites["window"], base + HOUR),
        "strict": strict_case(sites["strict"], base + HOUR),
        "repeat": repeat_case(sites["repeat"], base + HOUR),
        "ties": ties_case(sites["ties"], base + HOUR),
        "tied_steps": tied_steps_case(sites["tied_steps"], base + HOUR),
        "persons": persons_case(sites["persons"], base + HOUR),
        "segment": segment_case(sites["segment"], base),
        "erase": persons_case(sites["erase"], base + HOUR),
        "unlabelled": unlabelled_case(sites["unlabelled"], base + HOUR),
        "visits": visits_case(sites["visits"], base + HOUR),
    }
    try:
        for name, evs in events.items():
            key = pairs[name][0].write_key
            if name == "main":  # two waves with a flush between: sessions split over inserts
                half = len(evs) // 2
                order = list(range(len(evs)))
                rng.shuffle(order)
                journeys.ingest(server.url, key, [evs[i] for i in order[:half]], rng)
                server.flush()
                journeys.ingest(server.url, key, [evs[i] for i in order[half:]], rng)
            else:
                journeys.ingest(server.url, key, evs, rng)
        server.flush()
        yield Env(server.url, base, sites, events, {n: p[0].write_key for n, p in pairs.items()})
    finally:
        srv.should_exit = True
        th.join(timeout=30)
