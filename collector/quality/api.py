"""Routes of the quality report: `GET /v1/quality?site=&from=&to=` (admin bearer token,
JSON), the rejected messages themselves, `GET /v1/rejected?site=&from=&to=&field=&limit=`,
and the page that shows the report, `GET /quality` (+ /quality.js; the page asks for the
token and keeps it in the tab's sessionStorage)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from collector.plans.api import _int, _run, fail, json_response, site_of
from collector.plans.registry import REGISTRY
from collector.quality import rejected
from collector.quality.report import ReportError, parse_range, quality_report

STATIC = Path(__file__).resolve().parents[1] / "static"


def routes(h: Any) -> list[Route]:
    def site_and_range(request: Request) -> tuple[Any, datetime, datetime] | Response:
        """The admin token checked, then `site`, `from` and `to` of the query string."""
        if not h.admin_ok(request):
            return fail(401, "admin bearer token required")
        qp = request.query_params
        site = site_of(h, qp.get("site"))
        if isinstance(site, Response):
            return site
        try:
            start, end = parse_range(qp.get("from"), qp.get("to"))
        except ReportError as e:
            return fail(400, str(e))
        return site, start, end

    async def report(request: Request) -> Response:
        asked = site_and_range(request)
        if isinstance(asked, Response):
            return asked
        site, start, end = asked
        plan = REGISTRY.get(site.tracking_plan) if site.tracking_plan else None
        quality = getattr(h.c, "quality", None)

        def work() -> dict[str, Any]:
            doc = quality_report(h.c.store, site.id, start, end, plan)
            doc["rejected"] = rejected.summary(h.c.store, site.id, start, end)
            doc["plan"] = ({**REGISTRY.status(site.tracking_plan), "mode": site.plan_mode}
                           if site.tracking_plan else None)
            doc["incidents"] = quality.incidents(site.id, start, end) if quality is not None else []
            doc["alerts"] = {"webhook": bool(site.alert_webhook),
                             "violation_threshold": site.alert_violation_percent / 100,
                             "last_evaluation": quality.last_evaluation if quality else None,
                             "last_error": quality.last_error if quality else None,
                             # a delivery given up on, shown here, not only in the logs (QA)
                             "last_delivery_failure": quality.sender.last_failure if quality else None}
            return doc

        try:
            return json_response(await _run(work))
        except Exception as e:  # noqa: BLE001 - storage trouble: 503, not a traceback
            return fail(503, f"storage unavailable: {type(e).__name__}: {str(e)[:200]}")

    async def rejected_list(request: Request) -> Response:
        asked = site_and_range(request)
        if isinstance(asked, Response):
            return asked
        site, start, end = asked
        qp = request.query_params
        try:
            limit = _int(qp.get("limit"), "limit", 1, rejected.MAX_LIMIT, 100)
        except ValueError as e:
            return fail(400, str(e))
        try:
            found = await _run(rejected.listing, h.c.store, site.id, start, end, qp.get("field"), limit)
        except Exception as e:  # noqa: BLE001 - storage trouble: 503, not a traceback
            return fail(503, f"storage unavailable: {type(e).__name__}: {str(e)[:200]}")
        return json_response({"site": site.id, "from": start.isoformat(), "to": end.isoformat(), "messages": found})

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "quality.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})

    async def script(request: Request) -> Response:
        return FileResponse(STATIC / "quality.js", media_type="text/javascript; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})

    return [
        Route("/v1/quality", report, methods=["GET"]),
        Route("/v1/rejected", rejected_list, methods=["GET"]),
        Route("/quality", page, methods=["GET"]),
        Route("/quality.js", script, methods=["GET"]),
    ]
