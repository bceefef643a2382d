"""Fallout: hand-checked scenarios, agreement with the Python model on random journeys, the
views against the raw table, and ClickHouse's own windowFunnel as a cross-check."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reports import model
from tests.reports.conftest import DAY, Env
from tests.reports.journeys import iso

PRODUCT = {"type": "page", "path": "/product/*"}
ADDED = {"type": "track", "event": "Product Added"}
CHECKOUT = {"type": "track", "event": "Checkout Started"}
ORDER = {"type": "track", "event": "Order Completed"}
FIELDS = ("entered", "continued", "fell_out", "conversion_from_first", "conversion_from_previous",
          "median_seconds_to_next")


def strip(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: s[k] for k in FIELDS} for s in steps]


def both(env: Env, dataset: str, body: dict[str, Any]) -> dict[str, Any]:
    """The report from the views and from the raw table; they must be identical."""
    mv = env.report("fallout", dataset, {**body, "source": "mv"})
    raw = env.report("fallout", dataset, {**body, "source": "raw"})
    assert mv["source"] == "mv" and raw["source"] == "raw"
    assert strip(mv["steps"]) == strip(raw["steps"])
    assert {k: strip(v["steps"]) for k, v in mv["breakdown"].items()} == \
        {k: strip(v["steps"]) for k, v in raw["breakdown"].items()}
    return mv


def entered(doc: dict[str, Any]) -> list[int]:
    return [s["entered"] for s in doc["steps"]]


def test_window_edges_and_best_start(reports_env: Env) -> None:
    doc = both(reports_env, "window", {"steps": [PRODUCT, ADDED], "window_seconds": 600, "container": "session"})
    assert entered(doc) == [4, 2]  # exactly 600 s converts, 600.001 s does not, the later start rescues w3
    assert doc["steps"][0]["median_seconds_to_next"] == 550.0  # 600 s and 500 s
    assert doc["steps"][0]["fell_out"] == 2
    assert doc["steps"][1]["conversion_from_previous"] == 0.5
    assert entered(both(reports_env, "window", {"steps": [PRODUCT, ADDED], "window_seconds": 599,
                                                "container": "session"})) == [4, 1]


def test_strict_versus_eventual(reports_env: Env) -> None:
    steps = [{"type": "page", "path": "/cart"}, CHECKOUT, {"type": "page", "path": "/checkout"}]
    eventual = both(reports_env, "strict", {"steps": steps, "container": "session"})
    strict = both(reports_env, "strict", {"steps": steps, "container": "session", "mode": "strict"})
    assert entered(eventual) == [5, 5, 5]
    # strict: an interruption breaks the chain (journey 2), tag-internal events do not (3), the best
    # start counts (5: the second /cart), a repeat that lands on the wrong step ends it (4)
    assert entered(strict) == [5, 4, 3]


def test_repeated_steps_use_distinct_events(reports_env: Env) -> None:
    doc = both(reports_env, "repeat", {"steps": [PRODUCT, PRODUCT, ADDED], "container": "session"})
    assert entered(doc) == [4, 3, 2]


def test_same_millisecond_ordered_by_sequence_number(reports_env: Env) -> None:
    doc = both(reports_env, "ties", {"steps": [{"type": "track", "event": "Signed Up"},
                                               {"type": "track", "event": "Plan Chosen"}], "container": "session"})
    assert entered(doc) == [2, 1]
    assert doc["steps"][0]["median_seconds_to_next"] == 0.0


def test_a_step_1_event_sharing_its_millisecond_with_another_step_starts_the_chain(reports_env: Env) -> None:
    # at one millisecond a product page (steps 1 and 2) and Product Added on it (step 2 only,
    # ordered first), a minute later Zoomed (step 2).  The chain starts at the page, so its
    # next step is Zoomed: 60 s (starting the chain at the first event of that millisecond
    # made it the page itself, 0 s).
    body = {"steps": [PRODUCT, {"path": "/product/*"}], "container": "session"}
    doc = both(reports_env, "tied_steps", body)
    assert entered(doc) == [1, 1]
    assert doc["steps"][0]["median_seconds_to_next"] == 60.0
    assert strip(doc["steps"]) == model.fallout(reports_env.events["tied_steps"],
                                                reports_env.model_request("tied_steps", body))["steps"]


def test_person_versus_session(reports_env: Env) -> None:
    steps = [PRODUCT, ADDED, ORDER]
    person = both(reports_env, "persons", {"steps": steps, "container": "person"})
    session = both(reports_env, "persons", {"steps": steps, "container": "session"})
    # Sarah: viewed on her phone, added anonymously on her laptop, logged in there, bought: one person.
    # Bob and Carol share a tablet without logging out: Carol's purchase is not Bob's.
    assert entered(person) == [2, 1, 1]
    assert entered(session) == [2, 0, 0]
    assert [s["median_seconds_to_next"] for s in person["steps"]] == [DAY / 1000, 120.0, None]
    for container, doc in (("person", person), ("session", session)):
        req = {"steps": steps, "container": container}
        assert strip(doc["steps"]) == model.fallout(reports_env.events["persons"],
                                                    reports_env.model_request("persons", req))["steps"]


def test_segments_did_and_did_not(reports_env: Env) -> None:
    env = reports_env
    d1, d2, d3 = env.base, env.base + DAY, env.base + 2 * DAY
    yoga = {"type": "track", "event": "Order Completed", "properties": {"category": "yoga"}}
    lapsed = {"filters": [{**yoga, "from": iso(d1), "to": iso(d2)}, {**yoga, "did": False, "since": iso(d3)}]}
    doc = both(env, "segment", {"steps": [PRODUCT, ADDED], "segment": lapsed})
    assert entered(doc) == [1, 1]  # p1 only: bought yoga before, not recently
    anyone = {"match": "any", "filters": [{**yoga}, {"type": "track", "event": "Order Completed",
                                                     "properties": {"category": "run"}}]}
    assert entered(both(env, "segment", {"steps": [PRODUCT, ADDED], "segment": anyone})) == [3, 3]
    never = {"filters": [{"type": "track", "event": "Order Completed", "did": False}]}
    assert entered(both(env, "segment", {"steps": [PRODUCT, ADDED], "segment": never})) == [1, 1]
    for seg in (lapsed, anyone, never):
        req = {"steps": [PRODUCT, ADDED], "segment": seg}
        assert strip(both(env, "segment", req)["steps"]) == \
            model.fallout(env.events["segment"], env.model_request("segment", req))["steps"]


MODEL_CASES = [
    {"steps": [PRODUCT, ADDED, CHECKOUT, ORDER], "window_seconds": 3600, "container": "session"},
    {"steps": [PRODUCT, ADDED, CHECKOUT, ORDER], "container": "person"},
    {"steps": [{"type": "page", "path": "/"}, PRODUCT, {"type": "page", "path": "/cart"}], "mode": "strict",
     "container": "session"},
    {"steps": [PRODUCT, {"type": "page", "path": "/product/?"}, ORDER], "window_seconds": 1800,
     "container": "person", "mode": "strict"},
    {"steps": [{"type": "track", "event": "Product Added", "properties": {"category": "yoga"}},
               {"type": "track", "event": "Order Completed", "properties": {"category": ["yoga", "run"], "revenue": 55}}],
     "container": "person"},
    {"steps": [PRODUCT, ADDED, ORDER], "container": "session", "include_bots": True},
    {"steps": [PRODUCT, ADDED, ORDER], "container": "session", "breakdown": "utm_source"},
    {"steps": [ADDED, ORDER], "container": "person", "breakdown": "properties.category"},
    {"steps": [ADDED, ORDER], "container": "person", "breakdown": "properties.price", "breakdown_limit": 2},
    {"steps": [{"type": "track", "event": "Order Completed", "properties": {"first": True}}], "container": "session"},
    # one step on stored columns only: its mask is LowCardinality in the engine (was a 500)
    {"steps": [PRODUCT], "container": "session"},
    {"steps": [{"type": "track", "event": "Order Completed"}], "container": "person"},
    {"steps": [{"path": "/checkout"}, ORDER], "container": "session", "window_seconds": 120},
]


@pytest.mark.parametrize("req", MODEL_CASES, ids=range(len(MODEL_CASES)))
def test_random_journeys_match_the_model(reports_env: Env, req: dict[str, Any]) -> None:
    doc = both(reports_env, "main", req)
    expect = model.fallout(reports_env.events["main"], reports_env.model_request("main", req))
    assert strip(doc["steps"]) == expect["steps"]
    assert {k: strip(v["steps"]) for k, v in doc["breakdown"].items()} == \
        {k: v["steps"] for k, v in expect["breakdown"].items()}
    assert expect["steps"][0]["entered"] > 0


def test_raw_only_breakdown_falls_back_to_the_raw_table(reports_env: Env) -> None:
    req = {"steps": [PRODUCT, ADDED], "container": "session", "breakdown": "locale"}
    doc = reports_env.report("fallout", "main", req)
    assert doc["source"] == "raw" and "note" in doc
    expect = model.fallout(reports_env.events["main"], reports_env.model_request("main", req))
    assert {k: strip(v["steps"]) for k, v in doc["breakdown"].items()} == \
        {k: v["steps"] for k, v in expect["breakdown"].items()}
    assert set(doc["breakdown"]) == {"en-US", "de-DE"}
    r = reports_env.post("fallout", {"site": reports_env.sites["main"], **reports_env.range(), **req,
                                     "source": "mv"})
    assert r.status_code == 400 and r.json()["field"] == "source"


def test_levels_agree_with_clickhouse_window_funnel(reports_env: Env, ch: Any) -> None:
    """Eventual mode is windowFunnel(window, 'strict_once') on plain event times: count the
    containers ClickHouse puts at each level straight from footpath.events.  A device's
    events without a session id are its visits: here each event's visit is the number of
    visit starts (its device's first event, and each after a gap of more than 30 minutes)
    at or before it, a different computation from the reports' running sum."""
    env = reports_env
    site = env.sites["main"]
    read = "site_id = {s:String} AND NOT is_bot AND type IN ('page', 'track', 'screen')"
    rows = ch.query(
        "SELECT level, count() FROM (SELECT session_id, anonymous_id, v, windowFunnel(3600000, 'strict_once')("
        "toUInt64(toUnixTimestamp64Milli(timestamp)), type = 'page' AND path LIKE '/product/%', "
        "type = 'track' AND event = 'Product Added', type = 'track' AND event = 'Checkout Started', "
        "type = 'track' AND event = 'Order Completed') AS level FROM ("
        "SELECT e.session_id AS session_id, e.anonymous_id AS anonymous_id, e.timestamp AS timestamp, e.type AS type, "
        "e.path AS path, e.event AS event, "
        "if(e.session_id = '', arrayCount(x -> x <= toUnixTimestamp64Milli(e.timestamp), d.starts), 0) AS v "
        f"FROM (SELECT * FROM footpath.events WHERE {read}) AS e LEFT JOIN ("
        "SELECT anonymous_id, arrayFilter((x, i) -> i = 1 OR x - ts[i - 1] > 1800000, "
        "arraySort(groupArray(toUnixTimestamp64Milli(timestamp))) AS ts, arrayEnumerate(ts)) AS starts "
        f"FROM footpath.events WHERE {read} AND session_id = '' GROUP BY anonymous_id) AS d "
        "ON e.anonymous_id = d.anonymous_id) "
        "GROUP BY session_id, anonymous_id, v) WHERE level > 0 GROUP BY level",
        parameters={"s": site}).result_rows
    by_level = dict(rows)
    doc = both(env, "main", {"steps": [PRODUCT, ADDED, CHECKOUT, ORDER], "window_seconds": 3600,
                             "container": "session"})
    assert entered(doc) == [sum(v for lv, v in by_level.items() if lv >= k) for k in range(1, 5)]


def test_one_site_never_reads_another(reports_env: Env) -> None:
    env = reports_env
    req = {"steps": [PRODUCT, ADDED], "container": "session"}
    for name in ("main", "other"):
        doc = both(env, name, req)
        assert strip(doc["steps"]) == model.fallout(env.events[name], env.model_request(name, req))["steps"]
    assert entered(both(env, "window", req)) == [4, 3]  # default window: 30 days


def test_a_device_without_session_ids_converts_only_within_a_visit(reports_env: Env) -> None:
    """v1 (no session ids) views / in one visit and /cart in the next (more than 30 minutes
    later): as sessions it enters and falls out; as a person it converts."""
    body = {"steps": [{"type": "page", "path": "/"}, {"type": "page", "path": "/cart"}], "window_seconds": 86400}
    assert entered(both(reports_env, "visits", {**body, "container": "session"})) == [2, 0]
    assert entered(both(reports_env, "visits", {**body, "container": "person"})) == [2, 1]
