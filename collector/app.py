"""The Starlette application: routes and the thin handlers that call the pipeline."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from collector.attribution.http import AttributionRoutes
from collector.edge import WriterProxy, edge_metrics, writer_problems
from collector.enrich.clientip import trusted_peer
from collector.experiments import http as experiments_http
from collector.ops import metrics
from collector.ops.openapi import openapi_document
from collector.plans import api as plans_api
from collector.quality import api as quality_api
from collector.query.persons import PersonRoutes
from collector.query.sql import QueryError, run_readonly, sql_request
from collector.receive import guard
from collector.receive.analyticsjs import scheme_seen, segment_settings
from collector.receive.auth import request_origin
from collector.receive.body import BodyError, parse_json, read_body
from collector.receive.ingest import Ingest, IngestASGI, cors_headers
from collector.reports import api as reports_api
from collector.scores.sync import ScoreSync
from collector.service import DEMO_DIR, TAG_DIST, Collector
from collector.settings import Settings
from collector.types import INGEST_PATHS

log = logging.getLogger("footpath.http")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


def error(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    metrics.REQUESTS_REFUSED.labels(str(status)).inc()
    return json_response({"error": reason}, status, headers)




class CollectorApp(Starlette):
    """Starlette with a front door: ingestion POSTs go to `front` (IngestASGI) before the
    middleware stack and the routing table; everything else takes Starlette's way."""

    front: IngestASGI | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        front = self.front
        if front is not None and front.wants(scope):
            await front(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


class Handlers:
    def __init__(self, c: Collector):
        self.c = c
        self.s: Settings = c.settings
        self.proxies = c.settings.proxy_networks
        self._tag_cache: dict[str, tuple[bytes, str, float]] = {}
        self.ingester = Ingest(c)
        self.writer_url = ""

    async def preflight(self, request: Request) -> Response:
        origin = request_origin(request.headers.get("origin"), None)
        if origin is None or origin not in self.c.keyring.any_origins:
            return error(403, "origin not allowed")
        return Response(status_code=204, headers={
            **cors_headers(origin), "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
            "Access-Control-Allow-Headers": "content-type, authorization", "Access-Control-Max-Age": "86400"})

    # -- tag and site config ---------------------------------------------------------------
    async def tag(self, request: Request) -> Response:
        name = request.path_params.get("name", "t")
        path = TAG_DIST / f"{name}.js"
        if not path.is_file() or path.parent != TAG_DIST:
            return error(404, "no such script; build the tag with `make tag`")
        mtime = path.stat().st_mtime
        cached = self._tag_cache.get(name)
        if cached is None or cached[2] != mtime:
            data = path.read_bytes()
            cached = (data, '"' + hashlib.sha256(data).hexdigest()[:20] + '"', mtime)
            self._tag_cache[name] = cached
        data, etag, _ = cached
        headers = {"ETag": etag, "Cache-Control": "public, max-age=3600, stale-while-revalidate=86400",
                   "Access-Control-Allow-Origin": "*"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(data, media_type="text/javascript; charset=utf-8", headers=headers)

    async def site_config(self, request: Request) -> Response:
        site = self.c.keyring.site_for_public_key(request.path_params["key"])
        origin = request_origin(request.headers.get("origin"), None)
        if site is None:
            return error(404, "unknown key", cors_headers(origin))
        cors = cors_headers(origin) if origin and site.allows_origin(origin) else {}
        return json_response(site.public_config(), 200, {**cors, "Cache-Control": "public, max-age=300"})

    async def segment_settings(self, request: Request) -> Response:
        """What analytics.js reads from its CDN before it sends anything (`cdnURL`): its
        Segment.io destination, aimed back at this collector with the site's public key.
        analytics.js loads with `cdnURL` set to the collector and nothing else changed."""
        site = self.c.keyring.site_for_public_key(request.path_params["key"])
        origin = request_origin(request.headers.get("origin"), None)
        if site is None:
            return error(404, "unknown key (analytics.js takes the site's public key as its writeKey)",
                         cors_headers(origin))
        cors = cors_headers(origin) if origin and site.allows_origin(origin) else {}
        peer = request.client.host if request.client else ""
        forwarded = (request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
                     if trusted_peer(peer, self.s.proxy_networks) else None)
        scheme = scheme_seen(request.url.scheme, origin, forwarded)
        return json_response(segment_settings(request.path_params["key"], scheme, request.url.netloc),
                             200, {**cors, "Cache-Control": "public, max-age=300", "Vary": "Origin"})

    # -- operations ------------------------------------------------------------------------
    async def openapi(self, request: Request) -> Response:
        return json_response(openapi_document())

    async def healthz(self, request: Request) -> Response:
        return json_response({"status": "alive"})

    async def readyz(self, request: Request) -> Response:
        ok, problems = self.c.readiness()
        if self.writer_url:
            problems += await writer_problems(self.writer_url)
        return json_response({"ready": not problems, "problems": problems}, 503 if problems else 200)

    async def metrics(self, request: Request) -> Response:
        body = metrics.render()
        if self.writer_url:  # an edge of serve --workers: the storage side is the writer's
            body = await edge_metrics(body, self.writer_url)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    # -- admin -----------------------------------------------------------------------------
    def admin_ok(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        return bool(self.s.admin_token) and hmac.compare_digest(token.encode(), self.s.admin_token.encode())

    async def admin_json(self, request: Request) -> dict[str, Any] | Response:
        if not self.admin_ok(request):
            return error(401, "admin bearer token required", {"WWW-Authenticate": "Bearer"})
        try:
            body = await read_body(request, 1 << 20, check_type=False)
            doc, _ = parse_json(body)
        except BodyError as e:
            return error(e.status, e.reason)
        if not isinstance(doc, dict):
            return error(400, "body must be a JSON object")
        return doc

    async def sql(self, request: Request) -> Response:
        if not self.admin_ok(request):
            return error(401, "admin bearer token required", {"WWW-Authenticate": "Bearer"})
        try:
            body = await read_body(request, 1 << 20, check_type=False)
            sql, params = sql_request(body, request.query_params.multi_items())
            result = await asyncio.get_running_loop().run_in_executor(None, run_readonly, self.c.store, sql, params)
        except BodyError as e:
            return error(e.status, e.reason)
        except QueryError as e:
            return error(e.status, e.reason)
        return json_response(result)

    async def flush(self, request: Request) -> Response:
        """Admin: wait until everything acknowledged so far is in ClickHouse (and in persons)."""
        if not self.admin_ok(request):
            return error(401, "admin bearer token required")
        if self.c.writer is None:
            return error(409, "this process does not own the writer")
        ok = await asyncio.get_running_loop().run_in_executor(None, self.c.flush, 30.0)
        return json_response({"flushed": ok}, 200 if ok else 503)


def build_app(settings: Settings, collector: Collector | None = None, writer_url: str = "") -> Starlette:
    """The collector app.  With `writer_url` it is an edge worker: it buffers under its own
    series, runs no writer, and forwards engine-bound requests to the writer process."""
    guard.configure(settings.read_timeout_s, settings.max_header_bytes)  # this process's connections
    if collector is None:
        collector = (Collector(settings, series=f"e{os.getpid()}", run_writer=False) if writer_url
                     else Collector(settings))
    c = collector
    h = Handlers(c)
    h.writer_url = writer_url
    # Ingestion: CollectorApp hands these POSTs to `front` before routing; the routes list
    # the same ASGI endpoint so the routing table (405s, /openapi.json) knows them too.
    front = IngestASGI(h.ingester)
    routes = [
        *(Route(path, front, methods=["POST"], name=f"ingest_{path[4:]}") for path in INGEST_PATHS),
        *(Route(path, h.preflight, methods=["OPTIONS"], name=f"preflight_{path[4:]}") for path in INGEST_PATHS),
        Route("/t.js", h.tag, methods=["GET", "HEAD"]),
        Route("/t/{name:str}.js", h.tag, methods=["GET", "HEAD"]),
        Route("/v1/sites/{key:str}/config", h.site_config, methods=["GET"]),
        Route("/v1/projects/{key:str}/settings", h.segment_settings, methods=["GET"]),
        Route("/openapi.json", h.openapi), Route("/healthz", h.healthz), Route("/readyz", h.readyz), Route("/metrics", h.metrics),
        # no icon: an empty answer, so a browser opening the report pages logs no 404
        Route("/favicon.ico", lambda r: Response(status_code=204), methods=["GET"]),
        Route("/v1/admin/flush", h.flush, methods=["POST"]),
        Route("/v1/sql", h.sql, methods=["POST"]),
        *PersonRoutes(h).routes(),  # GET / DELETE /v1/persons/{site}/{id}
        *AttributionRoutes(h).routes(),  # POST /v1/reports/attribution
        *plans_api.routes(h), *quality_api.routes(h),  # plans, quarantine, /v1/quality, /quality
        *experiments_http.routes(h),  # GET /v1/experiments/assign, POST /v1/reports/experiment
        *reports_api.routes(h),  # POST /v1/reports/fallout, /v1/reports/paths; GET /reports
    ]
    if DEMO_DIR.is_dir():
        routes.append(Mount("/demo", StaticFiles(directory=DEMO_DIR, html=True), name="demo"))
        routes.append(Route("/", lambda r: RedirectResponse("/demo/")))
    else:
        routes.append(Route("/", lambda r: PlainTextResponse("Footpath collector\n")))
    if settings.test_fixtures and Path(settings.test_fixtures).is_dir():
        routes.append(Mount("/__fixtures__", StaticFiles(directory=settings.test_fixtures, html=True)))

    score_sync = ScoreSync(c)  # site score settings -> footpath.score_settings (collector/scores)
    bandits = experiments_http.BanditScheduler(c, experiments_http.run_report)  # bandit weights

    @asynccontextmanager
    async def lifespan(app: Starlette):  # noqa: ANN202
        c.start()
        score_sync.start()
        bandits.start()
        try:
            yield
        finally:
            bandits.stop()
            score_sync.stop()
            await asyncio.get_running_loop().run_in_executor(None, c.stop)

    middleware = [Middleware(WriterProxy, writer_url=writer_url)] if writer_url else []
    app = CollectorApp(routes=routes, lifespan=lifespan, middleware=middleware)
    app.front = front
    app.state.collector = c
    app.state.score_sync = score_sync
    app.state.bandits = bandits
    return app
