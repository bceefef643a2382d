"""Per-event cost of tracking-plan validation.

    .venv/bin/python -m loadtests.plan_bench [--events 20000]

1. The pipeline step "plan" (collector/plans/step.py) per event, measured by the
   pipeline's own step timer, for a typical e-commerce plan (12 events, 4-10 properties
   each, enums, patterns, nested items) in each mode, with all events valid and with 10 %
   violating; "no plan" is the step's cost for a site without a plan.
2. The validator alone on one Order Completed payload: the compiled jsonschema-rs
   validator (what the step uses), against fastjsonschema (draft-07 code generation) and
   the pure-Python jsonschema package when they happen to be installed (not dependencies).
3. Compile cost: loading and compiling the whole plan, paid once per plan version.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import timeit
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collector import pipeline
from collector.enrich.geo import GeoIP
from collector.enrich.useragent import UAClassifier
from collector.plans.check import check
from collector.plans.model import load_plan
from collector.plans.registry import REGISTRY
from collector.sites import Site
from collector.validate.dedup import RecentIds
from collector.validate.limits import Limits

ORDER = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "pattern": "^o_[0-9]+$"},
        "total": {"type": "number", "minimum": 0},
        "currency": {"enum": ["EUR", "USD", "GBP"]},
        "coupon": {"type": "string", "maxLength": 32},
        "products": {"type": "array", "maxItems": 100, "items": {
            "type": "object", "required": ["sku", "price", "quantity"],
            "properties": {"sku": {"type": "string"}, "price": {"type": "number", "minimum": 0},
                           "quantity": {"type": "integer", "minimum": 1}}}},
    },
    "required": ["order_id", "total", "currency", "products"],
}


def plan_doc() -> dict[str, Any]:
    events: dict[str, Any] = {"Order Completed": ORDER}
    for i in range(11):
        events[f"Event {i}"] = {"type": "object", "required": ["sku"], "properties": {
            "sku": {"type": "string"}, "price": {"type": "number"}, "category": {"enum": ["a", "b", "c", "d"]},
            "position": {"type": "integer", "minimum": 0}}}
    return {"version": 1, "allow_unplanned": False, "events": events,
            "page": {"type": "object", "properties": {"path": {"type": "string"}, "title": {"type": "string"}}}}


def order_props(i: int, bad: bool) -> dict[str, Any]:
    p = {"order_id": f"o_{i}", "total": 99.5, "currency": "EUR",
         "products": [{"sku": f"S{j}", "price": 33.1, "quantity": 1 + j} for j in range(3)]}
    if bad:
        p["currency"] = "JPY"
        p["products"][1]["quantity"] = 0
    return p


def messages(n: int, bad_share: float, rnd: random.Random) -> list[dict]:
    out = []
    for i in range(n):
        bad = rnd.random() < bad_share
        kind = i % 4
        if kind == 0:
            m = {"type": "track", "event": "Order Completed", "properties": order_props(i, bad)}
        elif kind == 1:
            m = {"type": "page", "properties": {"path": f"/p/{i % 50}", "title": "Yoga"}}
        else:
            m = {"type": "track", "event": f"Event {i % 11}",
                 "properties": {"sku": f"S{i}", "price": 3.5, "category": "e" if bad else "a", "position": 2,
                                "extra": "unplanned"}}
        m.update(anonymousId=f"a{i % 5000}", messageId=f"m-{bad_share}-{i}-{rnd.random()}",
                 timestamp=datetime.now(UTC).isoformat())
        out.append(m)
    return out


def step_cost(n: int, plan_path: str, mode: str, bad_share: float) -> float:
    sv = pipeline.Services(Limits(32768, 8, 300, 8192), GeoIP("", ""), UAClassifier(1000), RecentIds(2_000_000),
                           400, 86400)
    site = Site(id="s", public_key="pk_bench", tracking_plan=plan_path if mode != "no plan" else "",
                plan_mode=mode if mode != "no plan" else "observe")
    rq = pipeline.RequestContext(site, "server", datetime.now(UTC), "127.0.0.1", "", False, None, False)
    msgs = messages(n, bad_share, random.Random(1))
    total = 0.0
    for i in range(0, n, 20):
        total += pipeline.run(rq, sv, msgs[i:i + 20]).step_seconds["plan"]
    return total / n * 1e6


def validators(props: dict[str, Any]) -> list[tuple[str, float]]:
    import jsonschema_rs

    out = []
    v = jsonschema_rs.Draft202012Validator(ORDER, validate_formats=True, offline=True)
    out.append(("jsonschema-rs is_valid (compiled once)", _per_call(lambda: v.is_valid(props))))
    try:
        import fastjsonschema

        f = fastjsonschema.compile(ORDER)
        out.append(("fastjsonschema (draft-07, generated code)", _per_call(lambda: f(props))))
    except ImportError:
        out.append(("fastjsonschema", float("nan")))
    try:
        import jsonschema

        j = jsonschema.Draft202012Validator(ORDER)
        out.append(("jsonschema (pure Python, interpreted)", _per_call(lambda: j.is_valid(props), 2000)))
    except ImportError:
        out.append(("jsonschema", float("nan")))
    return out


def _per_call(fn: Any, number: int = 50000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20000)
    n = ap.parse_args().events
    with tempfile.TemporaryDirectory() as d:
        path = str(Path(d) / "plan.json")
        Path(path).write_text(json.dumps(plan_doc()))
        t = time.perf_counter()
        load_plan(path)
        compile_ms = (time.perf_counter() - t) * 1000
        REGISTRY.interval = 1.0
        print(f"{'plan step, us/event':38} {'all valid':>10} {'10 % violating':>15}")
        for mode in ("no plan", "observe", "strip", "block"):  # best of 3: the machine is shared
            a = min(step_cost(n, path, mode, 0.0) for _ in range(3))
            b = min(step_cost(n, path, mode, 0.1) for _ in range(3))
            print(f"{mode:38} {a:10.2f} {b:15.2f}")
        plan = load_plan(path)
        for share in (0.0, 0.1):
            msgs = messages(n, share, random.Random(2))
            best = float("inf")
            for _ in range(3):
                t = time.perf_counter()
                for m in msgs:
                    check(plan, "observe", m["type"], m.get("event", ""), m.get("properties"), None)
                best = min(best, (time.perf_counter() - t) / n * 1e6)
            print(f"{'check() alone, ' + format(share, '.0%') + ' violating':38} {best:10.2f}")
    print(f"\n{'validator alone, Order Completed (valid)':44} us/call")
    for name, us in validators(order_props(1, False)):
        print(f"{name:44} {us:7.2f}" if us == us else f"{name:44} (not installed)")
    print(f"\nload + compile the 12-event plan once: {compile_ms:.1f} ms")


if __name__ == "__main__":
    main()
