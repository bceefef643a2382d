"""Admin routes of tracking plans (bearer admin token, JSON in and out):

    GET  /v1/plans?site=S                 the plan in force: version, events, load error
    POST /v1/plans/infer                  {"site": S, "days": 30, "max_enum": 10} -> a draft plan
    GET  /v1/quarantine?site=S&limit=100  counts and the latest quarantined messages
    POST /v1/quarantine/replay            {"site": S, "dry_run": false} -> counts
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collector.plans.infer import infer_plan
from collector.plans.registry import REGISTRY
from collector.plans.replay import list_quarantine, replay
from collector.sites import Site

log = logging.getLogger("footpath.plans")


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def fail(status: int, reason: str) -> Response:
    return json_response({"error": reason}, status)


def site_of(h: Any, value: Any) -> Site | Response:
    if not isinstance(value, str) or not value:
        return fail(400, "'site' is required")
    site = h.c.sites.get(value)
    return site if site is not None else fail(404, f"unknown site {value!r}")


def _int(v: Any, name: str, lo: int, hi: int, default: int) -> int:
    if v is None or v == "":
        return default
    try:
        n = int(v)
    except (TypeError, ValueError):
        raise ValueError(f"'{name}' must be an integer") from None
    if isinstance(v, bool) or not lo <= n <= hi:
        raise ValueError(f"'{name}' must be between {lo} and {hi}")
    return n


async def _run(fn: Any, *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def routes(h: Any) -> list[Route]:
    """h: the app's Handlers (admin_ok, admin_json, c = the Collector)."""

    async def plan_status(request: Request) -> Response:
        if not h.admin_ok(request):
            return fail(401, "admin bearer token required")
        site = site_of(h, request.query_params.get("site"))
        if isinstance(site, Response):
            return site
        if not site.tracking_plan:
            return json_response({"site": site.id, "plan": None})
        return json_response({"site": site.id, "mode": site.plan_mode, "plan": REGISTRY.status(site.tracking_plan)})

    async def infer(request: Request) -> Response:
        doc = await h.admin_json(request)
        if isinstance(doc, Response):
            return doc
        site = site_of(h, doc.get("site"))
        if isinstance(site, Response):
            return site
        try:
            days = _int(doc.get("days"), "days", 1, 400, 30)
            max_enum = _int(doc.get("max_enum"), "max_enum", 0, 100, 10)
        except ValueError as e:
            return fail(400, str(e))
        try:
            plan = await _run(infer_plan, h.c.store, site.id, days, max_enum)
        except Exception as e:  # noqa: BLE001 - storage trouble is the caller's 503, not a traceback
            log.warning("plan inference failed: %s", e)
            return fail(503, f"storage unavailable: {type(e).__name__}")
        return json_response(plan)

    async def quarantine(request: Request) -> Response:
        if not h.admin_ok(request):
            return fail(401, "admin bearer token required")
        site = site_of(h, request.query_params.get("site"))
        if isinstance(site, Response):
            return site
        status = request.query_params.get("status", "quarantined")
        if status not in ("quarantined", "replayed"):
            return fail(400, "'status' must be quarantined or replayed")
        try:
            limit = _int(request.query_params.get("limit"), "limit", 1, 10000, 100)
            return json_response(await _run(list_quarantine, h.c.store, site.id, status, limit))
        except ValueError as e:
            return fail(400, str(e))
        except Exception as e:  # noqa: BLE001
            return fail(503, f"storage unavailable: {type(e).__name__}")

    async def replay_route(request: Request) -> Response:
        doc = await h.admin_json(request)
        if isinstance(doc, Response):
            return doc
        site = site_of(h, doc.get("site"))
        if isinstance(site, Response):
            return site
        dry_run = doc.get("dry_run", False)
        if not isinstance(dry_run, bool):
            return fail(400, "'dry_run' must be true or false")

        def work() -> dict[str, Any]:
            if h.c.writer is not None:  # what was quarantined a moment ago is in storage first
                h.c.writer.wait_idle(30)
            entry = REGISTRY.refresh(site.tracking_plan, force=True) if site.tracking_plan else None
            result = replay(h.c.store, site, entry.plan if entry else None, dry_run)
            if entry is not None and entry.error:
                result["plan_error"] = entry.error
            return result

        try:
            return json_response(await _run(work))
        except Exception as e:  # noqa: BLE001
            log.warning("quarantine replay failed: %s", e)
            return fail(503, f"storage unavailable, nothing was lost; retry: {type(e).__name__}: {str(e)[:200]}")

    return [
        Route("/v1/plans", plan_status, methods=["GET"]),
        Route("/v1/plans/infer", infer, methods=["POST"]),
        Route("/v1/quarantine", quarantine, methods=["GET"]),
        Route("/v1/quarantine/replay", replay_route, methods=["POST"]),
    ]
