"""The fill-rate views (0036, 0044, 0048): a row counts each top-level key of its properties
(traits for identify) whose value is not null, whatever the JSON text looks like.  Rows go
straight into footpath.events and footpath.quarantine; the expected counts come from
Python's own JSON parser."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from collector.write.store import apply_migrations

# texts the collector writes (compact objects, nulls, nested nulls, escaped and repeated
# keys, the word null inside keys and strings) and texts it never writes but a hand-made
# insert may hold (spaces, invalid JSON, non-objects)
TEXTS = [
    '{"sku":"S1","price":35.5,"category":"yoga"}',
    '{"sku":"S2","price":null,"category":"yoga"}',
    '{"coupon":null}',
    '{"a":{"b":null},"c":[null,1]}',
    '{"nullable":true,"annulled":"null","x":"not null"}',
    '{"\\u00e9t\\u00e9":1,"x\\"y":2,"n\\u0075ll":3}',
    '{"a":1,"a":2}',
    '{ "spaced" : 1 , "gap" : null }',
    "{}",
    "",
    "not json",
    "[1,null]",
    '{"cut":1',
]


def present(text: str) -> list[str]:
    """The keys the view counts: an object's keys whose value is not null, repeated keys
    each time; nothing for a text that is not a JSON object."""
    try:
        pairs = json.loads(text, object_pairs_hook=lambda p: p)
    except ValueError:
        return []
    return [k for k, v in pairs if v is not None] if isinstance(pairs, list) and text.lstrip().startswith("{") \
        else []


def fill(ch: Any, site: str) -> Counter:
    rows = ch.query("SELECT type, event, property, sum(present) FROM footpath.quality_fill_hourly "
                    "WHERE site_id = {s:String} GROUP BY type, event, property", parameters={"s": site}).result_rows
    return Counter({(t, e, p): n for t, e, p, n in rows})


def test_present_keys_of_stored_events(ch):
    apply_migrations(ch)
    site = f"fill_{time.time_ns()}"
    expected: Counter = Counter()
    values = []
    for i, text in enumerate(TEXTS):
        for type_, event in (("track", "Order Completed"), ("page", ""), ("identify", "")):
            props, traits = (text, "{}") if type_ != "identify" else ('{"ignored":1}', text)
            values.append((f"m{i}{type_}", site, type_, event, props, traits))
            expected.update((type_, event, k) for k in present(text))
    assert expected[("track", "Order Completed", "coupon")] == 0  # only null: not present
    assert expected[("track", "Order Completed", "a")] == 3  # a nested null counts; a repeated key twice
    assert expected[("identify", "", "nullable")] == 1
    now = datetime.now(UTC)
    ch.insert("footpath.events", [[*v, now, now] for v in values],
              column_names=["message_id", "site_id", "type", "event", "properties", "traits", "timestamp",
                            "received_at"])
    assert fill(ch, site) == expected


def test_present_keys_of_quarantined_messages(ch):
    apply_migrations(ch)
    site = f"fill_q_{time.time_ns()}"
    now = datetime.now(UTC)
    ch.insert("footpath.quarantine", [[f"q{i}", site, "track", "Order Completed", text, now, now]
                                      for i, text in enumerate(TEXTS)],
              column_names=["message_id", "site_id", "type", "event", "properties", "timestamp", "received_at"])
    expected = Counter(("track", "Order Completed", k) for t in TEXTS for k in present(t))
    assert fill(ch, site) == expected
