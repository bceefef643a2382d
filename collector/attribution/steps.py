"""The conversion step, exactly as the fallout report defines steps: parsed and matched by
the reports engineer's code (collector/reports/spec.py parse_step, sources.py
step_condition), so one step means the same events in both reports.

    {"type": "track", "event": "Order Completed", "path": "/checkout/*",
     "properties": {"plan": "pro", "coupon": ["A", "B"]}}

Values reach ClickHouse as bound parameters (``{name:Type}``), never as SQL text.
"""

from __future__ import annotations

from typing import Any

from collector.attribution.errors import RequestError
from collector.reports.sources import KEY_EXPR, Params, step_condition
from collector.reports.sources import glob_to_like as _glob_to_like
from collector.reports.spec import SpecError, parse_step


def glob_to_like(glob: str) -> str:
    """`/blog/*` -> `/blog/%` (`?` one character); LIKE's own wildcards are escaped."""
    return _glob_to_like(glob)


def value_sql(props: str, key_param: str) -> str:
    """A numeric property as Float64: numbers as they are, numeric strings parsed, else 0."""
    return (f"if(JSONType({props}, {{{key_param}:String}}) = 'String', "
            f"toFloat64OrZero(JSONExtractString({props}, {{{key_param}:String}})), "
            f"JSONExtractFloat({props}, {{{key_param}:String}}))")


def step_sql(step: Any, field: str) -> tuple[str, dict[str, Any]]:
    """(condition on footpath.events columns, bound parameters) for a report step; a bad
    step raises RequestError naming the field (``conversion.event``...)."""
    if step is None:
        raise RequestError(field, "is required: a step like {\"event\": \"Order Completed\"}")
    try:
        parsed = parse_step(step, field)
    except SpecError as e:
        raise RequestError(e.field, e.reason) from None
    p = Params()
    cond = step_condition(parsed, p, key=KEY_EXPR)
    # The reports' Params name parameters p0, p1, ...; prefix them so they never meet ours.
    for name in sorted(p.values, key=len, reverse=True):
        cond = cond.replace("{" + name + ":", "{step_" + name + ":")
    return cond, {f"step_{k}": v for k, v in p.values.items()}
