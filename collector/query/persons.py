"""Admin person API (bearer token, like /v1/sql):

    GET    /v1/persons/{site}/{id}   profile: ids, latest traits, first/last seen, counts
    DELETE /v1/persons/{site}/{id}   right to erasure (?dry_run=1 counts without deleting)

{id} is 'u:<user id>', 'a:<anonymous id>' (person ids as in footpath.events_person) or a
bare id, tried as a user id first; percent-encode it.  A bare anonymous id linked to
several persons (a shared device) answers 409 with the candidate person ids."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import orjson
from clickhouse_connect.driver.exceptions import ClickHouseError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collector.ops import metrics
from collector.scores.lookup import lead_score
from identity.erase import erase
from identity.persons import PersonError, profile, resolve

_SITE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    if status >= 400:
        metrics.REQUESTS_REFUSED.labels(str(status)).inc()
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


_YES, _NO = ("1", "true", "yes"), ("0", "false", "no", "")


class PersonRoutes:
    def __init__(self, handlers: Any):
        self.h = handlers  # collector.app.Handlers: admin_ok, and .c the Collector
        self.c = handlers.c

    def routes(self) -> list[Route]:
        return [Route("/v1/persons/{site:str}/{ref:path}", self.get, methods=["GET"]),
                Route("/v1/persons/{site:str}/{ref:path}", self.delete, methods=["DELETE"])]

    def _check(self, request: Request) -> tuple[str, str] | Response:
        if not self.h.admin_ok(request):
            return _json({"error": "admin bearer token required"}, 401, {"WWW-Authenticate": "Bearer"})
        site, ref = request.path_params["site"], request.path_params["ref"]
        if not _SITE_RE.match(site):
            return _json({"error": "site: 1-63 of a-z 0-9 _ -"}, 400)
        if not ref or len(ref) > 1024:
            return _json({"error": "id: 1-1024 characters"}, 400)
        if request.method == "GET" and site not in self.c.sites:  # erasure still reaches a removed site's rows
            return _json({"error": f"unknown site {site!r}"}, 404)
        return site, ref

    async def _run(self, fn: Any, *args: Any) -> Response:
        try:
            doc = await asyncio.get_running_loop().run_in_executor(None, fn, *args)
        except PersonError as e:
            body: dict[str, Any] = {"error": e.reason}
            if e.candidates:
                body["persons"] = e.candidates
            return _json(body, e.status)
        except ClickHouseError as e:
            return _json({"error": "storage error: " + str(e).split("Stack trace")[0].strip()[:500]}, 503,
                         {"Retry-After": "5"})
        return _json(doc)

    async def get(self, request: Request) -> Response:
        checked = self._check(request)
        if isinstance(checked, Response):
            return checked
        try:
            recent = min(max(int(request.query_params.get("recent", "20")), 0), 200)
        except ValueError:
            return _json({"error": "recent: an integer 0-200"}, 400)
        store = self.c.store

        def lookup(site: str, ref: str) -> dict[str, Any]:
            with store.reading() as client:
                doc = profile(client, resolve(client, site, ref), recent)
                doc["lead_score"] = lead_score(client, site, doc["person_id"])  # collector/scores
                return doc

        return await self._run(lookup, *checked)

    async def delete(self, request: Request) -> Response:
        checked = self._check(request)
        if isinstance(checked, Response):
            return checked
        # only a value read as yes or no: a mistyped one must not erase for real (QA)
        flag = request.query_params.get("dry_run", "false").lower()
        if flag not in _YES + _NO:
            return _json({"error": f"dry_run: {flag[:20]!r} is not one of 1, true, yes, 0, false, no",
                          "field": "dry_run"}, 400)
        dry_run = flag in _YES
        c = self.c

        def run(site: str, ref: str) -> dict[str, Any]:
            if c.writer is not None and not c.writer.wait_idle(30):  # the person's buffered events too
                raise PersonError(503, "the write-ahead buffer did not drain; retry later")
            result = erase(c.store.admin(), site, ref, dry_run)
            if not dry_run:
                c.identity.forget()
                c.identity.refresh_now()
            return result

        return await self._run(run, *checked)
