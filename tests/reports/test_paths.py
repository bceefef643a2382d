"""Paths: hand-checked flows, agreement with the Python model on random journeys, the views
against the raw table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.reports import model
from tests.reports.conftest import Env
from tests.reports.journeys import iso


def as_maps(doc: dict[str, Any]) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    nodes = {n["id"]: n["count"] for n in doc["nodes"]}
    for n in doc["nodes"]:
        assert n["id"] == f"{n['depth']}:{n['label']}"
    links = {(lk["source"], lk["target"]): lk["value"] for lk in doc["links"]}
    return nodes, links


def both(env: Env, dataset: str, body: dict[str, Any]) -> dict[str, Any]:
    mv = env.report("paths", dataset, {**body, "source": "mv"})
    raw = env.report("paths", dataset, {**body, "source": "raw"})
    assert mv["source"] == "mv" and raw["source"] == "raw"
    assert as_maps(mv) == as_maps(raw)
    assert mv["nodes"] == raw["nodes"] and mv["links"] == raw["links"]  # same order too
    return mv


def test_forward_top_and_other(reports_env: Env) -> None:
    doc = both(reports_env, "strict", {"include": ["page", "track"], "depth": 2, "top": 1})
    nodes, links = as_maps(doc)
    assert nodes == {"0:/cart": 5, "1:Checkout Started": 3, "1:(other)": 2, "2:/checkout": 2, "2:(other)": 2,
                     "2:/cart": 1}
    assert links == {("0:/cart", "1:Checkout Started"): 3, ("0:/cart", "1:(other)"): 2,
                     ("1:Checkout Started", "2:/checkout"): 2, ("1:Checkout Started", "2:(other)"): 1,
                     ("1:(other)", "2:/cart"): 1, ("1:(other)", "2:(other)"): 1}
    assert doc["containers"] == 5
    deeper, _ = as_maps(both(reports_env, "strict", {"include": ["page", "track"], "depth": 3, "top": 5}))
    assert deeper["3:(exit)"] == 2  # journeys 1 and 3 end after three steps
    assert sum(v for k, v in deeper.items() if k.startswith("3:")) == 5


def test_backward_from_end(reports_env: Env) -> None:
    doc = both(reports_env, "strict", {"include": ["page", "track"], "depth": 2,
                                       "end": {"type": "page", "path": "/checkout"}})
    nodes, links = as_maps(doc)
    assert nodes == {"0:/checkout": 5, "-1:Checkout Started": 4, "-1:/product/2": 1, "-2:/cart": 3,
                     "-2:/product/1": 1, "-2:Checkout Started": 1}
    assert links == {("-1:Checkout Started", "0:/checkout"): 4, ("-1:/product/2", "0:/checkout"): 1,
                     ("-2:/cart", "-1:Checkout Started"): 3, ("-2:/product/1", "-1:Checkout Started"): 1,
                     ("-2:Checkout Started", "-1:/product/2"): 1}
    entry, _ = as_maps(both(reports_env, "strict", {"include": ["page", "track"], "depth": 3,
                                                    "end": {"type": "page", "path": "/checkout"}}))
    assert entry["-3:(entry)"] == 2


def test_a_step_without_a_label_is_shown_as_none(reports_env: Env) -> None:
    """A page call without a URL and a screen without a name are steps like any other,
    labelled '(none)': the paths go on through them, and the node counts them."""
    doc = both(reports_env, "unlabelled", {"include": ["page", "screen"], "depth": 2})
    nodes, links = as_maps(doc)
    assert nodes == {"0:/": 3, "1:(none)": 2, "1:/cart": 1, "2:/cart": 2, "2:(exit)": 1}
    assert links == {("0:/", "1:(none)"): 2, ("0:/", "1:/cart"): 1, ("1:(none)", "2:/cart"): 2,
                     ("1:/cart", "2:(exit)"): 1}
    pages_only, _ = as_maps(both(reports_env, "unlabelled", {"depth": 2, "collapse_repeats": True}))
    assert pages_only == {"0:/": 3, "1:(none)": 1, "1:/cart": 2, "2:/cart": 1, "2:(exit)": 2}
    req = {"include": ["page", "screen"], "depth": 3, "container": "session"}
    expect = model.paths(reports_env.events["unlabelled"], reports_env.model_request("unlabelled", req))
    deeper = both(reports_env, "unlabelled", req)
    assert as_maps(deeper) == (expect["nodes"], expect["links"])
    assert deeper["containers"] == expect["containers"] == 3


def test_collapse_repeats(reports_env: Env) -> None:
    plain, _ = as_maps(both(reports_env, "repeat", {"depth": 2}))
    collapsed, _ = as_maps(both(reports_env, "repeat", {"depth": 2, "collapse_repeats": True}))
    assert plain == {"0:/product/1": 4, "1:(exit)": 1, "1:/product/1": 1, "1:/product/2": 2, "2:(exit)": 3}
    assert collapsed == {"0:/product/1": 4, "1:(exit)": 2, "1:/product/2": 2, "2:(exit)": 2}


def test_same_millisecond_without_sequence_number_ordered_by_label(reports_env: Env) -> None:
    """Equal times and no sequence numbers: the label decides the order (the views sort label
    ranks, the raw table the labels themselves)."""
    nodes, _ = as_maps(both(reports_env, "ties", {"container": "session", "depth": 3}))
    assert nodes == {"0:/alpha": 1, "1:/zeta": 1, "2:(exit)": 1}
    for body in ({"container": "session", "depth": 3, "include": ["page", "track"]},
                 {"container": "session", "depth": 2, "include": ["page", "track"], "top": 1,
                  "end": {"type": "track", "event": "Beta Event"}}):
        nodes, links = as_maps(both(reports_env, "ties", body))
        expect = model.paths(reports_env.events["ties"], reports_env.model_request("ties", body))
        assert (nodes, links) == (expect["nodes"], expect["links"])
        assert nodes


def test_start_step_not_in_include(reports_env: Env) -> None:
    """A track anchor with page-only paths: the anchor is depth 0, pages follow."""
    nodes, _ = as_maps(both(reports_env, "persons", {"container": "person", "depth": 2,
                                                     "start": {"type": "track", "event": "Product Added"}}))
    assert nodes == {"0:Product Added": 2, "1:(exit)": 2}


MODEL_CASES = [
    {"depth": 5, "top": 3},
    {"depth": 4, "top": 2, "container": "person"},
    {"depth": 3, "top": 4, "start": {"type": "page", "path": "/product/*"}},
    {"depth": 5, "top": 3, "end": {"type": "track", "event": "Order Completed"}, "include": ["page", "track"]},
    {"depth": 3, "top": 2, "collapse_repeats": True, "include": ["page", "track", "screen"]},
    {"depth": 2, "top": 5, "include_internal": True, "include": ["page", "track"], "include_bots": True},
    {"depth": 3, "top": 3, "start": {"type": "track", "event": "Product Added", "properties": {"category": "yoga"}}},
    {"depth": 3, "top": 2, "start": {"path": "/cart"}, "container": "person", "collapse_repeats": True},
    {"depth": 1, "top": 1, "end": {"type": "page", "path": "/thanks"}},
    {"depth": 3, "top": 3, "segment": {"filters": [{"type": "track", "event": "Order Completed"}]}},
]


@pytest.mark.parametrize("req", MODEL_CASES, ids=range(len(MODEL_CASES)))
def test_random_journeys_match_the_model(reports_env: Env, req: dict[str, Any]) -> None:
    body = {"container": "session", **req}
    doc = both(reports_env, "main", body)
    expect = model.paths(reports_env.events["main"], reports_env.model_request("main", body))
    nodes, links = as_maps(doc)
    assert nodes == expect["nodes"]
    assert links == expect["links"]
    assert doc["containers"] == expect["containers"] > 0
    # Sankey-ready: every link joins two listed nodes, and a node's inflow is its count
    for (src, dst), _v in links.items():
        assert src in nodes and dst in nodes
    depth_sign = -1 if "end" in req else 1
    for nid, count in nodes.items():
        if not nid.startswith("0:"):
            inflow = sum(v for (s, d), v in links.items() if (d if depth_sign > 0 else s) == nid)
            assert inflow == count


def _month(ms: int) -> tuple[int, int]:
    d = datetime.fromtimestamp(ms / 1000, UTC)
    return d.year, d.month


def test_labels_are_listed_for_whole_months_and_a_narrow_range_still_agrees(reports_env: Env, ch: Any,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The views' label list (the ranks bound into the stream) is read for the whole months the
    range touches, not row by row in the range: labels outside the range are listed and name
    nothing; the report over a range holding only the dataset's first step is still the raw
    table's.  Where report_steps is not partitioned by month as 0024 made it, the list is
    read for the range itself."""
    from collector.reports import paths as paths_mod
    from collector.reports import sources
    from collector.reports.spec import parse_paths

    events = reports_env.events["strict"]
    first = min(e.ts for e in events)
    body = {"from": iso(first), "to": iso(first + 1), "include": ["page", "track"], "depth": 2,
            "container": "session"}
    doc = both(reports_env, "strict", body)
    in_range = sorted({e.label for e in events if first <= e.ts < first + 1})
    assert [n["label"] for n in doc["nodes"] if n["depth"] == 0] == in_range == ["/cart"]
    spec = parse_paths({"site": reports_env.sites["strict"], **body})
    month = sorted({e.label for e in events if _month(e.ts) == _month(first)})
    assert len(month) > len(in_range)  # the dataset's other labels, minutes later
    assert paths_mod.Source(spec, "mv", ch).ranked(ch)[1] == month
    assert ch.query("SELECT partition_key FROM system.tables WHERE database = 'footpath' "
                    "AND name = 'report_steps'").result_rows[0][0] == sources.PARTITION_KEY
    monkeypatch.setattr(sources, "PARTITION_KEY", "toYYYYMMDD(t)")  # as if 0024 had changed it
    assert sources.month_ids(ch, first, first + 1) is None
    assert paths_mod.Source(spec, "mv", ch).ranked(ch)[1] == in_range


