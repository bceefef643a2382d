"""The ingestion path without sockets: the edge app (collector.edge, as `serve --workers N`
runs it) called in-process with ASGI messages, timed by the process's CPU time, so a change
to the Python path can be measured apart from uvicorn and wrk and with less noise from a
busy machine than the HTTP harness.

    .venv/bin/python -m loadtests.asgi_bench [--batch 1] [--requests 20000] [--ids]

Same messages as loadtests/http_bench.py (--ids: each with a unique messageId, as Segment
libraries send them). Prints CPU and wall µs per request and per event."""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import tempfile
import time
from pathlib import Path

import orjson

from loadtests.http_bench import message

ROOT = Path(__file__).resolve().parents[1]


def _environment(tmp: Path) -> None:
    (tmp / "footpath.toml").write_text('[[site]]\nid = "bench"\npublic_key = "pk_bench"\n'
                                       'write_key = "sk_bench_secret"\n')
    geo = ROOT.parent / "shared" / "geoip"
    os.environ.update(FOOTPATH_DATA_DIR=str(tmp / "data"), FOOTPATH_FSYNC="off", FOOTPATH_LOG_FORMAT="text",
                      FOOTPATH_GEOIP_CITY_DB=str(geo / "GeoLite2-City-Test.mmdb"),
                      FOOTPATH_GEOIP_ASN_DB=str(geo / "GeoLite2-ASN-Test.mmdb"),
                      FOOTPATH_CONFIG=str(tmp / "footpath.toml"), FOOTPATH_WRITER_URL="http://127.0.0.1:9",
                      FOOTPATH_PUBLIC_PORT="18123")


async def _run(batch: int, requests: int, ids: bool) -> None:
    from collector.edge import app_factory

    app = app_factory()
    startup: asyncio.Queue = asyncio.Queue()
    await startup.put({"type": "lifespan.startup"})
    started = asyncio.Event()

    async def lifespan_send(m: dict) -> None:
        started.set()

    lifespan = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                                         startup.get, lifespan_send))
    await started.wait()
    auth = b"Basic " + base64.b64encode(b"sk_bench_secret:")
    statuses: dict[int, int] = {}
    counter = 0

    def body(i: int) -> bytes:
        nonlocal counter
        msgs = [message(i * batch + j) for j in range(batch)]
        if ids:
            for m in msgs:
                counter += 1
                m["messageId"] = f"bench-{counter}"
        return orjson.dumps({"batch": msgs})

    async def one(b: bytes) -> None:
        pending = [{"type": "http.request", "body": b, "more_body": False}]

        async def receive() -> dict:
            return pending.pop()

        async def send(m: dict) -> None:
            if m["type"] == "http.response.start":
                statuses[m["status"]] = statuses.get(m["status"], 0) + 1

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/v1/batch", "raw_path": b"/v1/batch", "query_string": b"",
                 "root_path": "", "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 18123), "state": {},
                 "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                             (b"authorization", auth), (b"content-length", str(len(b)).encode())]}
        await app(scope, receive, send)

    warm = [body(i) for i in range(min(requests, 1000))]
    for b in warm:  # caches warm, as on a server that has been up a while
        await one(b)
    bodies = [body(i) for i in range(requests)] if ids else warm
    n = len(bodies) if ids else requests
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        await one(bodies[i % len(bodies)])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"batch {batch}, {n} requests{' with message ids' if ids else ''}: "
          f"CPU {cpu / n * 1e6:.1f} µs/request ({cpu / n / batch * 1e6:.1f} µs/event), "
          f"wall {wall / n * 1e6:.1f} µs/request; statuses {statuses}")
    if set(statuses) != {200}:
        raise SystemExit("a request was not answered 200")
    lifespan.cancel()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--ids", action="store_true", help="a unique messageId on every message")
    args = ap.parse_args()
    _environment(Path(tempfile.mkdtemp(prefix="fp-asgi-")))
    import uvloop

    uvloop.run(_run(args.batch, args.requests, args.ids))


if __name__ == "__main__":
    main()
