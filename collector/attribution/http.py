"""POST /v1/reports/attribution (admin bearer token): JSON in, JSON out (README.md)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from clickhouse_connect.driver.exceptions import ClickHouseError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collector.attribution.errors import RequestError
from collector.attribution.markov import TooManyStates
from collector.attribution.report import run_report
from collector.attribution.request import parse_request
from collector.ops import metrics

log = logging.getLogger("footpath.attribution")


def _json(data: Any, status: int = 200) -> Response:
    if status >= 400:
        metrics.REQUESTS_REFUSED.labels(str(status)).inc()
    return Response(orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY), status_code=status,
                    media_type="application/json")


class AttributionRoutes:
    def __init__(self, handlers: Any):
        self.h = handlers  # collector.app.Handlers: admin_json, and .c the Collector
        self.c = handlers.c

    def routes(self) -> list[Route]:
        return [Route("/v1/reports/attribution", self.post, methods=["POST"])]

    async def post(self, request: Request) -> Response:
        doc = await self.h.admin_json(request)
        if isinstance(doc, Response):
            return doc
        sites = {s.id: s for s in self.c.settings.sites}
        try:
            req = parse_request(doc, sites)
        except RequestError as e:
            return _json(e.body(), e.status)
        rules = sites[req.site].channel_rules if req.channel == "default" else ()
        store = self.c.store

        def run() -> dict[str, Any]:
            with store.reading() as client:
                return run_report(client, req, rules)

        try:
            result = await asyncio.get_running_loop().run_in_executor(None, run)
        except TooManyStates as e:
            return _json(RequestError("markov_order", str(e)).body(), 400)
        except ClickHouseError as e:
            msg = str(e).split("Stack trace")[0].strip()[:2000]
            log.warning("attribution query failed: %s", msg)
            return _json({"error": f"query failed: {msg}"}, 503)
        return _json(result)
