"""`footpath serve --workers N`: N edge processes accept, validate, enrich and buffer
(each its own buffer series); one writer process owns ClickHouse, drains every series and
answers everything that needs the engine.  Edge processes forward those requests to it.

    client --> uvicorn workers (edge app, this module) --buffer/--> writer process --> ClickHouse
                              \\--- /v1/sql, reports, persons, ... proxied -->/
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from collector.types import INGEST_PATHS

log = logging.getLogger("footpath.edge")

# What an edge answers itself; every other path goes to the writer process.
EDGE_EXACT = {"/v1/batch", "/t.js", "/healthz", "/readyz", "/metrics", "/openapi.json", "/",
              "/v1/experiments/assign", *INGEST_PATHS}
EDGE_PREFIXES = ("/t/", "/v1/sites/", "/v1/projects/", "/demo", "/__fixtures__")
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}
# uvicorn adds its own Date and Server to the edge's answer: the writer's would be second copies
NOT_RELAYED = HOP_HEADERS | {"date", "server"}


def handled_at_edge(path: str) -> bool:
    return path in EDGE_EXACT or path.startswith(EDGE_PREFIXES)


class WriterProxy:
    """ASGI middleware: engine-bound requests are forwarded to the writer process."""

    def __init__(self, app: ASGIApp, writer_url: str):
        self.app = app
        self.writer_url = writer_url.rstrip("/")
        self.client = httpx.AsyncClient(base_url=self.writer_url, timeout=300)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or handled_at_edge(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        try:
            upstream = await self.client.request(request.method, scope["path"], params=request.query_params,
                                                 content=body, headers=headers)
        except httpx.HTTPError as e:
            resp = Response(f'{{"error": "writer process unavailable: {type(e).__name__}"}}', status_code=503,
                            media_type="application/json", headers={"Retry-After": "5"})
        else:
            out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in NOT_RELAYED}
            out_headers.pop("content-encoding", None)  # httpx already decoded the body
            if request.method == "HEAD" and "content-length" in upstream.headers:
                # no body to measure: the length a GET would have (found in QA: 0)
                out_headers["content-length"] = upstream.headers["content-length"]
            resp = Response(upstream.content, status_code=upstream.status_code, headers=out_headers)
        await resp(scope, receive, send)


async def writer_problems(writer_url: str) -> list[str]:
    try:
        async with httpx.AsyncClient(timeout=3) as c:
            r = await c.get(writer_url.rstrip("/") + "/readyz")
        return [] if r.status_code == 200 else list(r.json().get("problems", ["writer not ready"]))
    except (httpx.HTTPError, ValueError) as e:
        return [f"writer process unreachable: {type(e).__name__}"]


def app_factory() -> Starlette:
    """Entry point of each uvicorn worker (settings come from the environment the
    supervising `serve --workers` process prepared)."""
    from collector.app import build_app
    from collector.cli import prepared_settings
    from collector.ops import logs

    settings = prepared_settings(os.environ.get("FOOTPATH_CONFIG") or None, None,
                                 int(os.environ.get("FOOTPATH_PUBLIC_PORT", "8000")), quiet=True)
    logs.setup(settings.log_format)
    return build_app(settings, writer_url=os.environ["FOOTPATH_WRITER_URL"])


class WriterProcess:
    """The writer process of `serve --workers`, kept running: a thread of the supervising
    process waits on it, and when it exits while the server is up (killed, crashed) logs
    why and starts it again on the same port, after 1, 2, 4 ... up to 30 s (reset after a
    minute of running).  Without this a dead writer went unnoticed (found in QA): edges
    kept acknowledging into their buffers, nothing was written, /readyz said 503."""

    def __init__(self, argv: list[str], env: dict[str, str]):
        self.argv, self.env = argv, env
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(argv, env=env)
        self.restarts = 0
        self._watch = threading.Thread(target=self._run, name="footpath-writer-watch", daemon=True)
        self._watch.start()

    def _run(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            started = time.monotonic()
            code = self.proc.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started > 60:
                delay = 1.0
            log.error("the writer process (pid %d) exited with code %s; starting it again in %.0f s "
                      "(meanwhile the edges buffer what they accept)", self.proc.pid, code, delay)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, 30.0)
            with self._lock:
                if self._stopping.is_set():
                    return
                self.proc = subprocess.Popen(self.argv, env=self.env)
                self.restarts += 1
            log.info("writer process started again (pid %d)", self.proc.pid)

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (the writer drains every series, then exits), SIGKILL after timeout."""
        with self._lock:
            self._stopping.set()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# Families only the writer process updates (storage, inserts, the buffer's backlog over every
# series, identity, quality alerts): an edge's own copies read 0 (storage_up 0 while storage
# was fine; found in QA), so an edge's /metrics shows the writer's instead.
WRITER_FAMILIES = ("footpath_storage_up", "footpath_rows_inserted", "footpath_insert_",
                   "footpath_buffer_backlog_bytes", "footpath_shared_devices", "footpath_quality_",
                   "footpath_quarantine_replayed")


def _family(line: str) -> str:
    if line.startswith("#"):
        parts = line.split(None, 3)
        return parts[2] if len(parts) > 2 else ""
    return line.split("{", 1)[0].split(" ", 1)[0]


def _writer_lines(text: str, writer: bool) -> list[str]:
    return [ln for ln in text.splitlines() if ln and _family(ln).startswith(WRITER_FAMILIES) == writer]


async def edge_metrics(own: bytes, writer_url: str) -> bytes:
    """An edge's /metrics: its own ingestion counters, the writer's storage-side families.
    With the writer unreachable, footpath_storage_up reads 0 and the other storage-side
    families are left out: unknown (this edge's buffer files on disk are not the backlog,
    whose inserted part only the writer knows; found in QA)."""
    try:
        async with httpx.AsyncClient(timeout=3) as c:
            r = await c.get(writer_url.rstrip("/") + "/metrics")
        r.raise_for_status()
        theirs = _writer_lines(r.text, True)
    except httpx.HTTPError:
        theirs = ["# HELP footpath_storage_up 1 when the last storage operation succeeded",
                  "# TYPE footpath_storage_up gauge", "footpath_storage_up 0.0"]
    return ("\n".join(_writer_lines(own.decode(), False) + theirs) + "\n").encode()
