"""Person-score settings of a site: the ``scores`` table of a ``[[site]]`` in the config.

    [[site]]
    id = "shop"
    ...
    scores = {rfm_event = "Order Completed", rfm_value_property = "revenue",
              lead_decay = [0.6, 0.3, 0.1],
              lead_rules = [{event = "Demo Requested", weight = 40},
                            {path = "/pricing*", weight = 10},
                            {type = "track", event = "Heartbeat", weight = 0}]}

Lead rules are tried in order, first match wins, then the defaults (page view 2 points,
any track event 5); a rule matches on ``type`` (message type), ``event`` (glob on the event
name) and ``path`` (glob on the page path), whichever it names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MESSAGE_TYPES = ("track", "page", "screen", "identify", "group", "alias")


@dataclass(frozen=True)
class LeadRule:
    type: str = ""  # message type, "" for any
    event: str = ""  # glob on the event name, "" for any
    path: str = ""  # glob on the page path, "" for any
    weight: float = 0.0


DEFAULT_LEAD_RULES = (LeadRule(type="page", weight=2.0), LeadRule(type="track", weight=5.0))
DEFAULT_DECAY = (0.6, 0.3, 0.1)  # days 0-29, 30-59, 60 and older
TIERS = (("hot", 80), ("warm", 60), ("cool", 40), ("cold", 0))


@dataclass(frozen=True)
class ScoreConfig:
    rfm_event: str = "Order Completed"
    rfm_value_property: str = "revenue"
    lead_rules: tuple[LeadRule, ...] = ()
    lead_decay: tuple[float, float, float] = DEFAULT_DECAY

    @property
    def all_lead_rules(self) -> tuple[LeadRule, ...]:
        return self.lead_rules + DEFAULT_LEAD_RULES


def _number(v: Any, where: str, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        raise ValueError(f"{where}: must be a number from {lo:g} to {hi:g}")
    return float(v)


def _lead_rule(raw: Any, i: int) -> LeadRule:
    where = f"lead_rules[{i}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be a table like {{event = \"Demo Requested\", weight = 40}}")
    unknown = set(raw) - {"type", "event", "path", "weight"}
    if unknown:
        raise ValueError(f"{where}: unknown key {sorted(unknown)[0]!r} (type, event, path, weight)")
    if "weight" not in raw:
        raise ValueError(f"{where}.weight: is required")
    kw: dict[str, Any] = {"weight": _number(raw["weight"], f"{where}.weight", -1000, 1000)}
    for key in ("type", "event", "path"):
        v = raw.get(key)
        if v is None:
            continue
        if not isinstance(v, str) or not v or len(v) > 200:
            raise ValueError(f"{where}.{key}: must be a non-empty string (at most 200 characters)")
        kw[key] = v
    if kw.get("type") and kw["type"] not in MESSAGE_TYPES:
        raise ValueError(f"{where}.type: must be one of {', '.join(MESSAGE_TYPES)}")
    if len(kw) == 1:
        raise ValueError(f"{where}: needs at least one of type, event, path")
    return LeadRule(**kw)


def parse_scores(raw: Any) -> ScoreConfig:
    """Validate a site's ``scores`` table; ValueError names the key at fault."""
    if not isinstance(raw, dict):
        raise ValueError("must be a table: scores = {rfm_event = \"Order Completed\", ...}")
    unknown = set(raw) - {"rfm_event", "rfm_value_property", "lead_rules", "lead_decay"}
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r} (rfm_event, rfm_value_property, lead_rules, lead_decay)")
    kw: dict[str, Any] = {}
    for key in ("rfm_event", "rfm_value_property"):
        if key in raw:
            v = raw[key]
            if not isinstance(v, str) or len(v) > 200 or (key == "rfm_event" and not v):
                raise ValueError(f"{key}: must be a string (at most 200 characters)")
            kw[key] = v
    if "lead_decay" in raw:
        d = raw["lead_decay"]
        if not isinstance(d, list) or len(d) != 3:
            raise ValueError("lead_decay: must be three numbers: weights of days 0-29, 30-59, 60+")
        kw["lead_decay"] = tuple(_number(x, "lead_decay", 0, 10) for x in d)
    if "lead_rules" in raw:
        rules = raw["lead_rules"]
        if not isinstance(rules, list) or len(rules) > 200:
            raise ValueError("lead_rules: must be a list of at most 200 tables")
        kw["lead_rules"] = tuple(_lead_rule(r, i) for i, r in enumerate(rules))
    return ScoreConfig(**kw)
