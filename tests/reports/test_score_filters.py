"""Person-score filters in report segments (collector/reports/score_filters.py): RFM
segments and scores, lead score and tier.  Persons' scores are computed here in plain
Python from the messages sent (the definitions of collector/scores/README.md), the
fallout and paths are then computed by the independent model (tests/reports/model.py)
over the persons that pass, and the API (views and raw table) must agree."""

from __future__ import annotations

import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, make_site, start_server
from tests.reports import model
from tests.reports.journeys import Session, iso
from tests.reports.model import Ev
from tests.reports.test_fallout import strip
from tests.reports.test_paths import as_maps

DAY = 86400_000
HOUR = 3600_000
PRODUCT = {"type": "page", "path": "/product/*"}
ADDED = {"type": "track", "event": "Product Added"}
ORDER = {"type": "track", "event": "Order Completed"}


@dataclass
class ScoreEnv:
    url: str
    site: str
    now: int
    events: list[Ev]
    rfm: dict[str, tuple[int, int, int, str]]  # person -> (r, f, m, segment)
    lead: dict[str, tuple[int, str]]  # person -> (score, tier)

    def body(self, extra: dict[str, Any]) -> dict[str, Any]:
        return {"site": self.site, "from": iso(self.now - 120 * DAY), "to": iso(self.now + DAY), **extra}

    def post(self, kind: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{self.url}/v1/reports/{kind}", json=self.body(body),
                          headers={"Authorization": f"Bearer {ADMIN}"}, timeout=120)


# -- the independent scoring -----------------------------------------------------------------
def _quintile(rank: int, n: int) -> int:
    return min(5, 1 + math.floor(5 * (rank - 1) / max(n - 1, 1)))


