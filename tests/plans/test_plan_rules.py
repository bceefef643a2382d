"""Plan files and the check of one message: every JSON Schema rule type, every mode,
clear errors for bad plans.  Expected rules and property paths are written out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from collector.plans.check import check
from collector.plans.model import PlanError, load_plan, parse_plan

SCHEMA = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "pattern": "^o_[0-9]+$"},
        "total": {"type": "number", "minimum": 0, "maximum": 10000},
        "qty": {"type": "integer", "exclusiveMinimum": 0, "multipleOf": 2},
        "currency": {"enum": ["EUR", "USD"]},
        "kind": {"const": "web"},
        "coupon": {"type": "string", "minLength": 3, "maxLength": 8},
        "email": {"type": "string", "format": "email"},
        "at": {"type": "string", "format": "date-time"},
        "items": {"type": "array", "minItems": 1, "maxItems": 3, "uniqueItems": True,
                  "items": {"$ref": "#/$defs/item"}},
        "meta": {"type": "object", "properties": {"a": {"type": "boolean"}}, "additionalProperties": False},
        "channel": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "tags": {"type": "array", "contains": {"const": "x"}},
    },
    "patternProperties": {"^x_": {"type": "string"}},
    "required": ["order_id", "total"],
}
DEFS = {"item": {"type": "object", "properties": {"sku": {"type": "string"}}, "required": ["sku"]}}
VALID = {"order_id": "o_1", "total": 5.5, "qty": 2, "currency": "EUR", "kind": "web", "coupon": "SAVE10",
         "email": "a@b.example", "at": "2024-05-01T10:00:00Z", "items": [{"sku": "A"}], "meta": {"a": True},
         "channel": "web", "tags": ["x"], "x_extra": "ok"}


@pytest.fixture(scope="module")
def plan():
    return parse_plan({"version": 3, "allow_unplanned": False, "$defs": DEFS, "events": {"Order Completed": SCHEMA},
                       "page": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
                       "traits": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}}})


def rules(plan, props, mode="observe", event="Order Completed"):
    v = check(plan, mode, "track", event, props, None)
    return sorted((x["rule"], x["property"]) for x in v.violations)


def test_a_valid_event_has_no_violations(plan):
    v = check(plan, "observe", "track", "Order Completed", VALID, None)
    assert (v.status, v.violations, v.unplanned, v.blocked) == ("planned", [], [], False)


@pytest.mark.parametrize("change,expected", [
    ({"total": "12"}, [("type", "total")]),
    ({"total": None}, [("type", "total")]),
    ({"order_id": None, "total": None}, [("required", "order_id"), ("required", "total")]),
    ({"order_id": "x_1"}, [("pattern", "order_id")]),
    ({"total": -1}, [("minimum", "total")]),
    ({"total": 10001}, [("maximum", "total")]),
    ({"qty": 0}, [("exclusiveMinimum", "qty")]),
    ({"qty": 3}, [("multipleOf", "qty")]),
    ({"qty": "2"}, [("type", "qty")]),
    ({"currency": "JPY"}, [("enum", "currency")]),
    ({"kind": "app"}, [("const", "kind")]),
    ({"coupon": "AB"}, [("minLength", "coupon")]),
    ({"coupon": "ABCDEFGHIJ"}, [("maxLength", "coupon")]),
    ({"email": "not-an-email"}, [("format", "email")]),
    ({"at": "yesterday"}, [("format", "at")]),
    ({"items": []}, [("minItems", "items")]),
    ({"items": [{"sku": "A"}, {"sku": "B"}, {"sku": "C"}, {"sku": "D"}]}, [("maxItems", "items")]),
    ({"items": [{"sku": "A"}, {"sku": "A"}]}, [("uniqueItems", "items")]),
    ({"items": [{"sku": "A"}, {"name": "B"}]}, [("required", "items.1.sku")]),
    ({"items": [{"sku": 7}]}, [("type", "items.0.sku")]),
    ({"meta": {"a": True, "b": 1}}, [("additionalProperties", "meta.b")]),
    ({"meta": {"a": "yes"}}, [("type", "meta.a")]),
    ({"channel": 1.5}, [("oneOf", "channel")]),
    ({"tags": ["y"]}, [("contains", "tags")]),
    ({"x_extra": 5}, [("type", "x_extra")]),
])
def test_every_rule_type_names_its_keyword_and_property(plan, change, expected):
    props = {**VALID, **change}
    props = {k: v for k, v in props.items() if not (v is None and k in ("order_id", "total") and
                                                      ("required", k) in expected)}
    assert rules(plan, props) == expected


def test_unplanned_properties_are_recorded_in_every_mode_and_removed_only_by_strip(plan):
    props = {**VALID, "debug": 1, "utm_hack": "x"}
    for mode in ("observe", "block"):
        v = check(plan, mode, "track", "Order Completed", props, None)
        assert (v.unplanned, v.stripped, v.violations, v.blocked) == (["debug", "utm_hack"], None, [], False)
    v = check(plan, "strip", "track", "Order Completed", props, None)
    assert v.unplanned == ["debug", "utm_hack"]
    assert v.stripped == VALID  # x_extra matches patternProperties: planned
    assert v.violations == []


def test_strip_validates_what_is_stored(plan):
    closed = parse_plan({"version": 1, "events": {"E": {"type": "object", "properties": {"a": {"type": "integer"}},
                                                         "additionalProperties": False}}})
    assert [x["rule"] for x in check(closed, "observe", "track", "E", {"a": 1, "b": 2}, None).violations] == [
        "additionalProperties"]
    v = check(closed, "strip", "track", "E", {"a": 1, "b": 2}, None)
    assert (v.stripped, v.violations, v.unplanned) == ({"a": 1}, [], ["b"])


def test_block_mode_blocks_violations_and_unplanned_events(plan):
    assert check(plan, "block", "track", "Order Completed", {**VALID, "total": "1"}, None).blocked
    assert not check(plan, "block", "track", "Order Completed", VALID, None).blocked
    v = check(plan, "block", "track", "Coupon Applied", {"x": 1}, None)
    assert (v.status, v.blocked, [x["rule"] for x in v.violations]) == ("unplanned", True, ["unplanned_event"])
    assert check(plan, "observe", "track", "Coupon Applied", {}, None).blocked is False


def test_allow_unplanned_makes_unknown_events_no_violation():
    p = parse_plan({"version": 1, "allow_unplanned": True, "events": {}})
    v = check(p, "block", "track", "Anything", {"a": 1}, None)
    assert (v.status, v.violations, v.blocked) == ("unplanned", [], False)


def test_page_screen_identify_and_the_unchecked_types(plan):
    assert check(plan, "block", "page", "", {"path": "/"}, None).violations == []
    assert [x["rule"] for x in check(plan, "block", "screen", "", {}, None).violations] == ["required"]
    v = check(plan, "block", "identify", "", None, {"email": "nope"})
    assert (v.target, [(x["rule"], x["property"]) for x in v.violations], v.blocked) == (
        "traits", [("format", "email")], True)
    for t in ("group", "alias"):
        assert check(plan, "block", t, "", {"x": 1}, {"y": 2}).status == "unchecked"
    no_page = parse_plan({"version": 1, "events": {}})
    assert check(no_page, "block", "page", "", {"anything": 1}, None).status == "unchecked"


def test_violations_are_capped_per_message(plan):
    wide = parse_plan({"version": 1, "events": {"E": {"type": "object", "additionalProperties": {"type": "integer"}}}})
    v = check(wide, "observe", "track", "E", {f"p{i}": "x" for i in range(50)}, None)
    assert len(v.violations) == 20


def test_json_and_yaml_plans_load_alike(tmp_path: Path):
    doc = {"version": 2, "allow_unplanned": False, "events": {"Order Completed": SCHEMA}, "$defs": DEFS}
    (tmp_path / "p.json").write_text(json.dumps(doc))
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(doc))
    a, b = load_plan(tmp_path / "p.json"), load_plan(tmp_path / "p.yaml")
    assert (a.version, sorted(a.events), a.allow_unplanned) == (b.version, sorted(b.events), b.allow_unplanned)
    props = {**VALID, "currency": "JPY"}
    assert check(a, "observe", "track", "Order Completed", props, None).violations == \
        check(b, "observe", "track", "Order Completed", props, None).violations


@pytest.mark.parametrize("text,name,message", [
    ('{"version": 1, "events": {', "p.json", "not valid JSON"),
    ("version: 1\nevents: [a, b\n", "p.yaml", "not valid YAML at line"),
    ("[1, 2]", "p.json", "a plan must be an object"),
    ('{"events": {}}', "p.json", "'version' is required"),
    ('{"version": 0, "events": {}}', "p.json", "'version' is required: a positive integer"),
    ('{"version": 1, "event": {}}', "p.json", "unknown top-level key(s): 'event'"),
    ('{"version": 1, "allow_unplanned": "no"}', "p.json", "'allow_unplanned' must be true or false"),
    ('{"version": 1, "events": []}', "p.json", "'events' must be an object"),
    ('{"version": 1, "events": {"E": {"type": "strin"}}}', "p.json",
     "events.'E': properties and traits are objects"),
    ('{"version": 1, "events": {"E": {"properties": {"a": {"type": "strin"}}}}}', "p.json",
     "events.'E'['properties']['a']['type']: not a valid JSON Schema"),
    ('{"version": 1, "events": {"E": {"properties": {"a": {"pattern": "(unclosed"}}}}}', "p.json",
     "events.'E'"),
    ('{"version": 1, "events": {"E": {"$ref": "https://schemas.example/e.json"}}}', "p.json", "events.'E'"),
    ('{"version": 1, "events": {"E": 5}}', "p.json", "a schema must be an object"),
    ('{"version": 1, "page": {"required": "path"}}', "p.json", "page['required']: not a valid JSON Schema"),
])
def test_bad_plans_fail_with_the_place_named(tmp_path: Path, text, name, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(PlanError) as e:
        load_plan(tmp_path / name)
    assert message in str(e.value)
    assert str(tmp_path / name) in str(e.value)


def test_a_missing_plan_file_says_so(tmp_path: Path):
    with pytest.raises(PlanError, match="file not found"):
        load_plan(tmp_path / "nope.json")
