"""Paths: hand-checked flows, agreement with the Python model on random journeys, the views
against the raw table."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reports import model
from tests.reports.conftest import Env


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
