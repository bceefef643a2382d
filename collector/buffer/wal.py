"""Durable write-ahead buffer.  Every accepted request appends its records (its rows as JSON
lines, per destination table: table_record) to the current segment file before the
collector answers 2xx.

Layout under <data_dir>/buffer/:
    <series>-<000000000001>.wal   append-only segments; a series is one writing process
Record framing: 4-byte little-endian payload length, 4-byte CRC32 of the payload, payload.
A torn tail (crash mid-write) fails its CRC and is ignored: it was never acknowledged,
because acknowledgement waits for the record's fsync (policy "always").

fsync policy (setting `fsync`):
    always    group commit: concurrent requests share one fsync, each awaits it before 2xx
    interval  fsync every fsync_ms; a crash of the machine (not the process) may lose that window
    off       leave it to the OS page cache
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import struct
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

try:
    # zlib-ng's CRC-32 is zlib's checksum (same polynomial and values: buffers written with
    # either read with the other) computed with SIMD: ~6x zlib's speed here (1.9 -> 11.9
    # GB/s), for the edge framing every request's record and the writer checking every
    # record it drains (BENCHMARKS.md, Writer).
    from zlib_ng.zlib_ng import crc32
except ImportError:  # a dependency, but the buffer stays readable without it
    from zlib import crc32

HEADER = struct.Struct("<II")


class BufferFull(RuntimeError):
    """The buffer reached its disk cap; ingestion answers 503 with Retry-After."""


def segment_name(series: str, number: int) -> str:
    return f"{series}-{number:012d}.wal"


def parse_segment_name(name: str) -> tuple[str, int] | None:
    if not name.endswith(".wal") or "-" not in name:
        return None
    series, _, num = name[:-4].rpartition("-")
    return (series, int(num)) if num.isdigit() else None


DEFAULT_TABLE = "footpath.events"


def table_record(table: str, rows: bytes) -> bytes:
    """A record's payload: JSONEachRow rows, preceded by '#<table>' unless footpath.events.
    `table` may carry a compact layout (`footpath.events!1`: JSON arrays in that layout's
    column order, collector/buffer/layouts.py)."""
    return rows if table == DEFAULT_TABLE else b"#" + table.encode() + b"\n" + rows


def split_record(payload: bytes) -> tuple[str, bytes]:
    if payload[:1] != b"#":
        return DEFAULT_TABLE, payload
    head, _, rows = payload.partition(b"\n")
    return head[1:].decode(), rows


def checkpoint_segment(directory: Path, series: str) -> int:
    """The segment number the drain checkpoint last recorded for `series` (0: none)."""
    path = Path(directory) / "checkpoint.json"
    try:
        import orjson

        pos = orjson.loads(path.read_bytes()).get("positions", {}).get(series)
    except (FileNotFoundError, ValueError):
        return 0
    return int(pos[0]) if pos else 0


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload), crc32(payload)) + payload


@dataclass
class Record:
    segment: str
    start: int  # byte offset of the record's header
    end: int  # byte offset just past it
    payload: bytes


def read_records(path: Path, start: int = 0) -> Iterator[Record]:
    """Records from byte offset `start` until the end or the first incomplete/corrupt one."""
    try:
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read()
    except FileNotFoundError:
        return
    pos = 0
    while pos + HEADER.size <= len(data):
        length, crc = HEADER.unpack_from(data, pos)
        body_start = pos + HEADER.size
        if body_start + length > len(data):
            break
        payload = data[body_start:body_start + length]
        if crc32(payload) != crc:
            break
        yield Record(path.name, start + pos, start + body_start + length, payload)
        pos = body_start + length


def list_segments(directory: Path) -> list[tuple[str, int, Path]]:
    out = []
    for p in directory.glob("*.wal"):
        parsed = parse_segment_name(p.name)
        if parsed:
            out.append((parsed[0], parsed[1], p))
    out.sort(key=lambda t: (t[0], t[1]))
    return out


class WriteAheadBuffer:
    """The appending side.  One instance per process; `series` keeps processes apart."""

    def __init__(self, directory: Path, series: str = "w0", fsync: str = "always", fsync_ms: int = 50,
                 segment_bytes: int = 8 << 20, max_bytes: int = 1 << 30):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.series = series
        self.policy = fsync
        self.fsync_interval = fsync_ms / 1000
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        # A lock held for the process's lifetime tells the drain side this series is live.
        self._lock_fd = os.open(self.dir / f"{series}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise RuntimeError(f"buffer series {series!r} in {self.dir} is in use by another process") from None
        existing = [n for s, n, _ in list_segments(self.dir) if s == series]
        # Never append to a segment from a previous run (its tail may be torn), and never
        # reuse a number the drain checkpoint has seen: drained segments are deleted, and a
        # reused name would be read from the old segment's offset.
        self._number = max([0, *existing, checkpoint_segment(self.dir, series)]) + 1
        self._fd = -1
        self._size = 0
        self._open_segment()
        self._appended = 0  # records written by this process
        self._synced = 0  # records known to be on disk
        self._sync_task: asyncio.Future[None] | None = None
        # fsyncs on a thread of their own: in the event loop's default executor they queued
        # behind /v1/sql and report queries (up to sql_max_seconds each), so one slow admin
        # query held up every acknowledgement (found in QA: a one-message batch took 18 s)
        self._syncer = ThreadPoolExecutor(1, thread_name_prefix=f"footpath-fsync-{series}")
        self._last_sync = time.monotonic()
        self.wakeup: threading.Event | None = None  # set by the in-process writer
        # Wake the writer only once this much is waiting (it wakes on its own every flush_ms):
        # waking it per request made it re-read the buffer per request.
        self.wake_bytes = 1 << 20
        self._unannounced = 0
        self._disk_cache = (0.0, 0)
        self.fsync_seconds_total = 0.0
        self.fsync_count = 0
        self._closed = threading.Event()
        if fsync == "interval":
            threading.Thread(target=self._sync_every_interval, name="footpath-fsync", daemon=True).start()

    def _sync_every_interval(self) -> None:
        while not self._closed.wait(self.fsync_interval):
            try:
                self.sync()
            except OSError:  # closed between the check and the fsync: close() synced it
                pass

    def _open_segment(self) -> None:
        path = self.dir / segment_name(self.series, self._number)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = os.fstat(self._fd).st_size
        self._fsync_dir()

    def _fsync_dir(self) -> None:
        if self.policy == "off":
            return
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def disk_bytes(self, max_age: float = 0.2) -> int:
        """Bytes in all segment files (every series), re-counted at most every max_age s:
        the cap is a safety limit, not an exact quota, and a glob per request is costly."""
        stamp, cached = self._disk_cache
        now = time.monotonic()
        if now - stamp < max_age:
            return cached
        total = self._count_disk_bytes()
        self._disk_cache = (now, total)
        return total

    def _count_disk_bytes(self) -> int:
        total = 0
        for _, _, p in list_segments(self.dir):
            try:
                total += p.stat().st_size
            except FileNotFoundError:
                pass
        return total

    def check_capacity(self) -> None:
        if self.disk_bytes() >= self.max_bytes:
            raise BufferFull(f"write-ahead buffer holds {self.max_bytes} bytes or more")

    def append_nowait(self, payload: bytes | list[bytes]) -> int:
        """Write one record, or several in one write (no fsync); returns the sequence
        number of the write.  Thread-safe."""
        # a list, not a generator, for join (which hands back a lone record without a copy)
        rec = frame(payload) if isinstance(payload, bytes) else b"".join([frame(p) for p in payload])
        with self._lock:
            if self._size and self._size + len(rec) > self.segment_bytes:
                self._seal_locked()
            os.write(self._fd, rec)
            self._size += len(rec)
            self._appended += 1
            seq = self._appended
            self._unannounced += len(rec)
            stamp, cached = self._disk_cache
            self._disk_cache = (stamp, cached + len(rec))
            wake = self._unannounced >= self.wake_bytes
            if wake:
                self._unannounced = 0
        if wake and self.wakeup is not None:
            self.wakeup.set()
        return seq

    def _seal_locked(self) -> None:
        if self.policy != "off":
            os.fsync(self._fd)
            self._synced = self._appended
        os.close(self._fd)
        self._number += 1
        self._open_segment()

    def sync(self) -> None:
        """fsync everything appended so far; afterwards `synced` covers it."""
        with self._lock:
            target = self._appended
            if target <= self._synced:
                return
            if self._fd < 0:
                return
            fd = os.dup(self._fd)  # a concurrent seal may close the original
        t = time.perf_counter()
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self.fsync_seconds_total += time.perf_counter() - t
        self.fsync_count += 1
        self._last_sync = time.monotonic()
        with self._lock:
            self._synced = max(self._synced, target)

    async def append(self, payload: bytes | list[bytes]) -> None:
        """Append and, under policy "always", return only once the record is on disk.
        Concurrent callers share one fsync (group commit) run off the event loop."""
        seq = self.append_nowait(payload)
        if self.policy == "always":
            await self.wait_synced(seq)
        # "interval": the background syncer thread covers it within fsync_ms.

    async def wait_synced(self, seq: int) -> None:
        """Return once the write numbered `seq` (append_nowait's result) is fsynced.
        One fsync runs at a time; everyone whose record it covers returns when it ends,
        the others start (or join) the next one."""
        while self._synced < seq:
            task = self._sync_task
            if task is None or task.done():
                task = asyncio.get_running_loop().run_in_executor(self._syncer, self.sync)
                self._sync_task = task
            await asyncio.shield(task)

    def close(self) -> None:
        self._closed.set()
        self._syncer.shutdown(wait=True)
        with self._lock:
            if self._fd >= 0:
                if self.policy != "off":
                    os.fsync(self._fd)
                os.close(self._fd)
                self._fd = -1
            if self._lock_fd >= 0:
                os.close(self._lock_fd)  # releases the flock: the series is closed
                self._lock_fd = -1


def series_closed(directory: Path, series: str) -> bool:
    """True when no live process appends to `series` (its lock is free or gone)."""
    path = Path(directory) / f"{series}.lock"
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops the probe lock too
    return True
