"""Experiments need nested tables in the site config; the shared TOML writer in
tests/conftest.py writes scalars and lists only, so these tests swap in one that writes
dicts as TOML inline tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tests.conftest as base

EXPERIMENT = {
    "key": "checkout-button",
    "variants": [{"key": "control", "weight": 50}, {"key": "green", "weight": 50}],
    "goal": {"type": "track", "event": "Order Completed"},
    "metrics": [{"name": "revenue", "event": "Order Completed", "property": "revenue"}],
    "guardrails": [{"name": "refunds", "event": "Order Refunded"}],
}


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f'"{k}" = {toml_value(x)}' for k, x in v.items()) + "}"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path: Path, sites: list[dict[str, Any]], settings: dict[str, Any] | None = None) -> Path:
    lines = []
    if settings:
        lines.append("[settings]")
        lines += [f"{k} = {toml_value(v)}" for k, v in settings.items()]
    for s in sites:
        lines.append("[[site]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in s.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def exp_server_factory(server_factory: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(base, "write_config", write_config)
    return server_factory
