"""Cost of the write-ahead buffer's fsync policies: 64 concurrent requests appending a
20-row record each, as the collector does before answering.

    .venv/bin/python -m loadtests.fsync_bench [--seconds 3] [--dir DIR]"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from collector.buffer.wal import WriteAheadBuffer

RECORD = b"\n".join(b'{"message_id":"m","site_id":"shop","type":"track","event":"Product Viewed","properties":"{}"}'
                    for _ in range(20))


async def drive(wal: WriteAheadBuffer, seconds: float, concurrency: int = 64) -> tuple[int, list[float]]:
    stop = time.monotonic() + seconds
    lat: list[float] = []

    async def worker() -> None:
        while time.monotonic() < stop:
            t = time.perf_counter()
            await wal.append(RECORD)
            lat.append(time.perf_counter() - t)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(lat), lat


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    print(f"{'policy':10} {'appends/s':>10} {'rows/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'fsyncs':>7}")
    for policy in ("off", "interval", "always"):
        with tempfile.TemporaryDirectory(dir=args.dir) as d:
            wal = WriteAheadBuffer(Path(d), fsync=policy, fsync_ms=50)
            n, lat = asyncio.run(drive(wal, args.seconds))
            wal.close()
            lat.sort()
            print(f"{policy:10} {n / args.seconds:10.0f} {n * 20 / args.seconds:10.0f} "
                  f"{statistics.median(lat) * 1e3:8.2f} {lat[int(len(lat) * 0.99)] * 1e3:8.2f} {wal.fsync_count:7d}")


if __name__ == "__main__":
    main()
