"""The site-table keys of tracking plans and alerts, checked when the config is loaded:

    tracking_plan = "plans/shop.json"   # JSON or YAML, relative to the config file
    plan_mode = "observe"               # observe | strip | block
    alert_webhook = "https://hooks.example/footpath"
    alert_violation_percent = 5         # violation-rate alert threshold, percent
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from collector.plans.model import MODES, PlanError, load_plan


class FieldProblem(ValueError):
    def __init__(self, field: str, why: str):
        super().__init__(why)
        self.field = field
        self.why = why


def check_site_fields(kwargs: dict[str, Any], base_dir: Path) -> None:
    """Resolves tracking_plan in place and raises FieldProblem naming the bad key."""
    plan = kwargs.get("tracking_plan", "")
    if plan:
        resolved = (base_dir / plan).resolve()
        try:
            load_plan(resolved)
        except PlanError as e:
            raise FieldProblem("tracking_plan", str(e)) from None
        kwargs["tracking_plan"] = str(resolved)
    mode = kwargs.get("plan_mode")
    if mode is not None:
        if mode not in MODES:
            raise FieldProblem("plan_mode", f"must be one of {', '.join(MODES)}, got {mode!r}")
        if not plan:
            raise FieldProblem("plan_mode", "needs tracking_plan (the plan file the mode applies to)")
    hook = kwargs.get("alert_webhook", "")
    if hook:
        try:
            parts = urlsplit(hook)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            ok = False
        if not ok:
            raise FieldProblem("alert_webhook", f"must be an http(s) URL, got {hook!r}")
    pct = kwargs.get("alert_violation_percent")
    if pct is not None and not 1 <= pct <= 100:
        raise FieldProblem("alert_violation_percent", f"must be between 1 and 100, got {pct}")
