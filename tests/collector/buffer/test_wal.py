"""The write-ahead buffer: framing, torn tails, rotation, checkpointed draining."""

import asyncio
import os
import random
import struct
import threading
import zlib

from collector.buffer import wal
from collector.buffer.drain import BufferReader
from collector.buffer.wal import WriteAheadBuffer, frame, list_segments, read_records


def test_records_round_trip_and_torn_tail_is_ignored(tmp_path):
    p = tmp_path / "w0-000000000001.wal"
    p.write_bytes(frame(b'{"a":1}') + frame(b'{"a":2}') + frame(b'{"a":3}')[:-2])
    assert [r.payload for r in read_records(p)] == [b'{"a":1}', b'{"a":2}']


def test_the_checksum_is_zlibs_crc32_computed_by_zlib_ng(tmp_path):
    """Records framed with zlib's crc32 (buffers written before zlib-ng) read back, and the
    buffer frames with the same values; the faster implementation is the one in use."""
    assert wal.crc32.__module__.startswith("zlib_ng")
    rnd = random.Random(5)
    payloads = [rnd.randbytes(n) for n in (0, 1, 7, 64, 700, 14_600, 100_003)]
    for data in payloads:
        assert frame(data) == struct.pack("<II", len(data), zlib.crc32(data)) + data
    p = tmp_path / "w0-000000000001.wal"
    p.write_bytes(b"".join(struct.pack("<II", len(d), zlib.crc32(d)) + d for d in payloads))
    assert [r.payload for r in read_records(p)] == payloads
    reader = BufferReader(tmp_path)
    batch = reader.next_batch(10**9)
    assert batch is not None and batch.ranges == [(p.name, 0, p.stat().st_size)]


def test_corrupt_record_stops_reading(tmp_path):
    p = tmp_path / "w0-000000000001.wal"
    good, bad = frame(b"one"), bytearray(frame(b"two"))
    bad[-1] ^= 0xFF
    p.write_bytes(good + bytes(bad) + frame(b"three"))
    assert [r.payload for r in read_records(p)] == [b"one"]


def test_group_commit_appends_everything(tmp_path):
    wal = WriteAheadBuffer(tmp_path, fsync="always")

    async def many():
        await asyncio.gather(*(wal.append(f'{{"n":{i}}}'.encode()) for i in range(200)))

    # in a thread of its own: other tests (Playwright) may leave an event loop on this one
    t = threading.Thread(target=lambda: asyncio.run(many()))
    t.start()
    t.join()
    wal.close()
    payloads = [r.payload for _, _, p in list_segments(tmp_path) for r in read_records(p)]
    assert sorted(payloads) == sorted(f'{{"n":{i}}}'.encode() for i in range(200))
    assert 1 <= wal.fsync_count <= 3  # all 200 share one or two fsyncs


def test_segments_rotate_and_restart_opens_a_new_one(tmp_path):
    wal = WriteAheadBuffer(tmp_path, fsync="off", segment_bytes=100)
    for i in range(10):
        wal.append_nowait(b"x" * 40 + str(i).encode())
    wal.close()
    n_before = len(list_segments(tmp_path))
    assert n_before >= 4
    wal2 = WriteAheadBuffer(tmp_path, fsync="off")
    wal2.append_nowait(b"after restart")
    wal2.close()
    segs = list_segments(tmp_path)
    assert len(segs) == n_before + 1
    assert [r.payload for r in read_records(segs[-1][2])] == [b"after restart"]


def test_reader_batches_commit_and_garbage_collect(tmp_path):
    wal = WriteAheadBuffer(tmp_path, fsync="off", segment_bytes=200)
    for i in range(30):
        wal.append_nowait(f'{{"i":{i}}}\n{{"i":{i}}}'.encode())  # 2 rows a record
    reader = BufferReader(tmp_path)
    seen = []
    while (b := reader.next_batch(max_rows=8)) is not None:
        assert b.rows <= 8 + 1
        reader.begin(b)
        seen += b.payload.split(b"\n")
        reader.commit(b)
    assert len(seen) == 60
    # only the segment still open for appends remains
    assert len(list_segments(tmp_path)) == 1
    assert reader.backlog_bytes() == 0
    wal.close()


def test_inflight_batch_is_replayed_verbatim_after_a_crash(tmp_path):
    wal = WriteAheadBuffer(tmp_path, fsync="off")
    for i in range(5):
        wal.append_nowait(f'{{"i":{i}}}'.encode())
    r1 = BufferReader(tmp_path)
    b = r1.next_batch(max_rows=3)
    r1.begin(b)  # crash after this point: the insert may or may not have happened
    for i in range(5, 8):
        wal.append_nowait(f'{{"i":{i}}}'.encode())
    r2 = BufferReader(tmp_path)  # a restart
    again = r2.pending_inflight()
    assert again is not None
    assert (again.token, again.payload) == (b.token, b.payload)
    r2.commit(again)
    rest = r2.next_batch(max_rows=100)
    got = [int(x[5:-1]) for x in (b.payload + b"\n" + rest.payload).split(b"\n")]
    assert got == list(range(8))
    wal.close()
    assert os.path.exists(tmp_path / "checkpoint.json")


def test_records_for_other_tables_are_grouped_by_table(tmp_path):
    from collector.buffer.wal import table_record

    wal = WriteAheadBuffer(tmp_path, fsync="off")
    wal.append_nowait([b'{"e":1}', table_record("footpath.quarantine", b'{"q":1}\n{"q":2}')])
    wal.append_nowait(b'{"e":2}')
    wal.close()
    b = BufferReader(tmp_path).next_batch(100)
    assert b.payloads == {"footpath.events": b'{"e":1}\n{"e":2}', "footpath.quarantine": b'{"q":1}\n{"q":2}'}


def test_a_restart_after_everything_was_drained_never_reuses_a_segment_name(tmp_path):
    """Drained segments are deleted; a new one with an old name would be read from the old
    checkpoint offset and its records skipped."""
    wal = WriteAheadBuffer(tmp_path, fsync="off")
    wal.append_nowait(b'{"n":1}')
    wal.close()
    reader = BufferReader(tmp_path)
    b = reader.next_batch(100)
    reader.begin(b)
    reader.commit(b)
    reader.collect_garbage(closed_series="w0")
    assert list_segments(tmp_path) == []
    wal2 = WriteAheadBuffer(tmp_path, fsync="off")  # restart
    wal2.append_nowait(b'{"n":2}')
    wal2.close()
    again = BufferReader(tmp_path).next_batch(100)
    assert again is not None and again.payload == b'{"n":2}'


def test_an_fsync_does_not_wait_behind_the_event_loops_default_executor(tmp_path):
    """Found in QA: the fsync of an acknowledgement ran in the loop's default executor,
    where /v1/sql and report queries run too; with its threads all busy a one-message
    batch waited 18 s.  Here every default-executor thread is held until the append is
    done: the append must complete anyway."""
    buf = WriteAheadBuffer(tmp_path, fsync="always")
    release = threading.Event()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        held = [loop.run_in_executor(None, release.wait) for _ in range(64)]  # more than the pool has
        try:
            await asyncio.wait_for(buf.append(b"one message"), timeout=20)
        finally:
            release.set()
            await asyncio.gather(*held)

    t = threading.Thread(target=lambda: asyncio.run(main()))  # a loop of its own (see above)
    t.start()
    t.join()
    buf.close()
    assert [r.payload for _, _, p in list_segments(tmp_path) for r in read_records(p)] == [b"one message"]
