"""Collector vs the bare framework, same generator, same pinned core, one run.

    sudo apt-get install -y wrk        # the load generator (Debian package)
    .venv/bin/python -m loadtests.http_bench [--seconds 10] [--repeat 3] [--fsync off] [--mode edge]

Both targets (a bare Starlette endpoint, and the collector: auth, validation, enrichment,
write-ahead buffer with the chosen fsync policy) run under uvicorn pinned to one core with
`taskset`, wrk pinned to the other; their runs alternate (bare, collector) per scenario
and repetition (--repeat N), so the ratio of each pair is measured a minute apart at most.
Scenarios: single messages, and batches of 20.  Then a latency run at 70 % of the
collector's maximum rate (wrk2's fixed rate is not in Debian's wrk: 32 connections each
pause before every request through wrk's `delay` hook, the pause found by short runs
(regula falsi, `paced`) until the rate served is within 3 % of the aim; the output gives
both and the calibration steps).
Prints requests/s, events/s, p50/p99 and the collector/bare ratio."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def message(i: int) -> dict:
    return {"type": "track", "event": "Product Viewed", "anonymousId": f"a{i % 1000}",
            "properties": {"sku": f"S{i % 300}", "price": 35.5},
            "context": {"ip": f"81.2.69.{i % 250}", "userAgent": UA,
                        "page": {"url": "https://shop.example/p/1?utm_source=news", "referrer": "https://www.google.com/"}}}


WRK_LUA = """
local bodies = {}
local n = 0
init = function(args)
  local f = io.open(args[1], "r")
  for line in f:lines() do bodies[#bodies + 1] = line end
  f:close()
end
request = function()
  n = n + 1
  local b = bodies[(n % #bodies) + 1]
  return wrk.format("POST", "/v1/batch", {["Content-Type"] = "application/json",
    ["Authorization"] = "Basic " .. os.getenv("FP_AUTH")}, b)
end
"""


def bodies_file(tmp: Path, per_batch: int) -> Path:
    # Unique messageIds in every body would need wrk-side generation; without them the
    # collector generates UUIDv7 ids (the full path, no dedup short-cut).
    p = tmp / f"bodies{per_batch}.txt"
    with p.open("w") as f:
        for j in range(200):
            f.write(json.dumps({"batch": [message(j * per_batch + k) for k in range(per_batch)]}) + "\n")
    return p


def start(cmd: list[str], core: int, env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(["taskset", "-c", str(core), *cmd], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=ROOT, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            httpx.post(f"http://127.0.0.1:{port}/v1/batch", content=b"{}", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def wrk(port: int, core: int, seconds: int, bodies: Path, auth: str, conns: int = 64, delay_ms: float = 0) -> dict:
    """Closed loop at full speed; with `delay_ms`, each connection waits that long before
    each request (wrk's delay hook)."""
    lua = bodies.parent / "post.lua"
    script = WRK_LUA
    if delay_ms:
        # wrk's timers count whole milliseconds (2.9 would wait 2): dither between the two
        # whole numbers around the pause so that it averages right
        whole, frac = int(delay_ms), delay_ms - int(delay_ms)
        script += (f"\ndelay = function() if math.random() < {frac:.4f} then return {whole + 1} "
                   f"else return {whole} end end\n")
    lua.write_text(script)
    out = subprocess.run(["taskset", "-c", str(core), "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency",
                          "-s", str(lua), f"http://127.0.0.1:{port}", "--", str(bodies)],
                         env={**os.environ, "FP_AUTH": auth}, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {k: v for k, v in re.findall(r"\s+(50|99)%\s+([\d.]+\w+)", out)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": lat.get("50"), "p99": lat.get("99"), "errors": int(non2xx.group(1)) if non2xx else 0}


def paced(port: int, core: int, seconds: int, bodies: Path, auth: str, rate: float, max_rate: float,
          conns: int = 32) -> dict:
    """An open-ish loop at `rate` requests/s: each of conns connections pauses before every
    request.  A connection's cycle is the pause plus the request's own time, which grows
    with the load (queueing), so conns/rate alone offers ~25 % less than the aim and a
    correction from one run overshoots.  The pause is found by regula falsi on the cycle
    time (conns / rate served) between no pause (max_rate, just measured) and conns/rate,
    in 3-second runs until one serves within 3 % of the aim (at most six); the timed run
    uses that pause and reports the rate it served beside the one it aimed at."""
    want = conns * 1000.0 / rate  # the cycle, in ms, that serves `rate`
    lo, lo_cycle = 0.0, conns * 1000.0 / max_rate
    hi, steps = want, []
    hi_cycle = conns * 1000.0 / wrk(port, core, 3, bodies, auth, conns, hi)["rps"]
    steps.append(f"{hi:.2f} ms -> {conns * 1000.0 / hi_cycle:.0f}/s")
    delay = hi
    for _ in range(6):
        delay = lo + (want - lo_cycle) * (hi - lo) / max(1e-9, hi_cycle - lo_cycle)
        cycle = conns * 1000.0 / wrk(port, core, 3, bodies, auth, conns, delay)["rps"]
        steps.append(f"{delay:.2f} ms -> {conns * 1000.0 / cycle:.0f}/s")
        if abs(want / cycle - 1) < 0.03:
            break
        if cycle < want:
            lo, lo_cycle = delay, cycle
        else:
            hi, hi_cycle = delay, cycle
    out = wrk(port, core, seconds, bodies, auth, conns, delay)
    return {**out, "target": rate, "delay_ms": delay, "calibration": steps}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--server-core", type=int, default=1)
    ap.add_argument("--client-core", type=int, default=0)
    ap.add_argument("--fsync", default="always")
    ap.add_argument("--repeat", type=int, default=1, help="alternating bare/collector repetitions")
    ap.add_argument("--mode", choices=("edge", "full"), default="edge",
                    help="edge: the ingestion path alone (auth, validation, enrichment, buffer), as an edge "
                         "worker of `serve --workers N` runs it; full: single process with its writer thread")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install -y wrk")
    tmp = Path(tempfile.mkdtemp(prefix="fp-bench-"))
    py = sys.executable
    # Both servers run for the whole benchmark on the same pinned core (an idle one costs
    # nothing) and their wrk runs alternate, bare then collector, per batch size and
    # repetition: a slow minute on this shared machine hits both sides of a ratio alike.
    bare_port = free_port()
    bare = start([py, "-m", "uvicorn", "loadtests.bare_app:app", "--port", str(bare_port), "--log-level", "warning",
                  "--no-access-log", "--loop", "uvloop", "--http", "httptools"], args.server_core, dict(os.environ),
                 bare_port)
    port = free_port()
    key = "sk_bench_secret"
    cfg = tmp / "footpath.toml"
    cfg.write_text(f'[[site]]\nid = "bench"\npublic_key = "pk_bench"\nwrite_key = "{key}"\n')
    import base64

    auth = base64.b64encode(f"{key}:".encode()).decode()
    geo = ROOT.parent / "shared" / "geoip"
    env = {**os.environ, "FOOTPATH_DATA_DIR": str(tmp / "data"), "FOOTPATH_FSYNC": args.fsync,
           "FOOTPATH_LOG_FORMAT": "text", "FOOTPATH_GEOIP_CITY_DB": str(geo / "GeoLite2-City-Test.mmdb"),
           "FOOTPATH_GEOIP_ASN_DB": str(geo / "GeoLite2-ASN-Test.mmdb"),
           # edge mode has no writer draining the buffer: repetitions must not reach the cap
           "FOOTPATH_BUFFER_MAX_BYTES": str(1 << 36)}
    if args.mode == "edge":
        env.update(FOOTPATH_CONFIG=str(cfg), FOOTPATH_WRITER_URL="http://127.0.0.1:9", FOOTPATH_PUBLIC_PORT=str(port))
        # the options `serve --workers N` gives its edges (collector.cli.UVICORN_OPTIONS, whose
        # HTTP protocol, receive/guard.py, uvicorn's command line cannot name)
        cmd = [py, "-c", "import uvicorn; from collector.cli import UVICORN_OPTIONS as o; uvicorn.run("
               f"'collector.edge:app_factory', factory=True, port={port}, loop='uvloop', **o)"]
    else:
        cmd = [py, "-m", "collector.cli", "--config", str(cfg), "serve", "--port", str(port)]
    runs: list[tuple[int, str, int, dict]] = []  # (repetition, target, batch, wrk result)
    try:
        coll = start(cmd, args.server_core, env, port)
    except BaseException:
        stop(bare)
        raise
    try:
        time.sleep(2)
        for rep in range(args.repeat):
            for n in (1, 20):
                runs.append((rep, "bare", n, wrk(bare_port, args.client_core, args.seconds, bodies_file(tmp, n),
                                                 "eDo=")))
                runs.append((rep, "collector", n, wrk(port, args.client_core, args.seconds, bodies_file(tmp, n),
                                                      auth)))
        # latency at 70 % of the highest single-message rate just measured
        top = max(r["rps"] for _, t, n, r in runs if t == "collector" and n == 1)
        target = 0.7 * top
        at70 = paced(port, args.client_core, args.seconds, bodies_file(tmp, 1), auth, target, top)
        runs.append((args.repeat - 1, "collector@70%", 1, at70))
    finally:
        stop(coll)
        stop(bare)
    print(f"server core {args.server_core}, wrk on core {args.client_core}, {args.seconds} s each, "
          f"fsync={args.fsync}, mode={args.mode}, {args.repeat} alternating repetition(s)")
    print(f"{'rep':>3} {'target':13} {'batch':>5} {'req/s':>9} {'events/s':>9} {'p50':>8} {'p99':>8} {'non-2xx':>7}")
    for rep, t, n, r in runs:
        print(f"{rep:3d} {t:13} {n:5d} {r['rps']:9.0f} {r['rps'] * n:9.0f} {r['p50']:>8} {r['p99']:>8} "
              f"{r['errors']:7d}")
    for n in (1, 20):
        by_rep = {(rep, t): r["rps"] for rep, t, m, r in runs if m == n}
        ratios = [by_rep[(rep, "collector")] / by_rep[(rep, "bare")] for rep in range(args.repeat)]
        events = sorted(by_rep[(rep, "collector")] * n for rep in range(args.repeat))
        print(f"batch {n}: ratio collector/bare per repetition {', '.join(f'{x:.2f}' for x in ratios)} "
              f"(median {statistics.median(ratios):.2f}); collector events/s median {statistics.median(events):.0f}")
    if any(r["errors"] for *_, r in runs):
        print("NOTE: some answers were not 2xx (column non-2xx): those runs do not count")
    print(f"paced at {target:.0f} req/s (70 % of max; pause {at70['delay_ms']:.2f} ms per connection): "
          f"{at70['rps']:.0f} req/s served ({at70['rps'] / target:.0%} of the aim), "
          f"p50 {at70['p50']}, p99 {at70['p99']} (calibration: {'; '.join(at70['calibration'])})")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