def test_months_lists_each_month_a_range_touches(ch: Any, reports_env: Env) -> None:
    from collector.reports.sources import month_ids

    def at(y: int, m: int, d: int = 1) -> int:
        return int(datetime(y, m, d, tzinfo=UTC).timestamp() * 1000)

    assert month_ids(ch, at(2025, 11, 15), at(2026, 2, 1)) == ["202511", "202512", "202601"]
    assert month_ids(ch, at(2026, 1, 31), at(2026, 2, 1) + 1) == ["202601", "202602"]
    assert month_ids(ch, at(2026, 3, 1), at(2026, 3, 2)) == ["202603"]


def test_a_device_without_session_ids_is_cut_into_visits(reports_env: Env) -> None:
    """analytics.js sends no session id: v1's page views make two visits, cut where more than
    30 minutes pass between two of its events.  The track between its first two page views
    keeps the first visit going though pages alone are shown; 30:00.000 does not cut,
    30:00.001 does.  v3, with the tag's session id, stays one session across two hours."""
    doc = both(reports_env, "visits", {"container": "session", "depth": 3, "top": 5})
    nodes, links = as_maps(doc)
    assert doc["containers"] == 3
    assert nodes == {"0:/": 2, "0:/cart": 1, "1:/product/1": 1, "1:/search": 1, "1:(exit)": 1,
                     "2:/": 1, "2:(exit)": 1, "3:(exit)": 1}
    assert links == {("0:/", "1:/product/1"): 1, ("0:/", "1:/search"): 1, ("0:/cart", "1:(exit)"): 1,
                     ("1:/product/1", "2:/"): 1, ("1:/search", "2:(exit)"): 1, ("2:/", "3:(exit)"): 1}
    # a person is every visit of the device
    assert both(reports_env, "visits", {"container": "person", "depth": 3})["containers"] == 2


