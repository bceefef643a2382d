"""`[[site.experiment]]` tables -> typed, validated Experiment objects.

    [[site.experiment]]
    key = "checkout-button"
    variants = [{key = "control", weight = 50}, {key = "green", weight = 50}]  # first: control
    status = "running"            # draft | running | stopped
    start = "2026-11-01"          # optional dates (UTC); outside them everyone gets control
    end = "2026-12-01"
    goal = {type = "track", event = "Order Completed"}   # a step, or a list of steps (funnel)
    metrics = [{name = "revenue", event = "Order Completed", property = "revenue"}]
    guardrails = [{name = "refunds", event = "Order Refunded"}]
    allocation = "fixed"          # fixed | bandit
    bandit_floor = 0.01           # every arm keeps at least this share
    control_share = 0.5           # optional fixed share for the control under bandit
    bandit_interval = 3600        # seconds between bandit recomputations
    mde = 0.05                    # relative minimum detectable effect for the sample size
    winner = "green"              # optional: a stopped experiment serves this variant

Errors are ValueErrors whose text names the experiment and the field; collector/sites.py
prefixes the site."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collector.reports.spec import SpecError, Step, parse_step, parse_time

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
STATUSES = ("draft", "running", "stopped")
ALLOCATIONS = ("fixed", "bandit")
_STEP_FIELDS = {"type", "event", "path", "properties", "label"}
_FIELDS = {"key", "name", "variants", "status", "start", "end", "goal", "metrics", "guardrails",
           "allocation", "bandit_floor", "control_share", "bandit_interval", "mde", "winner"}


@dataclass(frozen=True)
class Variant:
    key: str
    weight: float


@dataclass(frozen=True)
class Metric:
    """A conversion metric (persons doing the step after exposure) or, with `property`, a
    value per person (sum of the property over matching events after exposure)."""

    name: str
    step: Step
    property: str | None = None
    guardrail: bool = False


@dataclass(frozen=True)
class Experiment:
    key: str
    variants: tuple[Variant, ...]
    goal: tuple[Step, ...]
    name: str = ""
    status: str = "running"
    start: datetime | None = None
    end: datetime | None = None
    metrics: tuple[Metric, ...] = ()
    guardrails: tuple[Metric, ...] = ()
    allocation: str = "fixed"
    bandit_floor: float = 0.01
    control_share: float | None = None
    bandit_interval: int = 3600
    mde: float = 0.05
    winner: str | None = None

    @property
    def weights(self) -> tuple[float, ...]:
        return tuple(v.weight for v in self.variants)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(v.key for v in self.variants)

    def active(self, now: datetime) -> bool:
        return (self.status == "running" and (self.start is None or now >= self.start)
                and (self.end is None or now < self.end))


class ConfigError(ValueError):
    pass


def _num(v: Any, where: str, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise ConfigError(f"{where}: must be a number between {lo:g} and {hi:g}, got {v!r}")
    return float(v)


def _step(doc: Any, where: str) -> Step:
    try:
        return parse_step(doc, where)
    except SpecError as e:
        raise ConfigError(f"{e.field}: {e.reason}") from None


def _metric(doc: Any, where: str, guardrail: bool) -> Metric:
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: must be a table like {{name = \"revenue\", event = \"Order Completed\"}}")
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.name: is required (a non-empty string)")
    prop = doc.get("property")
    if prop is not None and (not isinstance(prop, str) or not prop):
        raise ConfigError(f"{where}.property: must be a property name")
    extra = set(doc) - _STEP_FIELDS - {"name", "property"}
    if extra:
        raise ConfigError(f"{where}.{sorted(extra)[0]}: unknown field")
    step = _step({k: v for k, v in doc.items() if k in _STEP_FIELDS}, where)
    return Metric(name, step, prop, guardrail)


def parse_experiment(doc: Any, idx: int) -> Experiment:
    where = f"experiment #{idx + 1}"
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: must be a table ([[site.experiment]])")
    key = doc.get("key")
    if isinstance(key, str) and key:
        where = f"experiment {key!r}"
    for k in doc:
        if k not in _FIELDS:
            raise ConfigError(f"{where}: field {k!r}: unknown field (typo?)")
    if not isinstance(key, str) or not _KEY.match(key):
        raise ConfigError(f"{where}: field 'key': required, 1-100 of A-Z a-z 0-9 _ . : -")
    raw_vars = doc.get("variants")
    if not isinstance(raw_vars, list) or len(raw_vars) < 2 or len(raw_vars) > 20:
        raise ConfigError(f"{where}: field 'variants': give 2 to 20 tables {{key = \"control\", weight = 50}}")
    variants = []
    for i, v in enumerate(raw_vars):
        vw = f"{where}: field 'variants[{i}]"
        if not isinstance(v, dict) or set(v) - {"key", "weight"}:
            raise ConfigError(f"{vw}': must be a table with key and weight only")
        if not isinstance(v.get("key"), str) or not _KEY.match(v["key"]):
            raise ConfigError(f"{vw}.key': required, 1-100 of A-Z a-z 0-9 _ . : -")
        variants.append(Variant(v["key"], _num(v.get("weight", 1), f"{vw}.weight'", 0, 1e9)))
    if len({v.key for v in variants}) != len(variants):
        raise ConfigError(f"{where}: field 'variants': variant keys must be unique")
    if sum(v.weight for v in variants) <= 0:
        raise ConfigError(f"{where}: field 'variants': weights must not all be 0")
    kw: dict[str, Any] = {}
    try:
        goal = doc.get("goal")
        if goal is None:
            raise ConfigError("goal: is required (a step like {type = \"track\", event = \"Order Completed\"})")
        steps = goal if isinstance(goal, list) else [goal]
        if not 1 <= len(steps) <= 8:
            raise ConfigError("goal: give a step or a list of 1 to 8 steps")
        kw["goal"] = tuple(_step(s, f"goal[{i}]" if isinstance(goal, list) else "goal") for i, s in enumerate(steps))
        for fld, guard in (("metrics", False), ("guardrails", True)):
            raw = doc.get(fld, [])
            if not isinstance(raw, list) or len(raw) > 20:
                raise ConfigError(f"{fld}: must be a list of at most 20 tables")
            kw[fld] = tuple(_metric(m, f"{fld}[{i}]", guard) for i, m in enumerate(raw))
        if "status" in doc:
            if doc["status"] not in STATUSES:
                raise ConfigError(f"status: must be one of {', '.join(STATUSES)}")
            kw["status"] = doc["status"]
        if "allocation" in doc:
            if doc["allocation"] not in ALLOCATIONS:
                raise ConfigError(f"allocation: must be one of {', '.join(ALLOCATIONS)}")
            kw["allocation"] = doc["allocation"]
        for fld in ("start", "end"):
            if fld in doc:
                try:
                    kw[fld] = parse_time(str(doc[fld]) if not isinstance(doc[fld], str) else doc[fld], fld)
                except SpecError as e:
                    raise ConfigError(f"{fld}: {e.reason}") from None
        if "bandit_floor" in doc:
            kw["bandit_floor"] = _num(doc["bandit_floor"], "bandit_floor", 0, 1 / len(variants))
        if "control_share" in doc:
            kw["control_share"] = _num(doc["control_share"], "control_share", 0, 1)
        if "bandit_interval" in doc:
            kw["bandit_interval"] = int(_num(doc["bandit_interval"], "bandit_interval", 10, 86400 * 7))
        if "mde" in doc:
            kw["mde"] = _num(doc["mde"], "mde", 0.001, 10)
        if "name" in doc:
            if not isinstance(doc["name"], str):
                raise ConfigError("name: must be a string")
            kw["name"] = doc["name"]
        if "winner" in doc:
            if doc["winner"] not in [v.key for v in variants]:
                raise ConfigError(f"winner: must be one of the variant keys ({', '.join(v.key for v in variants)})")
            kw["winner"] = doc["winner"]
    except ConfigError as e:
        field, _, why = str(e).partition(": ")
        raise ConfigError(f"{where}: field {field!r}: {why}") from None
    if kw.get("start") and kw.get("end") and kw["end"] <= kw["start"]:
        raise ConfigError(f"{where}: field 'end': must be after start")
    return Experiment(key=key, variants=tuple(variants), **kw)


def parse_experiments(raw: Any) -> tuple[Experiment, ...]:
    """The list of `[[site.experiment]]` tables of one site."""
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ConfigError("must be an array of tables ([[site.experiment]])")
    out = tuple(parse_experiment(d, i) for i, d in enumerate(raw))
    seen: set[str] = set()
    for e in out:
        if e.key in seen:
            raise ConfigError(f"experiment {e.key!r}: field 'key': used twice")
        seen.add(e.key)
    return out