def rfm_scores(events: list[Ev], site: str, now: int) -> dict[str, tuple[int, int, int, str]]:
    ident = model.Identity(events)
    buys: dict[str, list[Ev]] = defaultdict(list)
    for e in events:
        if e.site == site and e.type == "track" and e.event == "Order Completed" and not e.is_bot:
            buys[ident.person(e)].append(e)
    stats = {p: ((now - max(e.ts for e in evs)) // DAY, len(evs), float(sum(e.properties["revenue"] for e in evs)))
             for p, evs in buys.items()}
    n = len(stats)
    out = {}
    for p, (rec, freq, mon) in stats.items():
        r = _quintile(1 + sum(1 for q in stats.values() if q[0] > rec), n)  # older is worse
        f = _quintile(1 + sum(1 for q in stats.values() if q[1] < freq), n)
        m = _quintile(1 + sum(1 for q in stats.values() if q[2] < mon), n)
        if r == 5 and f >= 4:
            seg = "Champions"
        elif r >= 3 and f >= 4:
            seg = "Loyal"
        elif r >= 4 and f >= 2:
            seg = "Potential Loyalists"
        elif r == 5:
            seg = "New Customers"
        elif r == 4:
            seg = "Promising"
        elif r == 3 and f == 3:
            seg = "Need Attention"
        elif r == 3:
            seg = "About to Sleep"
        elif f == 5:
            seg = "Can't Lose Them"
        elif f >= 3:
            seg = "At Risk"
        else:
            seg = "Hibernating"
        out[p] = (r, f, m, seg)
    return out


def lead_scores(events: list[Ev], site: str, now: int) -> dict[str, tuple[int, str]]:
    """Default rules (page 2, track 5) and decay 0.6 / 0.3 / 0.1 by age 0-29, 30-59, 60+ days."""
    ident = model.Identity(events)
    pts: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for e in events:
        if e.site != site or e.is_bot:
            continue
        age = (now - e.ts) // DAY
        pts[ident.person(e)][0 if age < 30 else 1 if age < 60 else 2] += {"page": 2.0, "track": 5.0}.get(e.type, 0.0)
    out = {}
    for p, (a, b, c) in pts.items():
        score = min(100, max(0, round(0.6 * a + 0.3 * b + 0.1 * c)))
        out[p] = (score, "hot" if score >= 80 else "warm" if score >= 60 else "cool" if score >= 40 else "cold")
    return out


def shoppers(site: str, now: int, rng: random.Random, n: int, busy: bool = False) -> list[Ev]:
    events: list[Ev] = []
    for i in range(n):
        for _ in range(rng.choice([1, 2, 3, 5, 8, 12, 16]) * (2 if busy else 1)):
            days = rng.choice([0, 1, 3, 10, 25, 40, 70, 100]) if not busy else 0
            s = Session(site, f"anon-{i}", now - days * DAY - rng.randint(1, 5) * HOUR, user=f"user-{i}")
            s.page(f"/product/{rng.randint(1, 3)}", 0)
            if rng.random() < 0.6:
                s.track("Product Added", 3000)
                if rng.random() < 0.6:
                    s.page("/checkout", 3000)
                    s.track("Order Completed", 3000, revenue=rng.randint(5, 300))
            events += s.events
    return events


@pytest.fixture(scope="module")
def score_env(tmp_path_factory: pytest.TempPathFactory, engine_dir: Path, ch: Any) -> Iterator[ScoreEnv]:
    (keys, table), (other_keys, other_table) = make_site(), make_site()
    server, srv, th = start_server(tmp_path_factory.mktemp("scores"), engine_dir, [table, other_table],
                                   [keys, other_keys])
    try:
        rng = random.Random(20261123)
        now = int(time.time() * 1000)
        events = shoppers(keys.id, now, rng, 60)
        # the same user ids on another site, all buying today: must not leak into this site's scores
        noise = shoppers(other_keys.id, now, rng, 60, busy=True)
        from tests.reports.journeys import ingest
        ingest(server.url, keys.write_key, events, rng)
        ingest(server.url, other_keys.write_key, noise, rng)
        server.flush()
        yield ScoreEnv(server.url, keys.id, now, events, rfm_scores(events, keys.id, now),
                       lead_scores(events, keys.id, now))
    finally:
        srv.should_exit = True
        th.join(timeout=30)


def _model_request(env: ScoreEnv, body: dict[str, Any]) -> dict[str, Any]:
    return {"site": env.site, "from": env.now - 120 * DAY, "to": env.now + DAY, "container": "person", **body}


def _events_of(env: ScoreEnv, persons: set[str]) -> list[Ev]:
    ident = model.Identity(env.events)
    return [e for e in env.events if ident.person(e) in persons]


def _both(env: ScoreEnv, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for source in ("mv", "raw"):
        r = env.post(kind, {**body, "source": source})
        assert r.status_code == 200, r.text
        out[source] = r.json()
    return out


def test_independent_scores_match_the_views(score_env: ScoreEnv) -> None:
    """The fixture's own scoring agrees with footpath.person_rfm / person_lead_score."""
    env = score_env
    r = httpx.post(env.url + "/v1/sql", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60, json={
        "sql": "SELECT person_id, r_score, f_score, m_score, segment FROM footpath.person_rfm WHERE site_id = {s:String}",
        "params": {"s": env.site}})
    assert r.status_code == 200, r.text
    assert {row[0]: tuple(row[1:]) for row in r.json()["rows"]} == env.rfm
    r = httpx.post(env.url + "/v1/sql", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60, json={
        "sql": "SELECT person_id, score, tier FROM footpath.person_lead_score WHERE site_id = {s:String}",
        "params": {"s": env.site}})
    assert {row[0]: tuple(row[1:]) for row in r.json()["rows"]} == env.lead
    assert len(set(seg for *_, seg in env.rfm.values())) >= 3 and len({t for _, t in env.lead.values()}) >= 2


def _lead_threshold(env: ScoreEnv) -> int:
    return sorted(s for s, _ in env.lead.values())[len(env.lead) // 2]


def _cases(env: ScoreEnv) -> list[tuple[list[dict[str, Any]], str, set[str]]]:
    """(segment filters, match, the persons that pass) computed from the fixture's scores."""
    t = _lead_threshold(env)
    common = [seg for seg, _ in Counter(v[3] for v in env.rfm.values()).most_common(2)]
    everyone = set(env.lead)
    ordered = {model.Identity(env.events).person(e) for e in env.events if e.type == "track" and e.event == "Order Completed"
               and e.ts >= env.now - 20 * DAY}
    return [
        ([{"lead_score": {"min": t}}], "all", {p for p, (s, _) in env.lead.items() if s >= t}),
        ([{"lead_score": [0, t - 1]}], "all", {p for p, (s, _) in env.lead.items() if s < t}),
        ([{"rfm_segment": [c.lower() for c in common]}], "all", {p for p, v in env.rfm.items() if v[3] in common}),
        ([{"rfm": {"r": [4, 5], "f": {"min": 2}}, "lead_tier": ["cold", "cool"]}], "all",
         {p for p, v in env.rfm.items() if v[0] >= 4 and v[1] >= 2 and env.lead[p][1] in ("cold", "cool")}),
        ([{"rfm_segment": common[0]}, {"type": "track", "event": "Order Completed", "since": iso(env.now - 20 * DAY)}],
         "any", {p for p, v in env.rfm.items() if v[3] == common[0]} | ordered),
        ([{"lead_score": {"min": t}}, {"type": "track", "event": "Order Completed", "did": False,
                                       "since": iso(env.now - 20 * DAY)}], "all",
         {p for p, (s, _) in env.lead.items() if s >= t} - ordered),
    ] + [([{"lead_tier": "hot"}], "all", {p for p in everyone if env.lead[p][1] == "hot"})]


@pytest.mark.parametrize("case", range(7))
def test_fallout_with_score_segments_matches_the_model(score_env: ScoreEnv, case: int) -> None:
    env = score_env
    filters, match, persons = _cases(env)[case]
    if case < 6:  # the filters must discriminate (the last case may legitimately be empty)
        assert 0 < len(persons) < len(env.lead), (case, len(persons))
    body = {"steps": [PRODUCT, ADDED, ORDER], "container": "person",
            "segment": {"match": match, "filters": filters}}
    docs = _both(env, "fallout", body)
    assert strip(docs["mv"]["steps"]) == strip(docs["raw"]["steps"])
    expect = model.fallout(_events_of(env, persons), _model_request(env, {"steps": body["steps"]}))
    assert strip(docs["mv"]["steps"]) == expect["steps"]
    # the segment really narrowed the report
    assert docs["mv"]["steps"][0]["entered"] == len(persons)


def test_session_paths_with_score_segment_match_the_model(score_env: ScoreEnv) -> None:
    env = score_env
    t = _lead_threshold(env)
    persons = {p for p, (s, _) in env.lead.items() if s < t}
    body = {"container": "session", "depth": 3, "top": 3, "include": ["page", "track"],
            "segment": {"filters": [{"lead_score": {"max": t - 1}}]}}
    docs = _both(env, "paths", body)
    assert as_maps(docs["mv"]) == as_maps(docs["raw"])
    expect = model.paths(_events_of(env, persons), _model_request(env, {k: v for k, v in body.items()
                                                                        if k != "segment"}))
    nodes, links = as_maps(docs["mv"])
    assert nodes == expect["nodes"] and links == expect["links"]
    assert docs["mv"]["containers"] == expect["containers"] > 0


BAD = [
    ({"lead_score": {"min": 101}}, "segment.filters[0].lead_score"),
    ({"lead_score": {"least": 5}}, "segment.filters[0].lead_score.least"),
    ({"lead_score": "50"}, "segment.filters[0].lead_score"),
    ({"rfm_segment": "vips"}, "segment.filters[0].rfm_segment"),
    ({"rfm_segment": []}, "segment.filters[0].rfm_segment"),
    ({"lead_tier": ["hot", "lukewarm"]}, "segment.filters[0].lead_tier"),
    ({"rfm": {"r": [0, 5]}}, "segment.filters[0].rfm.r"),
    ({"rfm": {"x": [1, 2]}}, "segment.filters[0].rfm"),
    ({"lead_tier": "hot", "event": "Order Completed"}, "segment.filters[0].event"),
    ({"lead_tier": "hot", "did": False}, "segment.filters[0].did"),
]


@pytest.mark.parametrize("flt,field", BAD, ids=[f"{i}" for i in range(len(BAD))])
def test_bad_score_filters_are_400s_naming_the_field(score_env: ScoreEnv, flt: dict[str, Any], field: str) -> None:
    for kind, extra in (("fallout", {"steps": [PRODUCT]}), ("paths", {})):
        r = score_env.post(kind, {**extra, "segment": {"filters": [{"event": "Product Added"}, flt]}})
        want = field.replace("filters[0]", "filters[1]")
        assert r.status_code == 400, r.text
        assert r.json()["field"] == want, r.json()