def test_a_step_named_like_a_synthetic_node_is_shown_in_quotes() -> None:
    """Found in QA: a track event literally named (exit) became the node 1:(exit), merged with
    the real exits at that depth and drawn as one.  The shaping sees the engine's rows:
    (depth, source label, target label, containers), the synthetic ones marked apart."""
    from collector.reports import paths
    from collector.reports.spec import parse_paths

    spec = parse_paths({"site": "s", "include": ["page", "track"], "from": "2026-12-01", "to": "2026-12-02"})
    rows = [(0, paths.ROOT, "/", 3), (1, "/", "(exit)", 2), (1, "/", paths.EXIT, 1),
            (2, "(exit)", "(other)", 2), (2, paths.EXIT, paths.EXIT, 1)]
    doc = paths.shape(spec, rows)
    nodes = {n["id"]: n["count"] for n in doc["nodes"]}
    assert nodes == {"0:/": 3, '1:"(exit)"': 2, "1:(exit)": 1, '2:"(other)"': 2, "2:(exit)": 1}
    assert {(lk["source"], lk["target"]) for lk in doc["links"]} == {
        ("0:/", '1:"(exit)"'), ("0:/", "1:(exit)"), ('1:"(exit)"', '2:"(other)"'), ("1:(exit)", "2:(exit)")}
