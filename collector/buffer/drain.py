"""The draining side of the write-ahead buffer: hands the writer batches of records in a
stable order and keeps a checkpoint so that a crash between an insert and its
acknowledgement replays exactly the same rows under the same deduplication token.

checkpoint.json:
    {"positions": {series: [segment_number, byte_offset]},
     "inflight": {"token": str, "ranges": [[segment_name, start, end], ...]} | null}
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from collector.buffer.wal import (
    DEFAULT_TABLE,
    HEADER,
    crc32,
    list_segments,
    parse_segment_name,
    segment_name,
    series_closed,
)

log = logging.getLogger("footpath.buffer")


@dataclass
class Batch:
    token: str
    ranges: list[tuple[str, int, int]]
    payloads: dict[str, bytes]  # record key (table, or table!layout: layouts.py) -> its rows' lines
    rows: int
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)
    rows_by_key: dict[str, int] = field(default_factory=dict)  # the rows of each payload

    @property
    def payload(self) -> bytes:
        return b"\n".join(p for p in self.payloads.values() if p)


_CHUNK = 8 << 20  # bytes read from a segment at a time


@dataclass
class _Rec:
    """One buffer record as the drain sees it: where it is, its table and its rows."""

    start: int  # byte offset of the record's header
    end: int  # byte offset just past it
    table: str  # the record key: a table, or table!layout (collector/buffer/layouts.py)
    body: memoryview  # the rows' lines, no header; a view into the read chunk
    rows: int


def _scan(path: Path, start: int = 0, budget: int = -1, stop: int = -1, max_bytes: int = -1) -> Iterator[_Rec]:
    """Records of one segment from byte offset `start`, as wal.read_records frames them
    (length, CRC32, payload; the first incomplete or corrupt record ends the segment), read
    in chunks rather than to the end of the file, each record's rows counted once, and the
    payload never copied (memoryviews into the chunk).  Stops before a record ending past
    `stop` (>= 0), or once `budget` (>= 0) rows or `max_bytes` (>= 0) bytes of records were
    yielded (always after at least one record)."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below; a generator holds it
    except FileNotFoundError:
        return
    with f:
        f.seek(start)
        buf = f.read(_CHUNK)
        base, pos, taken, hsize = start, 0, 0, HEADER.size
        while True:
            if len(buf) - pos < hsize:
                length = -1
            else:
                length, crc = HEADER.unpack_from(buf, pos)
            if length < 0 or len(buf) - pos - hsize < length:
                more = f.read(max(_CHUNK, hsize + max(length, 0) - (len(buf) - pos)))
                if not more:
                    return  # end of the segment (or a torn tail: never acknowledged)
                buf, base, pos = buf[pos:] + more, base + pos, 0
                continue
            b0, b1 = pos + hsize, pos + hsize + length
            if stop >= 0 and base + b1 > stop:
                return
            if crc32(memoryview(buf)[b0:b1]) != crc:
                return
            table = DEFAULT_TABLE
            if length and buf[b0] == 0x23:  # '#<table>' header line (wal.table_record)
                nl = buf.find(b"\n", b0, b1)
                table, b0 = bytes(buf[b0 + 1:nl if nl >= 0 else b1]).decode(), (nl + 1 if nl >= 0 else b1)
            rows = buf.count(b"\n", b0, b1) + 1 if b1 > b0 else 0
            yield _Rec(base + pos, base + b1, table, memoryview(buf)[b0:b1], rows)
            taken += rows
            pos = b1
            if 0 <= budget <= taken or 0 <= max_bytes <= base + b1 - start:
                return


def _group(records: list[_Rec]) -> tuple[dict[str, bytes], dict[str, int]]:
    by_table: dict[str, list[memoryview]] = {}
    rows: dict[str, int] = {}
    for rec in records:
        if rec.rows:
            by_table.setdefault(rec.table, []).append(rec.body)
            rows[rec.table] = rows.get(rec.table, 0) + rec.rows
    return {t: b"\n".join(parts) for t, parts in by_table.items()}, rows


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _token(buffer_id: str, ranges: list[tuple[str, int, int]]) -> str:
    # Segment names and offsets repeat across buffer directories (a wiped buffer, another
    # collector writing to the same cluster): the directory's own random id makes the
    # token unique, or ClickHouse would drop a new batch as a replay of an old one.
    return hashlib.sha256((buffer_id + repr(ranges)).encode()).hexdigest()[:32]


