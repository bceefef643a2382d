"""Tracking plans: read (JSON or YAML), check and compile once per file content.

A plan file:

    {"version": 2, "allow_unplanned": false,
     "events": {"Order Completed": <JSON Schema (draft 2020-12) of its properties>, ...},
     "page": <schema of page/screen properties, optional>,
     "traits": <schema of identify traits, optional>,
     "$defs": {<shared definitions, reachable from every schema as "#/$defs/...">}}

Every schema is checked against the 2020-12 meta-schema and compiled by jsonschema-rs
(Rust) once when the file is loaded; the hot path only calls the compiled validators.
Errors name the file and the place inside it, so `footpath plan check` can point at them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import yaml

TOP_KEYS = {"version", "allow_unplanned", "events", "page", "traits", "$defs", "$schema", "name",
            "description"}
MODES = ("observe", "strip", "block")


class PlanError(ValueError):
    """A plan that cannot be used; the message names the file and the place in it."""


@dataclass(frozen=True)
class Schema:
    """One compiled schema plus what strip mode needs: the property names it plans."""

    where: str  # "events.'Order Completed'", "page", "traits"
    validator: Any  # jsonschema_rs.Draft202012Validator
    names: frozenset[str]  # names under "properties"
    patterns: tuple[re.Pattern[str], ...]  # "patternProperties"
    open_ended: bool  # names no property, or additionalProperties is a schema: nothing is unplanned

    def unplanned(self, props: dict[str, Any]) -> list[str]:
        if self.open_ended:
            return []
        return [k for k in props if k not in self.names and not any(p.search(k) for p in self.patterns)]


@dataclass(frozen=True)
class Plan:
    version: int
    allow_unplanned: bool
    events: dict[str, Schema]
    page: Schema | None
    traits: Schema | None
    digest: str  # sha256 of the file bytes: what "compiled once" is keyed on
    source: str = ""
    doc: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _where_event(name: str) -> str:
    return f"events.{name!r}"


def read_document(path: str | Path) -> tuple[dict[str, Any], bytes]:
    """The plan file's document: JSON, or YAML for .yaml/.yml (or when JSON fails)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise PlanError(f"{p}: file not found") from None
    except OSError as e:
        raise PlanError(f"{p}: cannot read: {e.strerror}") from None
    return parse_text(data, str(p)), data


def parse_text(data: bytes, source: str) -> dict[str, Any]:
    yaml_name = source.lower().endswith((".yaml", ".yml"))
    if not yaml_name:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise PlanError(f"{source}: not valid JSON: {e}") from None
    else:
        try:
            doc = yaml.safe_load(data)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
            raise PlanError(f"{source}: not valid YAML{where}: {getattr(e, 'problem', None) or e}") from None
    if not isinstance(doc, dict):
        raise PlanError(f"{source}: a plan must be an object with 'version' and 'events'")
    return doc


def _compile(schema: Any, where: str, source: str, defs: dict[str, Any] | None) -> Schema:
    if isinstance(schema, bool):
        schema = {} if schema else {"not": {}}
    if not isinstance(schema, dict):
        raise PlanError(f"{source}: {where}: a schema must be an object (or true/false), got {schema!r}")
    if "type" in schema and schema["type"] not in ("object", ["object"]):
        raise PlanError(f"{source}: {where}: properties and traits are objects; 'type' must be \"object\", "
                        f"got {schema['type']!r}")
    if defs:
        schema = {**schema, "$defs": {**defs, **(schema.get("$defs") or {})}}
    try:
        jsonschema_rs.meta.validate(schema)
    except jsonschema_rs.ValidationError as e:
        path = "".join(f"[{p!r}]" for p in e.instance_path)
        raise PlanError(f"{source}: {where}{path}: not a valid JSON Schema (draft 2020-12): "
                        f"{e.message}") from None
    except jsonschema_rs.ReferencingError as e:
        raise PlanError(f"{source}: {where}: {e}") from None
    try:
        validator = jsonschema_rs.Draft202012Validator(schema, validate_formats=True, offline=True)
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise PlanError(f"{source}: {where}: cannot compile: {first}") from None
    props = schema.get("properties")
    pats = schema.get("patternProperties")
    names = frozenset(props) if isinstance(props, dict) else frozenset()
    patterns = []
    for pat in (pats or {}) if isinstance(pats, dict) else ():
        try:
            patterns.append(re.compile(pat))
        except re.error as e:  # ECMA regexes Python cannot read: treat as planning nothing
            raise PlanError(f"{source}: {where}.patternProperties: {pat!r}: {e}") from None
    open_ended = (not names and not patterns) or isinstance(schema.get("additionalProperties"), dict)
    return Schema(where, validator, names, tuple(patterns), open_ended)


def parse_plan(doc: dict[str, Any], source: str = "<plan>", digest: str = "") -> Plan:
    unknown = sorted(set(doc) - TOP_KEYS)
    if unknown:
        raise PlanError(f"{source}: unknown top-level key(s): {', '.join(map(repr, unknown))} "
                        f"(allowed: {', '.join(sorted(TOP_KEYS))})")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version < 2**32:
        raise PlanError(f"{source}: 'version' is required: a positive integer, bumped on every change "
                        f"(got {version!r})")
    allow = doc.get("allow_unplanned", True)
    if not isinstance(allow, bool):
        raise PlanError(f"{source}: 'allow_unplanned' must be true or false, got {allow!r}")
    defs = doc.get("$defs")
    if defs is not None and not isinstance(defs, dict):
        raise PlanError(f"{source}: '$defs' must be an object of named schemas")
    events_doc = doc.get("events", {})
    if not isinstance(events_doc, dict):
        raise PlanError(f"{source}: 'events' must be an object: event name -> JSON Schema of its properties")
    events = {}
    for name, schema in events_doc.items():
        if not isinstance(name, str) or not name:
            raise PlanError(f"{source}: events: event names must be non-empty strings, got {name!r}")
        events[name] = _compile(schema, _where_event(name), source, defs)
    page = _compile(doc["page"], "page", source, defs) if doc.get("page") is not None else None
    traits = _compile(doc["traits"], "traits", source, defs) if doc.get("traits") is not None else None
    digest = digest or hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return Plan(version, allow, events, page, traits, digest, source, doc)


def load_plan(path: str | Path) -> Plan:
    doc, data = read_document(path)
    return parse_plan(doc, str(path), hashlib.sha256(data).hexdigest())


def describe(plan: Plan) -> str:
    """One line for `plan check`."""
    parts = [f"version {plan.version}", f"{len(plan.events)} planned event(s)",
             "page schema" if plan.page else "no page schema",
             "traits schema" if plan.traits else "no traits schema",
             "unplanned events allowed" if plan.allow_unplanned else "unplanned events are violations"]
    return ", ".join(parts)
