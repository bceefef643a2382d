"""Reading footpath.rejected_messages (0050; written by collector/validate/rejected.py): a
summary per field for the quality report and page, and the messages themselves for
`GET /v1/rejected` and `footpath rejected`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from collector.query.sql import jsonable
from collector.write.store import Store

WHERE = "site_id = {s:String} AND received_at >= {b:DateTime64(3, 'UTC')} AND received_at < {e:DateTime64(3, 'UTC')}"
LIST_COLUMNS = ("received_at", "source", "library", "field", "reason", "type", "event", "message_id", "user_id",
                "anonymous_id", "message", "message_bytes", "redacted")
MAX_LIMIT = 1000


def _params(site_id: str, start: datetime, end: datetime, **more: Any) -> dict[str, Any]:
    return {"s": site_id, "b": start, "e": end, **more}


def summary(store: Store, site_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    """{"total", "fields": [{"field", "type", "count", "reason" (the latest), "libraries",
    "first", "last", "example_message_id"}]}: one entry per field and message type, the
    most frequent first."""
    rows = store.admin().query(
        "SELECT field, type, count() AS n, argMax(reason, received_at), groupUniqArray(5)(library), "
        f"min(received_at), max(received_at), argMax(message_id, received_at) FROM footpath.rejected_messages "
        f"WHERE {WHERE} GROUP BY field, type ORDER BY n DESC, field, type LIMIT 100",
        parameters=_params(site_id, start, end)).result_rows
    fields = [{"field": f, "type": t, "count": int(n), "reason": reason,
               "libraries": sorted(x for x in libs if x), "first": jsonable(first), "last": jsonable(last),
               "example_message_id": mid} for f, t, n, reason, libs, first, last, mid in rows]
    return {"total": sum(x["count"] for x in fields), "fields": fields}


def listing(store: Store, site_id: str, start: datetime, end: datetime, field: str | None = None,
            limit: int = 100) -> list[dict[str, Any]]:
    """The latest rejected messages of the range, newest first (optionally of one field)."""
    where = WHERE + (" AND field = {f:String}" if field else "")
    result = store.admin().query(
        f"SELECT {', '.join(LIST_COLUMNS)} FROM footpath.rejected_messages WHERE {where} "
        "ORDER BY received_at DESC LIMIT {n:UInt32}",
        parameters=_params(site_id, start, end, f=field or "", n=max(1, min(limit, MAX_LIMIT))))
    return [{k: jsonable(v) for k, v in zip(LIST_COLUMNS, row, strict=True)} for row in result.result_rows]