class BufferReader:
    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ckpt_path = self.dir / "checkpoint.json"
        id_path = self.dir / "buffer_id"
        if not id_path.exists():
            _atomic_write(id_path, uuid.uuid4().hex.encode())
        self.buffer_id = id_path.read_text().strip()
        self.positions: dict[str, tuple[int, int]] = {}
        self.inflight: dict | None = None
        if self.ckpt_path.exists():
            doc = orjson.loads(self.ckpt_path.read_bytes())
            self.positions = {k: (int(v[0]), int(v[1])) for k, v in doc.get("positions", {}).items()}
            self.inflight = doc.get("inflight")

    def _save(self) -> None:
        doc = {"positions": {k: list(v) for k, v in self.positions.items()}, "inflight": self.inflight}
        _atomic_write(self.ckpt_path, orjson.dumps(doc))

    def pending_inflight(self) -> Batch | None:
        """A batch that was being inserted when the process stopped: redo it verbatim."""
        if not self.inflight:
            return None
        ranges = [tuple(r) for r in self.inflight["ranges"]]
        parts: list[_Rec] = []
        for name, start, end in ranges:
            parts += _scan(self.dir / name, start, stop=end)
        payloads, rows = _group(parts)
        positions = {k: tuple(v) for k, v in self.inflight.get("positions", {}).items()}
        return Batch(self.inflight["token"], ranges, payloads, sum(rows.values()), positions, rows)

    def next_batch(self, max_rows: int, max_bytes: int = -1, after: Batch | None = None) -> Batch | None:
        """Collect records after the checkpoint, across all series, up to ~max_rows rows
        and (when max_bytes >= 0) ~max_bytes bytes of records, at least one record.
        after: the records after that batch instead, read while it is being inserted (the
        reader's own state is left alone: only commit() moves the checkpoint)."""
        segs = list_segments(self.dir)
        by_series: dict[str, list[int]] = {}
        for series, num, _ in segs:
            by_series.setdefault(series, []).append(num)
        positions = dict(after.positions if after is not None else self.positions)
        ranges: list[tuple[str, int, int]] = []
        parts: list[_Rec] = []
        rows = size = 0
        for series, numbers in sorted(by_series.items()):
            seg_no, offset = positions.get(series, (numbers[0], 0))
            for num in numbers:
                if num < seg_no:
                    continue
                if num > seg_no:
                    seg_no, offset = num, 0
                name = segment_name(series, num)
                recs = list(_scan(self.dir / name, offset, budget=max_rows - rows,
                                  max_bytes=max_bytes - size if max_bytes >= 0 else -1))
                if recs:
                    parts += recs
                    rows += sum(r.rows for r in recs)
                    size += recs[-1].end - recs[0].start
                    offset = recs[-1].end
                    ranges.append((name, recs[0].start, recs[-1].end))
                positions[series] = (seg_no, offset)
                if rows >= max_rows or 0 <= max_bytes <= size:
                    break
            if rows >= max_rows or 0 <= max_bytes <= size:
                break
        if not parts:
            if after is None:
                self._advance_only(positions)
            return None
        payloads, rows = _group(parts)
        return Batch(_token(self.buffer_id, ranges), ranges, payloads, sum(rows.values()), positions, rows)

    def _advance_only(self, positions: dict[str, tuple[int, int]]) -> None:
        if positions != self.positions:
            self.positions = positions

    def begin(self, batch: Batch) -> None:
        """Record the intent before inserting: a crash now replays this exact batch."""
        self.inflight = {"token": batch.token, "ranges": [list(r) for r in batch.ranges],
                         "positions": {k: list(v) for k, v in batch.positions.items()}}
        self._save()

    def commit(self, batch: Batch) -> None:
        self.positions = dict(batch.positions)
        self.inflight = None
        self._save()
        self.collect_garbage()

    def collect_garbage(self, closed_series: str = "") -> int:
        """Delete segments wholly before the checkpoint of their series (a later segment
        exists, so no process appends to them any more).  `closed_series` names a series
        whose appender has closed: its last segment may go too once fully consumed."""
        removed = 0
        segs = list_segments(self.dir)
        latest: dict[str, int] = {}
        for series, num, _ in segs:
            latest[series] = max(latest.get(series, 0), num)
        for series, num, path in segs:
            pos = self.positions.get(series)
            if pos is None:
                continue
            seg_no, offset = pos
            sealed = num < latest[series] or series == closed_series or (
                num == latest[series] and series_closed(self.dir, series))
            done = num < seg_no or (num == seg_no and sealed and offset >= path.stat().st_size)
            if done:
                path.unlink(missing_ok=True)
                removed += 1
                if num == latest[series] and series != closed_series:
                    (self.dir / f"{series}.lock").unlink(missing_ok=True)  # a dead worker's
        return removed

    def backlog_bytes(self) -> int:
        total = 0
        for series, num, path in list_segments(self.dir):
            seg_no, offset = self.positions.get(series, (0, 0))
            if num < seg_no:
                continue
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            total += size - (offset if num == seg_no else 0)
        return max(total, 0)


__all__ = ["Batch", "BufferReader", "parse_segment_name"]
