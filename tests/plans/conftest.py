"""Plan fixtures: plan files written per test, messages with a server write key."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "pattern": "^o_[0-9]+$"},
        "total": {"type": "number", "minimum": 0},
        "currency": {"enum": ["EUR", "USD", "GBP"]},
    },
    "required": ["order_id", "total", "currency"],
}


def plan_doc(version: int = 1, allow_unplanned: bool = False, **events: Any) -> dict[str, Any]:
    return {"version": version, "allow_unplanned": allow_unplanned,
            "events": events or {"Order Completed": ORDER_SCHEMA}}


def write_plan(path: Path, doc: dict[str, Any]) -> Path:
    """Atomically, as an editor or a deploy would (readers never see half a file)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)
    return path


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    return write_plan(tmp_path / "plan.json", plan_doc())


def order(i: int, **props: Any) -> dict[str, Any]:
    base = {"order_id": f"o_{i}", "total": 10.5 + i, "currency": "EUR"}
    base.update(props)
    return {"type": "track", "event": "Order Completed", "userId": f"u{i}", "messageId": f"m-{i}-{os.urandom(4).hex()}",
            "properties": {k: v for k, v in base.items() if v is not None}}
