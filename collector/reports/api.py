"""Running reports: pick the source (views, else the raw table), run one read-only query
on the limited reader client, shape the answer.  Also the HTTP handlers for
POST /v1/reports/fallout and POST /v1/reports/paths (admin bearer token)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.exceptions import ClickHouseError
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from collector.reports import fallout, paths
from collector.reports.sources import SourceError, has_person_view
from collector.reports.spec import FalloutSpec, PathsSpec, SpecError, parse_fallout, parse_paths
from collector.reports.stream import TooLarge
from collector.write.store import Store

log = logging.getLogger("footpath.reports")


class ReportError(Exception):
    def __init__(self, status: int, reason: str, field: str | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.field = field


def _run(store: Store, spec: FalloutSpec | PathsSpec, module: Any) -> dict[str, Any]:
    with store.reading(row_limit=False) as client:  # the streams hand every row of the range over
        return _run_on(client, store, spec, module)


def _run_on(client: Any, store: Store, spec: FalloutSpec | PathsSpec, module: Any) -> dict[str, Any]:
    if (spec.container == "person" or spec.segment is not None) and not has_person_view(client):
        raise ReportError(503, "person resolution is not available: footpath.events_person is missing")
    variants = ["mv", "raw"] if spec.source == "auto" else [spec.source]
    note = None
    for variant in variants:
        streamed = variant == "mv" and hasattr(module, "stream")
        try:
            sql, params, *state = module.stream(spec, client) if streamed else module.build(spec, variant, client)
        except SourceError as e:
            if spec.source == "mv":
                raise ReportError(400, f"the materialized views cannot answer this report: {e}",
                                  "source") from None
            note = f"answered from footpath.events: {e}"
            continue
        started = time.perf_counter()
        try:
            if streamed:  # the views' sorted rows, walked block by block in compiled code
                with client.query_column_block_stream(sql, parameters=params) as blocks:
                    rows = module.reduce(spec, blocks, *state, max_bytes=store.sql_limits.get("max_memory_usage"))
            else:
                rows = client.query(sql, parameters=params).result_rows
        except TooLarge as e:
            raise ReportError(503, f"report query ran out of memory (sql_max_memory): {e}") from None
        except ClickHouseError as e:
            msg = str(e).split("Stack trace")[0].strip()[:1000]
            if "TIMEOUT_EXCEEDED" in msg or "Timeout exceeded" in msg:
                raise ReportError(504, "report query ran past sql_max_seconds; narrow the date range") from None
            if "MEMORY_LIMIT" in msg:
                raise ReportError(503, "report query ran out of memory (sql_max_memory)") from None
            log.error("report query failed: %s", msg)
            raise ReportError(500, f"report query failed: {msg}") from None
        out = module.shape(spec, rows)
        out["source"] = variant
        out["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 1)
        if note:
            out["note"] = note
        return out
    raise ReportError(500, "no source could answer the report")


def run_fallout(store: Store, doc: Any) -> dict[str, Any]:
    spec = parse_fallout(doc)
    out = _run(store, spec, fallout)
    out["request"] = {"site": spec.site, "from": spec.start.isoformat(), "to": spec.end.isoformat(),
                      "container": spec.container, "mode": spec.mode, "window_seconds": spec.window_seconds,
                      "breakdown": spec.breakdown}
    return out


def run_paths(store: Store, doc: Any) -> dict[str, Any]:
    spec = parse_paths(doc)
    out = _run(store, spec, paths)
    out["request"] = {"site": spec.site, "from": spec.start.isoformat(), "to": spec.end.isoformat(),
                      "container": spec.container, "depth": spec.depth, "top": spec.top,
                      "direction": "backward" if spec.backward else "forward",
                      "collapse_repeats": spec.collapse_repeats, "include": list(spec.include)}
    return out


STATIC = Path(__file__).resolve().parents[1] / "static"
PAGE_FILES = {"reports.js": "text/javascript; charset=utf-8", "reports.css": "text/css; charset=utf-8"}


def routes(h: Any) -> list[Route]:
    """POST /v1/reports/fallout, POST /v1/reports/paths (admin token) and the report page
    GET /reports (static; the admin token is typed into the page)."""
    from collector.app import error, json_response

    def endpoint(runner: Callable[[Store, Any], dict[str, Any]]) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            doc = await h.admin_json(request)
            if not isinstance(doc, dict):
                return doc
            site = doc.get("site")
            if isinstance(site, str) and site not in h.c.sites:
                return json_response({"error": f"unknown site {site!r}", "field": "site"}, 404)
            try:
                out = await asyncio.get_running_loop().run_in_executor(None, runner, h.c.store, doc)
            except SpecError as e:
                return json_response({"error": f"{e.field}: {e.reason}", "field": e.field}, 400)
            except ReportError as e:
                if e.field:
                    return json_response({"error": e.reason, "field": e.field}, e.status)
                return error(e.status, e.reason)
            return json_response(out)
        return handle

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "reports.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in PAGE_FILES:
            return error(404, "not found")
        return FileResponse(STATIC / name, media_type=PAGE_FILES[name], headers={"Cache-Control": "no-cache"})

    async def sites(request: Request) -> Response:
        if not h.admin_ok(request):
            return error(401, "admin bearer token required", {"WWW-Authenticate": "Bearer"})
        return json_response({"sites": sorted(h.c.sites)})

    return [
        Route("/v1/reports/fallout", endpoint(run_fallout), methods=["POST"]),
        Route("/v1/reports/paths", endpoint(run_paths), methods=["POST"]),
        Route("/v1/reports/sites", sites, methods=["GET"]),
        Route("/reports", page, methods=["GET"]),
        Route("/reports/{name:str}", asset, methods=["GET"]),
    ]
