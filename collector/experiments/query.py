"""The results query: one row per exposed person.

A person's variant is the `variation_id` of their first `Experiment Viewed` (properties
`experiment_id`, `variation_id`) in the date range, persons resolved by identity
(footpath.events_person: a login on another device is the same person, and the first
exposure wins).  A conversion is a goal event after that first exposure (a funnel goal:
all its steps in order after it).  Metrics and guardrails: whether the person did the step
after exposure, or with `property`, the sum of that property over those events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from collector.experiments.config import Experiment, Metric
from collector.reports.sources import Params, event_rows, ms, packed, range_condition, step_condition
from collector.reports.spec import Step

EXPOSURE = Step(type="track", event="Experiment Viewed")


def build(exp: Experiment, site: str, start: datetime, end: datetime, client: Any,
          include_bots: bool = False) -> tuple[str, dict[str, Any], list[Metric]]:
    p = Params()
    src = event_rows("raw", True, client)
    base = [f"site_id = {p.add(site, 'String')}", range_condition(p, ms(start), ms(end)), "person_key != 0"]
    if not include_bots:
        base.append("NOT is_bot")
    exposure = (f"{step_condition(EXPOSURE, p)} AND JSONExtractString(properties, 'experiment_id') = "
                f"{p.add(exp.key, 'String')}")
    metrics = [*exp.metrics, *exp.guardrails]
    conds = [step_condition(s, p) for s in exp.goal] + [step_condition(m.step, p) for m in metrics]
    flags = ", ".join(f"({c}) AS c{i}" for i, c in enumerate(conds))
    values = "".join(f", JSONExtractFloat(properties, {p.add(m.property, 'String')}) AS v{i}"
                     for i, m in enumerate(metrics) if m.property)
    after = "ev.t > x.t0"
    g = len(exp.goal)
    if g == 1:
        goal_cols = f"countIf(ev.c0 AND {after}) > 0 AS conv, minIf(ev.t, ev.c0 AND {after}) AS conv_t"
    else:
        window = packed(ms(end) - ms(start))
        levels = ", ".join(f"ev.c{i} AND {after}" for i in range(g))
        goal_cols = (f"windowFunnel({window})(ev.t, {levels}) = {g} AS conv, "
                     f"maxIf(ev.t, ev.c{g - 1} AND {after}) AS conv_t")
    mcols = []
    for i, m in enumerate(metrics):
        c = f"ev.c{g + i} AND {after}"
        mcols.append(f"sumIf(ev.v{i}, {c}) AS m{i}" if m.property else f"toFloat64(countIf({c}) > 0) AS m{i}")
    any_metric = " OR ".join(f"c{i}" for i in range(len(conds)))
    where = " AND ".join(base)
    sql = f"""
WITH x AS (
    SELECT person_key, argMin(JSONExtractString(properties, 'variation_id'), t) AS variant, min(t) AS t0
    FROM {src} WHERE {where} AND {exposure}
    GROUP BY person_key
)
SELECT x.variant AS variant, intDiv(x.t0, {1 << 21}) AS t0_ms, {goal_cols}{''.join(', ' + c for c in mcols)}
FROM x LEFT JOIN (
    SELECT person_key, t, {flags}{values} FROM {src} WHERE {where} AND ({any_metric})
) AS ev ON ev.person_key = x.person_key
GROUP BY x.person_key, x.variant, x.t0
"""
    return sql, p.values, metrics
