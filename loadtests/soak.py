"""Memory soak: the full collector (edge path, buffer, writer thread, embedded ClickHouse
with every materialized view) under steady load; its RSS sampled every few seconds.

    .venv/bin/python -m loadtests.soak [--minutes 10] [--rate 400] [--batch 10]

wrk (apt-get install -y wrk) offers about --rate requests/s of --batch messages each,
with unique anonymous ids, sessions and user agents drawn from a large pool so caches
(user agents, geo, message ids, campaign URLs) fill to their bounds and then must hold.
Prints the RSS series, the first and last minute's mean, and the slope of a least-squares
line over everything after the first two minutes (warm-up: caches, chDB's allocator)."""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loadtests.http_bench import ROOT, UA, WRK_LUA, free_port, start, stop

LUA = WRK_LUA + "\ndelay = function() return DELAY end\n"  # the bench's request loop, paced


def bodies(path: Path, n_bodies: int, batch: int) -> None:
    # Every body distinct; ids repeat only across the pool, as returning visitors do.
    with path.open("w") as f:
        for j in range(n_bodies):
            msgs = []
            for k in range(batch):
                i = j * batch + k
                msgs.append({"type": "page" if i % 3 else "track", "event": "Product Viewed",
                             "anonymousId": f"a{i % 50000}", "properties": {"sku": f"S{i % 900}"},
                             "context": {"ip": f"81.2.{(i // 250) % 256}.{i % 250}",
                                         "userAgent": f"{UA} soak/{i % 3000}", "sessionId": f"s{i % 20000}",
                                         "page": {"url": f"https://shop.example/p/{i % 900}?utm_source=s{i % 40}",
                                                  "referrer": "https://www.google.com/"}}})
            f.write(json.dumps({"batch": msgs}) + "\n")


def rss_mib(pid: int) -> float:
    # the server runs under taskset -> python: sum the process group's resident sets
    total = 0
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            if os.getpgid(int(p.name)) != pid:
                continue
            for line in (p / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ProcessLookupError):
            continue
    return total / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=float, default=400, help="requests/s offered")
    ap.add_argument("--batch", type=int, default=10, help="messages per request")
    ap.add_argument("--every", type=float, default=5, help="seconds between RSS samples")
    ap.add_argument("--server-core", type=int, default=1)
    ap.add_argument("--client-core", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="FOOTPATH_X=VALUE",
                    help="collector setting for the run, e.g. FOOTPATH_DEDUP_CAPACITY=200000 so the message-id "
                         "cache (~70 B an id, 2M by default) reaches its bound inside the soak")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install -y wrk")
    tmp = Path(tempfile.mkdtemp(prefix="fp-soak-"))
    key = "sk_soak_secret"
    cfg = tmp / "footpath.toml"
    cfg.write_text(f'[[site]]\nid = "soak"\npublic_key = "pk_soak"\nwrite_key = "{key}"\n')
    geo = ROOT.parent / "shared" / "geoip"
    env = {**os.environ, "FOOTPATH_DATA_DIR": str(tmp / "data"), "FOOTPATH_LOG_FORMAT": "text",
           "FOOTPATH_GEOIP_CITY_DB": str(geo / "GeoLite2-City-Test.mmdb"),
           "FOOTPATH_GEOIP_ASN_DB": str(geo / "GeoLite2-ASN-Test.mmdb"),
           **dict(kv.split("=", 1) for kv in args.set)}
    port = free_port()
    server = start([sys.executable, "-m", "collector.cli", "--config", str(cfg), "serve", "--port", str(port)],
                   args.server_core, env, port)
    body_file = tmp / "bodies.txt"
    bodies(body_file, 2000, args.batch)
    conns = 16
    lua = tmp / "soak.lua"
    lua.write_text(LUA.replace("DELAY", f"{conns * 1000.0 / args.rate:.3f}"))
    seconds = int(args.minutes * 60)
    auth = base64.b64encode(f"{key}:".encode()).decode()
    load = subprocess.Popen(["taskset", "-c", str(args.client_core), "wrk", "-t1", f"-c{conns}", f"-d{seconds}s",
                             "-s", str(lua), f"http://127.0.0.1:{port}", "--", str(body_file)],
                            env={**os.environ, "FP_AUTH": auth}, stdout=subprocess.PIPE, text=True)
    samples: list[tuple[float, float]] = []
    t0 = time.monotonic()
    try:
        while load.poll() is None:
            samples.append((time.monotonic() - t0, rss_mib(server.pid)))
            print(f"{samples[-1][0]:7.0f} s  RSS {samples[-1][1]:8.1f} MiB", flush=True)
            time.sleep(args.every)
        out = load.stdout.read() if load.stdout else ""
    finally:
        stop(server)
        shutil.rmtree(tmp, ignore_errors=True)
    served = next((ln for ln in out.splitlines() if "Requests/sec" in ln), "")
    first = [r for t, r in samples if t < 60]
    last = [r for t, r in samples if t >= samples[-1][0] - 60]
    tail = [(t, r) for t, r in samples if t >= 120]
    slope = statistics.linear_regression([t for t, _ in tail], [r for _, r in tail]).slope * 60 if len(tail) > 2 else 0
    print(f"{served.strip()}  ({args.batch} messages each)")
    print(f"RSS first minute mean {statistics.mean(first):.1f} MiB, last minute mean {statistics.mean(last):.1f} MiB, "
          f"max {max(r for _, r in samples):.1f} MiB; slope after minute 2: {slope:+.2f} MiB/min")


if __name__ == "__main__":
    main()
