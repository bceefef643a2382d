"""HTTP: GET /v1/experiments/assign (authenticated like ingestion: public key plus an
allowed Origin, or the write key), POST /v1/reports/experiment (admin bearer token) and
the page GET /experiments."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from clickhouse_connect.driver.exceptions import ClickHouseError
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from collector.experiments import query, registry, results
from collector.experiments.bandit import BanditScheduler
from collector.receive.auth import AuthError, authenticate, request_origin
from collector.reports.spec import SpecError, parse_time

log = logging.getLogger("footpath.experiments")
__all__ = ["BanditScheduler", "routes", "run_report"]
STATIC = Path(__file__).resolve().parents[1] / "static"


class RequestError(Exception):
    def __init__(self, status: int, field: str, reason: str):
        super().__init__(reason)
        self.status, self.field, self.reason = status, field, reason


def parse_report(doc: dict[str, Any], sites: dict[str, Any]) -> tuple[Any, Any, datetime, datetime]:
    for k in doc:
        if k not in ("site", "experiment", "from", "to", "include_bots"):
            raise RequestError(400, k, "unknown field (allowed: site, experiment, from, to, include_bots)")
    if not isinstance(doc.get("site"), str):
        raise RequestError(400, "site", "required: the site id")
    site = sites.get(doc["site"])
    if site is None:
        raise RequestError(404, "site", f"unknown site {doc['site']!r}")
    if not isinstance(doc.get("experiment"), str):
        raise RequestError(400, "experiment", "required: the experiment's key")
    exp = registry.find(site, doc["experiment"])
    if exp is None:
        raise RequestError(404, "experiment", f"no experiment {doc['experiment']!r} in site {site.id!r}")
    now = datetime.now(UTC)
    try:
        start = parse_time(doc["from"], "from") if doc.get("from") else (exp.start or now - timedelta(days=30))
        end = parse_time(doc["to"], "to") if doc.get("to") else min(exp.end or now + timedelta(seconds=1),
                                                                      now + timedelta(seconds=1))
    except SpecError as e:
        raise RequestError(400, e.field, e.reason) from None
    if doc.get("to") and len(doc["to"]) == 10:
        end += timedelta(days=1)  # a date as `to` includes that day
    if end <= start:
        raise RequestError(400, "to", "must be after from")
    if end - start > timedelta(days=366):
        raise RequestError(400, "to", "the range may span at most 366 days")
    return site, exp, start, end


def run_report(store: Any, site: Any, exp: Any, start: datetime, end: datetime, include_bots: bool = False) -> dict[str, Any]:
    with store.reading() as client:
        sql, params, metrics = query.build(exp, site.id, start, end, client, include_bots)
        rows = client.query(sql, parameters=params).result_rows
    return results.summarize(exp, site.id, rows, start, end, metrics)


def routes(h: Any) -> list[Route]:
    from collector.app import error, json_response
    from collector.receive.ingest import cors_headers

    async def assign(request: Request) -> Response:
        qp = request.query_params
        origin = request_origin(request.headers.get("origin"), None)
        cors = cors_headers(origin) if origin in h.c.keyring.any_origins else {}
        try:
            principal = authenticate(h.c.keyring, request.headers.get("authorization"), None, qp.get("key"),
                                     request.headers.get("origin"), request.headers.get("referer"))
        except AuthError as e:
            if not qp.get("key") and not request.headers.get("authorization"):  # ingestion's words name a body
                return error(401, "no key: give the site's public key as ?key= (from an allowed Origin), or the "
                                  "write key as HTTP Basic user", cors)
            return error(e.status, e.reason, cors)
        site = principal.site
        if qp.get("site") and qp["site"] != site.id:
            return error(403, f"the key does not belong to site {qp['site']!r}", cors)
        if not qp.get("experiment"):
            return json_response({"error": "give ?experiment= (the experiment's key)", "field": "experiment"},
                                 400, cors)
        exp = registry.find(site, qp["experiment"])
        if exp is None:
            return json_response({"error": f"no experiment {qp.get('experiment')!r} in site {site.id!r}",
                                  "field": "experiment"}, 404, cors)
        unit = (qp.get("user_id") or qp.get("anonymous_id") or "").strip()
        if not unit:
            return json_response({"error": "give user_id or anonymous_id (the unit of assignment)",
                                  "field": "anonymous_id"}, 400, cors)
        variant, exposed = registry.variant_for(site.id, exp, unit)
        return json_response({"experiment": exp.key, "variant": variant, "running": exposed},
                             200, {**cors, "Cache-Control": "no-store"})

    async def report(request: Request) -> Response:
        doc = await h.admin_json(request)
        if not isinstance(doc, dict):
            return doc
        try:
            site, exp, start, end = parse_report(doc, h.c.sites)
        except RequestError as e:
            return json_response({"error": f"{e.field}: {e.reason}", "field": e.field}, e.status)
        include_bots = doc.get("include_bots") is True
        try:
            out = await asyncio.get_running_loop().run_in_executor(
                None, run_report, h.c.store, site, exp, start, end, include_bots)
        except ClickHouseError as e:
            msg = str(e).split("Stack trace")[0].strip()[:1000]
            log.error("experiment query failed: %s", msg)
            return error(503, f"query failed: {msg}")
        return Response(orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "experiment.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})

    async def listing(request: Request) -> Response:
        if not h.admin_ok(request):
            return error(401, "admin bearer token required", {"WWW-Authenticate": "Bearer"})
        return json_response({"experiments": [
            {"site": sid, "key": e.key, "name": e.name, "status": e.status, "allocation": e.allocation,
             "variants": list(e.keys), "weights": list(registry.weights(sid, e))}
            for sid, s in sorted(h.c.sites.items()) for e in registry.experiments(s)]})

    return [
        Route("/v1/experiments/assign", assign, methods=["GET"]),
        Route("/v1/experiments", listing, methods=["GET"]),
        Route("/v1/reports/experiment", report, methods=["POST"]),
        Route("/experiments", page, methods=["GET"]),
    ]
