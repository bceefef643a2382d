"""Per-event cost of the ingestion pipeline (validate + enrich), per step.

    .venv/bin/python -m loadtests.enrich_bench [--events 20000]

Two runs: "warm" (user agents repeat, as in real traffic: 200 distinct UAs) and "cold"
(every UA unique: the LRU never hits, the fast resolver parses each one)."""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime
from pathlib import Path

from collector import pipeline
from collector.enrich.geo import GeoIP
from collector.enrich.useragent import UAClassifier
from collector.sites import Site
from collector.validate.dedup import RecentIds
from collector.validate.limits import Limits

ROOT = Path(__file__).resolve().parents[1]
GEO = ROOT.parent / "shared" / "geoip"
UAS = [ln.split("\t")[2] for ln in (ROOT / "tests/fixtures/browser_user_agents.tsv").read_text().splitlines()
       if ln and not ln.startswith("#")]


def messages(n: int, unique_ua: bool, rnd: random.Random) -> list[dict]:
    out = []
    for i in range(n):
        ua = rnd.choice(UAS) + (f" build/{i}" if unique_ua else f" v/{i % 7}")
        out.append({"type": "page" if i % 3 else "track", "event": "Product Viewed", "anonymousId": f"a{i % 5000}",
                    "messageId": f"m-{unique_ua}-{i}", "timestamp": datetime.now(UTC).isoformat(),
                    "properties": {"sku": f"S{i % 300}", "price": 35.5, "category": "yoga"},
                    "context": {"ip": f"81.2.69.{i % 250}", "userAgent": ua, "locale": "en-GB",
                                "page": {"url": f"https://shop.example/p/{i % 300}?utm_source=news&utm_medium=email",
                                         "referrer": "https://www.google.com/", "title": "Yoga"},
                                "library": {"name": "analytics-python", "version": "2.4.0"}}})
    return out


def run(n: int, unique_ua: bool) -> dict[str, float]:
    sv = pipeline.Services(Limits(32768, 8, 300, 8192),
                           GeoIP(str(GEO / "GeoLite2-City-Test.mmdb"), str(GEO / "GeoLite2-ASN-Test.mmdb")),
                           UAClassifier(50_000), RecentIds(2_000_000), 400, 86400)
    sv.ua("Mozilla/5.0")
    rq = pipeline.RequestContext(Site(id="s", public_key="pk_bench"), "server", datetime.now(UTC), "127.0.0.1",
                                 "", False, None, False)
    msgs = messages(n, unique_ua, random.Random(1))
    totals: dict[str, float] = {}
    t = time.perf_counter()
    for i in range(0, n, 20):
        out = pipeline.run(rq, sv, msgs[i:i + 20])
        for k, v in out.step_seconds.items():
            totals[k] = totals.get(k, 0.0) + v
        pipeline.encode_rows(out.rows)
    wall = time.perf_counter() - t
    res = {k: v / n * 1e6 for k, v in totals.items()}
    res["TOTAL wall (incl. encode)"] = wall / n * 1e6
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20000)
    n = ap.parse_args().events
    warm, cold = run(n, False), run(n, True)
    print(f"{'step':28} {'warm us/event':>14} {'cold-UA us/event':>17}")
    for k in warm:
        print(f"{k:28} {warm[k]:14.1f} {cold[k]:17.1f}")


if __name__ == "__main__":
    main()
